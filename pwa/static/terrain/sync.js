// The sync engine (docs/sync.md): push the queue in order, upload photos in resumable chunks,
// pull the changes. Runs in the page and in the service worker (Background Sync), one at a time
// (Web Locks). A change leaves the phone only when the server has confirmed it.
import * as db from "./db.js";

const BATCH = 50;
const CHUNK = 256 * 1024;
const bus = typeof BroadcastChannel === "function" ? new BroadcastChannel("ronde-sync") : null;

export const ME = crypto.randomUUID(); // this page or worker: its own messages come back by the bus

export function emit(type, detail = {}) {
  const message = { type, from: ME, ...detail };
  if (bus) bus.postMessage(message);
  if (typeof self.dispatchEvent === "function" && typeof CustomEvent === "function") {
    self.dispatchEvent(new CustomEvent("ronde-sync", { detail: message }));
  }
}

export class SyncStop extends Error {
  constructor(kind, message) {
    super(message || kind);
    this.kind = kind; // "offline", "login", "revoked", "server"
  }
}

export async function deviceId() {
  let id = await db.meta("device");
  if (!id) {
    id = crypto.randomUUID();
    await db.meta("device", id);
  }
  return id;
}

async function call(path, { method = "GET", json, blob, token, headers = {} } = {}) {
  const device = await deviceId();
  const init = {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: { "X-Ronde-Device": device, Accept: "application/json", ...headers },
  };
  if (token) init.headers["X-CSRFToken"] = token;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (blob !== undefined) {
    init.headers["Content-Type"] = "application/octet-stream";
    init.body = blob;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new SyncStop("offline", "Pas de réseau.");
  }
  if (response.status === 410) {
    await db.wipe();
    await db.remove("meta", "device"); // logging in again makes a new phone for the admin
    emit("revoked");
    throw new SyncStop("revoked", "Ce téléphone a été révoqué : ses données sont effacées.");
  }
  if (response.status === 401 || response.status === 403) {
    // A stale CSRF token or an expired session: log in again, never a rejection.
    throw new SyncStop("login", "Reconnectez-vous pour envoyer vos changements.");
  }
  if (response.status >= 500) throw new SyncStop("server", "Le serveur ne répond pas correctement.");
  return response;
}

export async function session() {
  const response = await call("/api/sync/session");
  return response.json();
}

export async function login(username, password) {
  const { token } = await session();
  const response = await fetch("/api/sync/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify({ username, password }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || "Connexion impossible.");
  return adoptUser(body);
}

export async function logout() {
  try {
    const { token } = await session();
    await call("/api/sync/logout", { method: "POST", json: {}, token });
  } catch (error) {
    // offline: the local wipe is what matters; the session cookie expires on its own
  }
}

// Another agent on the same phone: their own scope is pulled afresh; the queue stays, each
// change stamped with its author and sent only under that author's session.
export async function adoptUser(current) {
  const previous = await db.meta("user");
  const user = { id: current.user_id, name: current.display_name };
  if (!previous || previous.id !== user.id) {
    await db.meta("cursor", "");
    await db.meta("last_sync", null); // the previous agent's sync says nothing of this one's
    await db.meta("user", user);
  }
  return user;
}

// What waits on the phone: the agent's own changes and photos, what the server refused
// ("problems"), and what waits for another agent of a shared phone ("others").
export async function pendingCount(userId) {
  const items = await db.queued();
  const photos = await db.all("photos");
  const mine = (x) => userId === undefined || x.author === userId;
  return {
    changes: items.filter((i) => i.state === "pending" && mine(i)).length,
    problems: items.filter((i) => i.state !== "pending" && mine(i)).length + photos.filter((p) => p.state === "rejected" && mine(p)).length,
    photos: photos.filter((p) => p.state === "pending" && mine(p)).length,
    others: items.filter((i) => !mine(i)).length + photos.filter((p) => p.state !== "sent" && !mine(p)).length,
  };
}

async function pushQueue(user, token) {
  for (;;) {
    const items = (await db.queued()).filter((i) => i.state === "pending" && i.author === user);
    if (!items.length) return;
    const batch = items.slice(0, BATCH);
    const response = await call("/api/sync/push", {
      method: "POST",
      token,
      json: {
        mutations: batch.map((i) => ({ id: i.id, type: i.type, record: i.record, author: i.author, data: i.data })),
      },
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new SyncStop("server", body.message || "Envoi refusé.");
    }
    const { answers } = await response.json();
    for (const [n, answer] of answers.entries()) {
      const item = batch[n];
      const outcome = answer.status === "duplicate" ? answer.first : answer.status;
      if (outcome === "applied") await db.settle(item.seq, null);
      else if (outcome === "rejected" || outcome === "conflict") {
        await db.settle(item.seq, { state: outcome, reason: answer.reason || "", current: answer.current || null });
        emit("problem", { item: item.seq });
      } else if (answer.status === "not_yours") {
        await db.settle(item.seq, { state: "pending" });
        return; // the rest waits for its author
      }
    }
    emit("queue");
  }
}

async function uploadPhotos(user, token) {
  const photos = (await db.all("photos")).filter((p) => p.state === "pending" && p.author === user);
  for (const photo of photos) {
    const base = `/api/sync/media/${photo.id}`;
    const kind = photo.kind || "visit.photo";
    const owner = photo.record || photo.visit;
    const query = `?kind=${encodeURIComponent(kind)}&record=${encodeURIComponent(owner)}&answer=${encodeURIComponent(photo.answer || "")}`;
    let received = photo.sent || 0;
    if (received) {
      // After a drop: ask the server what it holds, and resume from there.
      const state = await call(base);
      if (state.ok) received = (await state.json()).received;
      else received = 0;
    }
    const total = photo.blob.size;
    let refusals = 0;
    while (received < total) {
      const end = Math.min(received + CHUNK, total) - 1;
      const response = await call(base + query, {
        method: "PUT",
        token,
        blob: photo.blob.slice(received, end + 1),
        headers: { "Content-Range": `bytes ${received}-${end}/${total}` },
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 422) {
        await db.put("photos", { ...photo, state: "rejected", reason: body.message || "Photo refusée." });
        emit("problem", { photo: photo.id });
        break;
      }
      if (response.status === 400) {
        // A piece cut short on the way: ask where the server stands and send it again.
        if (++refusals > 3) throw new SyncStop("server", body.message);
        const state = await call(base);
        received = state.ok ? (await state.json()).received : 0;
        continue;
      }
      if (!response.ok) throw new SyncStop("server", body.message);
      received = typeof body.received === "number" ? body.received : received;
      await db.put("photos", { ...photo, sent: received });
    }
    if (received >= total) {
      // The server holds every byte: the photo may leave the phone (its thumbnail stays).
      const { blob, sent, ...kept } = photo;
      await db.put("photos", { ...kept, state: "sent", size: total });
    }
    emit("queue");
  }
}

async function pullChanges() {
  for (;;) {
    const cursor = (await db.meta("cursor")) || "";
    const scope = (await db.meta("scope")) || [];
    const known = cursor.startsWith("d.") ? scope.join(",") : "";
    const params = new URLSearchParams({ cursor, known });
    const response = await call(`/api/sync/pull?${params}`);
    if (!response.ok) {
      if (response.status === 400) {
        await db.meta("cursor", "");
        continue; // a cursor the server no longer understands: reload everything
      }
      throw new SyncStop("server");
    }
    const page = await response.json();
    await db.applyPage(page);
    if (!page.more) return;
  }
}

async function run() {
  emit("running");
  const current = await session();
  if (!current.authenticated) throw new SyncStop("login", "Reconnectez-vous pour envoyer vos changements.");
  await adoptUser(current);
  await pushQueue(current.user_id, current.token);
  await uploadPhotos(current.user_id, current.token);
  await pullChanges();
  await db.meta("last_sync", new Date().toISOString());
  emit("synced");
}

// One sync at a time for the whole origin: page and service worker share the lock.
export async function syncOnce() {
  const locks = self.navigator && self.navigator.locks;
  try {
    if (locks) await locks.request("ronde-sync", run);
    else await run();
    return { ok: true };
  } catch (error) {
    const kind = error instanceof SyncStop ? error.kind : "server";
    emit("stopped", { kind, message: error.message });
    if (kind === "login") emit("login-needed");
    return { ok: false, kind, message: error.message };
  }
}
