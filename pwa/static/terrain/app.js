// The agents' app: screens, routing and the glue between what the agent does, the phone's
// database and the sync engine. French, one hand, 48 px targets; everything works offline.
import * as db from "./db.js";
import * as sync from "./sync.js";
import { compress } from "./photos.js";

const view = document.getElementById("view");
const banners = document.getElementById("banners");
const badge = document.getElementById("sync-badge");
const script = document.getElementById("app-script");

let user = null; // { id, name }
let storageOk = true;
let syncing = false;
let failures = 0;
let retryTimer = null;
let running = false; // a sync is under way, here or in the service worker

// --- small DOM helpers (no innerHTML: data never becomes markup) -----------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function render(...nodes) {
  view.replaceChildren(...nodes);
  const title = view.querySelector("h1");
  if (title) {
    title.setAttribute("tabindex", "-1");
    title.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

function banner(id, text, action) {
  let el = document.getElementById(id);
  if (!text) {
    if (el) el.remove();
    return;
  }
  if (!el) {
    el = h("div", { id, class: "banner", role: "status" });
    banners.append(el);
  }
  el.replaceChildren(h("p", null, text), action || "");
}

const uuid = () => crypto.randomUUID();
const dateFr = (iso) => (iso ? new Date(iso).toLocaleDateString("fr-FR", { weekday: "long", day: "numeric", month: "long" }) : "");
const timeFr = (iso) => (iso ? new Date(iso).toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" }) : "");

// --- data -----------------------------------------------------------------------------------

async function records(t) {
  return db.all("records", "t", t);
}

async function record(t, id) {
  return db.get("records", [t, String(id)]);
}

async function residenceName(id) {
  const r = await record("residence", id);
  return r ? r.d.name : `Résidence ${id}`;
}

async function gridFor(residenceId) {
  const site = await record("site", residenceId);
  const grids = await records("grid");
  const wanted = site && site.d.grid;
  const candidates = grids.filter((g) => (wanted ? g.d.grid === wanted : g.d.category === "cleaning"));
  candidates.sort((a, b) => b.d.number - a.d.number);
  return candidates[0] || null;
}

const FACTOR = { compliant: 1, minor: 0.5, major: 0 };

export function score(grid, answers) {
  let points = 0;
  let maximum = 0;
  let criticalFailed = false;
  const zones = grid.d.zones.map((zone) => {
    let zp = 0;
    let zm = 0;
    for (const item of zone.items) {
      const answer = answers[item.id];
      if (!answer || answer.value === "na") continue;
      zp += item.weight * FACTOR[answer.value];
      zm += item.weight;
      if (item.critical && answer.value !== "compliant") criticalFailed = true;
    }
    points += zp;
    maximum += zm;
    return { name: zone.name, percent: zm ? Math.round((zp * 1000) / zm) / 10 : null };
  });
  const percent = maximum ? Math.round((points * 1000) / maximum) / 10 : null;
  const passed = percent !== null && !criticalFailed && percent >= grid.d.threshold;
  return { percent, zones, criticalFailed, passed };
}

async function enqueue(type, recordId, data, draft, photos) {
  await db.enqueue({ id: uuid(), type, record: String(recordId), author: user.id, data }, draft, photos);
  await refreshBadge();
  requestSync();
  registerBackgroundSync();
}

async function registerBackgroundSync() {
  try {
    const registration = await navigator.serviceWorker.ready;
    if (registration.sync) await registration.sync.register("ronde-sync");
  } catch (error) {
    // no Background Sync (Safari): the page syncs on start, reconnection and the button
  }
}

// --- sync status --------------------------------------------------------------------------------

async function refreshBadge() {
  if (!storageOk) return;
  const counts = await sync.pendingCount(user ? user.id : undefined);
  const last = await db.meta("last_sync");
  const waiting = counts.changes + counts.photos;
  let text = waiting ? `${waiting} en attente` : "À jour";
  if (running) text = waiting ? `Envoi… ${waiting} en attente` : "Synchronisation…";
  if (counts.problems) text += ` · ${counts.problems} à voir`;
  text += last ? ` · ${timeFr(last)}` : " · jamais synchronisé";
  badge.textContent = text;
  badge.classList.toggle("waiting", waiting > 0);
  badge.classList.toggle("problem", counts.problems > 0);
}

function requestSync() {
  if (syncing || !user) return;
  syncing = true;
  clearTimeout(retryTimer);
  sync.syncOnce().then(async (result) => {
    syncing = false;
    if (result.ok) {
      failures = 0;
      banner("login-banner", null);
      banner("sync-banner", null);
      await cleanDrafts();
    } else if (result.kind === "offline" || result.kind === "server") {
      // Exponential backoff with jitter, at most five minutes.
      const delay = Math.min(300000, 2000 * 2 ** failures++) * (0.75 + Math.random() / 2);
      retryTimer = setTimeout(requestSync, delay);
      banner(
        "sync-banner",
        result.kind === "offline"
          ? "Hors ligne : vos saisies restent sur le téléphone et partiront au retour du réseau."
          : `${result.message} Vos saisies restent sur le téléphone ; nouvel essai dans ${Math.round(delay / 1000)} s.`,
      );
    }
    await refreshBadge();
    if (!document.querySelector("[data-editing]")) route();
  });
}

// A draft goes once the server holds everything about it.
async function cleanDrafts() {
  const queue = await db.queued();
  const photos = await db.all("photos");
  for (const draft of await db.all("drafts")) {
    const waiting =
      queue.some((q) => q.record === draft.id) || photos.some((p) => (p.record || p.visit) === draft.id && p.state !== "sent");
    if (waiting) continue;
    if (draft.kind === "visit") {
      const server = await record("visit", draft.id);
      if (draft.status === "finished" && (!server || server.d.status === "done")) await db.remove("drafts", draft.id);
    } else {
      await db.remove("drafts", draft.id);
    }
  }
}

// --- screens --------------------------------------------------------------------------------

let farewell = null; // [title, text] shown above the login form after a revocation

function loginForm(message, title = "Connexion") {
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        error.textContent = "";
        try {
          user = await sync.login(data.get("username"), data.get("password"));
          banner("login-banner", null);
          await refreshBadge(); // this agent's own count, at once
          location.hash = "#/";
          route();
          requestSync();
        } catch (e) {
          error.textContent = navigator.onLine ? e.message : "Pas de réseau : la connexion se fera au retour du signal.";
        }
      },
    },
    h("label", { for: "username" }, "Identifiant"),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true, autocapitalize: "none", "data-editing": true }),
    h("label", { for: "password" }, "Mot de passe"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    error,
    h("button", { type: "submit", class: "primary" }, "Se connecter"),
  );
  return [h("h1", null, title), message ? h("p", null, message) : "", form];
}

async function roundsScreen() {
  const today = new Date().toISOString().slice(0, 10);
  // Another agent's work waiting on a shared phone is theirs: not shown, never sent by this one.
  const drafts = (await db.all("drafts")).filter((d) => d.kind === "visit" && d.author === user.id);
  const draftIds = new Set(drafts.map((d) => d.id));
  const server = (await records("visit")).filter((v) => !draftIds.has(v.id));
  const names = {};
  for (const r of await records("residence")) names[r.id] = r.d.name;
  const link = (href, title, meta, cls) =>
    h("li", null, h("a", { href, class: `card ${cls || ""}` }, h("span", { class: "card-title" }, title), h("span", { class: "meta" }, meta)));
  const inProgress = drafts.filter((d) => d.status === "in_progress");
  const finished = drafts.filter((d) => d.status === "finished");
  const todo = server
    .filter((v) => ["planned", "missed"].includes(v.d.status) || (v.d.status === "in_progress" && v.d.agent === user.id))
    .sort((a, b) => (a.d.planned_for || "").localeCompare(b.d.planned_for || ""));
  const done = server.filter((v) => v.d.status === "done").sort((a, b) => (b.d.finished_at || "").localeCompare(a.d.finished_at || ""));
  return [
    h("h1", null, "Tournées"),
    h("div", { class: "row" },
      h("a", { href: "#/nouvelle", class: "button primary" }, "Nouvelle visite"),
      h("a", { href: "#/signaler", class: "button" }, "Signaler un problème")),
    inProgress.length ? h("h2", null, "En cours") : "",
    inProgress.length
      ? h("ul", { class: "cards" }, inProgress.map((d) => link(`#/visite/${d.id}/0`, names[d.residence] || "", `Commencée à ${timeFr(d.started_at)}`)))
      : "",
    h("h2", null, "À faire"),
    todo.length
      ? h(
          "ul",
          { class: "cards" },
          todo.map((v) =>
            link(
              `#/visite/${v.id}/0`,
              names[v.d.residence] || "",
              `${v.d.planned_for === today ? "Aujourd’hui" : dateFr(v.d.planned_for)}${v.d.late || v.d.status === "missed" ? " · en retard" : ""}${v.d.joint ? " · contradictoire" : ""}`,
              v.d.late || v.d.status === "missed" ? "late" : "",
            ),
          ),
        )
      : h("p", null, "Aucune visite prévue cette semaine."),
    finished.length ? h("h2", null, "Terminées, en attente d’envoi") : "",
    finished.length ? h("ul", { class: "cards" }, finished.map((d) => link(`#/visite/${d.id}/fin`, names[d.residence] || "", "Sera envoyée au retour du réseau"))) : "",
    done.length ? h("h2", null, "Terminées (7 jours)") : "",
    done.length ? h("ul", { class: "cards" }, done.map((v) => h("li", { class: "card" }, h("span", { class: "card-title" }, names[v.d.residence] || ""), h("span", { class: "meta" }, `${dateFr(v.d.finished_at)} · ${v.d.score ?? "—"} %`)))) : "",
  ];
}

async function newVisitScreen() {
  const residences = (await records("residence")).sort((a, b) => a.d.name.localeCompare(b.d.name, "fr"));
  const entrances = await records("entrance");
  const entranceSelect = h("select", { id: "entrance", name: "entrance" });
  const fillEntrances = (residenceId) => {
    entranceSelect.replaceChildren(
      h("option", { value: "" }, "Toute la résidence"),
      ...entrances.filter((e) => String(e.d.residence) === String(residenceId)).map((e) => h("option", { value: e.id }, e.d.name)),
    );
  };
  const residenceSelect = h(
    "select",
    { id: "residence", name: "residence", required: true, onchange: (e) => fillEntrances(e.target.value) },
    residences.map((r) => h("option", { value: r.id }, r.d.name)),
  );
  if (residences.length) fillEntrances(residences[0].id);
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: async (event) => {
        event.preventDefault();
        const residence = Number(residenceSelect.value);
        const grid = await gridFor(residence);
        if (!grid) {
          error.textContent = "Aucune grille de contrôle sur le téléphone : synchronisez d’abord.";
          return;
        }
        const id = uuid();
        const entrance = entranceSelect.value ? Number(entranceSelect.value) : null;
        const joint = form.joint.checked;
        const draft = {
          id, kind: "visit", residence, entrance, joint, grid: Number(grid.id), answers: {}, photos: [],
          status: "in_progress", author: user.id, started_at: new Date().toISOString(),
        };
        await enqueue("visit.start", id, { residence, entrance, joint, grid: Number(grid.id) }, draft);
        location.hash = `#/visite/${id}/0`;
      },
    },
    h("label", { for: "residence" }, "Résidence"),
    residenceSelect,
    h("label", { for: "entrance" }, "Entrée"),
    entranceSelect,
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "joint", id: "joint" }), " Contrôle contradictoire avec le prestataire"),
    error,
    h("button", { type: "submit", class: "primary" }, "Commencer la visite"),
  );
  return [h("h1", null, "Nouvelle visite"), residences.length ? form : h("p", null, "Aucune résidence sur le téléphone : synchronisez d’abord.")];
}

async function visitDraft(id) {
  let draft = await db.get("drafts", id);
  if (draft) return draft;
  const server = await record("visit", id);
  if (!server) return null;
  // A planned visit: starting it queues the start.
  draft = {
    id, kind: "visit", residence: server.d.residence, entrance: server.d.entrance, joint: server.d.joint,
    grid: server.d.grid, answers: {}, photos: [], status: "in_progress", author: user.id, started_at: new Date().toISOString(),
  };
  await enqueue("visit.start", id, {}, draft);
  return draft;
}

const VALUES = [
  ["compliant", "Conforme"],
  ["minor", "Défaut mineur"],
  ["major", "Défaut majeur"],
  ["na", "Sans objet"],
];

async function visitScreen(id, zoneIndex) {
  const draft = await visitDraft(id);
  if (!draft) return [h("h1", null, "Visite introuvable"), h("p", null, "Synchronisez puis réessayez.")];
  const grid = await record("grid", draft.grid);
  if (!grid) return [h("h1", null, "Grille absente"), h("p", null, "La grille de cette visite n’est pas encore sur le téléphone : synchronisez.")];
  if (draft.status === "finished") return finishScreen(id);
  const zones = grid.d.zones;
  const index = Math.max(0, Math.min(zones.length - 1, Number(zoneIndex) || 0));
  const zone = zones[index];
  const result = score(grid, draft.answers);
  const running = h("p", { class: "score", "aria-live": "polite" }, `Note : ${result.percent ?? "—"} %${result.criticalFailed ? " · point critique non conforme" : ""}`);
  const photos = await db.all("photos");

  const save = async (item, patch) => {
    const current = draft.answers[item.id] || { id: uuid(), value: null, comment: "", cause: "" };
    const answer = { ...current, ...patch };
    if (!["minor", "major"].includes(answer.value)) answer.cause = "";
    else if (!answer.cause) answer.cause = "service";
    draft.answers[item.id] = answer;
    await enqueue(
      "visit.answers",
      id,
      { answers: [{ id: answer.id, item: item.id, value: answer.value, comment: answer.comment, cause: answer.cause }] },
      draft,
    );
  };

  const itemBlock = (item) => {
    const answer = draft.answers[item.id];
    const block = h("fieldset", { class: "item" });
    const legend = h("legend", null, item.label, item.critical ? h("span", { class: "tag" }, "critique") : "");
    const buttons = h(
      "div",
      { class: "choices" },
      VALUES.map(([value, label]) =>
        h(
          "button",
          {
            type: "button",
            class: `choice ${value}`,
            "aria-pressed": answer && answer.value === value ? "true" : "false",
            onclick: async () => {
              await save(item, { value });
              route();
            },
          },
          label,
        ),
      ),
    );
    block.append(legend, buttons);
    if (answer && ["minor", "major"].includes(answer.value)) {
      const causeId = `cause-${item.id}`;
      block.append(
        h("label", { for: causeId }, "Cause"),
        h(
          "select",
          { id: causeId, onchange: (e) => save(item, { cause: e.target.value }) },
          h("option", { value: "service", selected: answer.cause !== "damage" }, "Prestation non faite ou mal faite"),
          h("option", { value: "damage", selected: answer.cause === "damage" }, "Dégradation après la prestation"),
        ),
      );
      const commentId = `comment-${item.id}`;
      block.append(
        h("label", { for: commentId }, "Commentaire"),
        h("textarea", { id: commentId, rows: "2", "data-editing": true, onchange: (e) => save(item, { comment: e.target.value }) }, answer.comment || ""),
      );
      const photoId = `photo-${item.id}`;
      const mine = draft.photos.filter((p) => p.item === item.id);
      block.append(
        h(
          "div",
          { class: "thumbs" },
          mine.map((p) => {
            const stored = photos.find((x) => x.id === p.id);
            return h("img", { src: p.thumb, alt: `Photo : ${item.label}`, class: stored && stored.state === "sent" ? "sent" : "" });
          }),
        ),
        h("label", { for: photoId, class: "button" }, "Ajouter une photo"),
        h("input", {
          id: photoId,
          type: "file",
          accept: "image/*",
          capture: "environment",
          class: "visually-hidden",
          onchange: async (e) => {
            const file = e.target.files[0];
            if (!file) return;
            try {
              const { blob, thumb } = await compress(file);
              const photo = { id: uuid(), visit: id, answer: answer.id, author: user.id, blob, thumb, sent: 0, state: "pending" };
              await db.put("photos", photo);
              draft.photos.push({ id: photo.id, item: item.id, thumb });
              await db.put("drafts", draft);
              await refreshBadge();
              requestSync();
              registerBackgroundSync();
              route();
            } catch (error) {
              alert(error.message);
            }
          },
        }),
      );
    }
    return block;
  };

  const nav = h(
    "div",
    { class: "row" },
    index > 0 ? h("a", { class: "button", href: `#/visite/${id}/${index - 1}` }, "Zone précédente") : "",
    index < zones.length - 1
      ? h("a", { class: "button primary", href: `#/visite/${id}/${index + 1}` }, "Zone suivante")
      : h("a", { class: "button primary", href: `#/visite/${id}/fin` }, "Terminer la visite"),
  );
  return [
    h("p", { class: "breadcrumb" }, await residenceName(draft.residence)),
    h("h1", null, `Zone ${index + 1} / ${zones.length} : ${zone.name}`),
    running,
    h("div", { class: "stack" }, zone.items.map(itemBlock)),
    nav,
  ];
}

function signaturePad() {
  const canvas = h("canvas", { width: "600", height: "240", class: "signature", id: "signature", "aria-label": "Zone de signature" });
  const context = canvas.getContext("2d");
  context.lineWidth = 4;
  context.lineCap = "round";
  context.strokeStyle = "#111";
  let drawing = false;
  let drawn = false;
  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  };
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    context.beginPath();
    context.moveTo(...point(event));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    context.lineTo(...point(event));
    context.stroke();
    drawn = true;
  });
  canvas.addEventListener("pointerup", () => { drawing = false; });
  const clear = h("button", { type: "button", onclick: () => { context.clearRect(0, 0, canvas.width, canvas.height); drawn = false; } }, "Effacer la signature");
  return { canvas, clear, value: () => (drawn ? canvas.toDataURL("image/png") : null) };
}

async function finishScreen(id) {
  const draft = await db.get("drafts", id);
  if (!draft) return roundsScreen();
  const grid = await record("grid", draft.grid);
  const result = score(grid, draft.answers);
  const items = grid.d.zones.flatMap((z) => z.items);
  const missing = items.filter((i) => !draft.answers[i.id]).length;
  const summary = [
    h("p", { class: "score" }, `Note : ${result.percent ?? "—"} % · ${result.passed ? "conforme" : "non conforme"}`),
    h("ul", { class: "zones" }, result.zones.map((z) => h("li", null, `${z.name} : ${z.percent ?? "—"} %`))),
  ];
  if (draft.status === "finished") {
    return [h("h1", null, "Visite terminée"), ...summary, h("p", null, "Elle part au serveur dès que le réseau le permet."), h("a", { class: "button", href: "#/" }, "Retour aux tournées")];
  }
  const error = h("p", { class: "error", role: "alert" });
  const pad = draft.joint ? signaturePad() : null;
  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = {};
        if (draft.joint) {
          data.signatory = form.signatory.value.trim();
          data.signature = pad.value();
          if (!data.signatory || !data.signature) {
            error.textContent = "Le contrôle contradictoire demande le nom et la signature du représentant du prestataire.";
            return;
          }
        }
        draft.status = "finished";
        draft.finished_at = new Date().toISOString();
        await enqueue("visit.finish", id, data, draft);
        location.hash = "#/";
      },
    },
    draft.joint ? [h("label", { for: "signatory" }, "Nom du représentant du prestataire"), h("input", { id: "signatory", name: "signatory", required: true, autocomplete: "name" }), h("p", { id: "signature-help" }, "Signature du représentant (tracez avec le doigt) :"), pad.canvas, pad.clear] : "",
    error,
    h("button", { type: "submit", class: "primary", disabled: missing > 0 }, "Terminer et envoyer"),
  );
  return [
    h("h1", null, "Fin de la visite"),
    ...summary,
    missing ? h("p", { class: "error" }, `${missing} point(s) sans réponse : répondez-y ou marquez-les « Sans objet ».`) : "",
    missing ? h("a", { class: "button", href: `#/visite/${id}/0` }, "Revenir aux zones") : "",
    form,
  ];
}

async function reworksScreen() {
  const reworks = (await records("rework")).sort((a, b) => a.d.deadline.localeCompare(b.d.deadline));
  const drafts = new Map((await db.all("drafts")).filter((d) => d.kind === "rework").map((d) => [d.id, d]));
  const names = {};
  for (const r of await records("residence")) names[r.id] = r.d.name;
  return [
    h("h1", null, "Reprises"),
    reworks.length
      ? h(
          "ul",
          { class: "cards" },
          reworks.map((r) =>
            h(
              "li",
              null,
              h(
                "a",
                { href: `#/reprise/${r.id}`, class: `card ${r.d.late ? "late" : ""}` },
                h("span", { class: "card-title" }, `${names[r.d.residence] || ""} — ${r.d.item}`),
                h("span", { class: "meta" }, drafts.has(r.id) ? "Contre-visite enregistrée, en attente d’envoi" : `${r.d.status === "done" ? "Faite par le prestataire" : "Demandée"} · avant le ${dateFr(r.d.deadline)}`),
              ),
            ),
          ),
        )
      : h("p", null, "Aucune reprise ouverte dans votre secteur."),
  ];
}

async function reworkScreen(id) {
  const rework = await record("rework", id);
  if (!rework) return [h("h1", null, "Reprise introuvable"), h("a", { class: "button", href: "#/reprises" }, "Retour")];
  const draft = await db.get("drafts", id);
  const comment = h("textarea", { id: "recheck-comment", rows: "3", "data-editing": true });
  const decide = (lifted) => async () => {
    await enqueue("rework.recheck", id, { lifted, comment: comment.value }, { id, kind: "rework", lifted });
    location.hash = "#/reprises";
  };
  return [
    h("p", { class: "breadcrumb" }, await residenceName(rework.d.residence)),
    h("h1", null, rework.d.item),
    h("dl", null,
      h("dt", null, "Zone"), h("dd", null, rework.d.zone),
      h("dt", null, "Constat"), h("dd", null, rework.d.finding || "—"),
      h("dt", null, "Prestataire"), h("dd", null, rework.d.provider),
      h("dt", null, "Échéance"), h("dd", null, `${dateFr(rework.d.deadline)} ${timeFr(rework.d.deadline)}`),
      h("dt", null, "Réponse du prestataire"), h("dd", null, rework.d.provider_comment || (rework.d.status === "done" ? "Faite" : "Pas encore"))),
    draft
      ? h("p", { class: "notice" }, `Contre-visite enregistrée (${draft.lifted ? "levée" : "non levée"}), en attente d’envoi.`)
      : h("div", { class: "stack" },
          h("label", { for: "recheck-comment" }, "Commentaire de la contre-visite"),
          comment,
          h("div", { class: "row" },
            h("button", { type: "button", class: "primary", onclick: decide(true) }, "Levée"),
            h("button", { type: "button", class: "danger", onclick: decide(false) }, "Non levée"))),
  ];
}

const LABELS = {
  "visit.start": "Début de visite",
  "visit.answers": "Réponse",
  "visit.finish": "Fin de visite",
  "rework.recheck": "Contre-visite",
  "request.create": "Signalement",
};

// --- technical requests -------------------------------------------------------------------------

// The technical categories of tickets.models.CATEGORY_RULES, each with its default urgency
// (tests/test_tickets_sync.py checks that they match the server's).
const CATEGORIES = [
  ["leak", "Fuite", "urgent"],
  ["heating", "Chauffage", "normal"],
  ["hot_water", "Eau chaude", "normal"],
  ["intercom", "Interphone", "normal"],
  ["door", "Porte et serrure", "normal"],
  ["lift", "Ascenseur", "urgent"],
  ["electricity", "Électricité", "normal"],
  ["pests", "Nuisibles", "normal"],
  ["other", "Autre problème technique", "low"],
];
const CATEGORY_LABELS = Object.fromEntries(CATEGORIES.map(([value, label]) => [value, label]));
const URGENCIES = [
  ["urgent", "Urgente"],
  ["normal", "Normale"],
  ["low", "Peut attendre"],
];
const URGENCY_LABELS = Object.fromEntries(URGENCIES);
const STATUSES = {
  new: "Nouvelle",
  acknowledged: "Prise en compte",
  scheduled: "Planifiée",
  done: "Terminée",
  closed: "Clôturée",
  cancelled: "Annulée",
};
const OPEN = ["new", "acknowledged", "scheduled", "done"];
const RECENT_DAYS = 7;

const byName = (a, b) => a.localeCompare(b, "fr", { numeric: true });
const unitLabel = (u) =>
  `Logement porte ${u.d.door || u.d.code}${u.d.floor === null || u.d.floor === undefined ? "" : u.d.floor === 0 ? " · rez-de-chaussée" : ` · étage ${u.d.floor}`}`;

async function requestsScreen() {
  // Another agent's reports waiting on a shared phone are theirs: not shown here.
  const server = await records("request");
  const known = new Set(server.map((r) => r.id));
  const drafts = (await db.all("drafts")).filter((d) => d.kind === "request" && d.author === user.id && !known.has(d.id));
  const refused = new Set((await db.queued()).filter((q) => q.type === "request.create" && q.state !== "pending").map((q) => q.record));
  const names = {};
  for (const r of await records("residence")) names[r.id] = r.d.name;
  const since = Date.now() - RECENT_DAYS * 86400000;
  const open = server.filter((r) => OPEN.includes(r.d.status)).sort((a, b) => b.d.created_at.localeCompare(a.d.created_at));
  const closed = server
    .filter((r) => !OPEN.includes(r.d.status) && r.d.closed_at && Date.parse(r.d.closed_at) >= since)
    .sort((a, b) => b.d.closed_at.localeCompare(a.d.closed_at));
  const where = (r) => {
    const name = names[r.d.residence] || "";
    const place = name && r.d.place.startsWith(`${name} — `) ? r.d.place.slice(name.length + 3) : r.d.place;
    return place && place !== name ? `${name} · ${place}` : name || place;
  };
  const card = (r) =>
    h("li", { class: `card ${r.d.urgency === "urgent" && OPEN.includes(r.d.status) ? "late" : ""}` },
      h("span", { class: "card-title" }, `${r.d.reference} — ${CATEGORY_LABELS[r.d.category] || r.d.category}`),
      h("span", { class: "meta" }, where(r)),
      h("span", null, [
        STATUSES[r.d.status] || r.d.status,
        URGENCY_LABELS[r.d.urgency] ? URGENCY_LABELS[r.d.urgency].toLowerCase() : "",
        r.d.appointment ? `rendez-vous ${dateFr(r.d.appointment)} à ${timeFr(r.d.appointment)}` : "",
        `signalée le ${dateFr(r.d.created_at)}`,
      ].filter(Boolean).join(" · ")),
      r.d.description ? h("span", { class: "meta" }, r.d.description) : "");
  return [
    h("h1", null, "Demandes"),
    h("p", null, h("a", { href: "#/signaler", class: "button primary" }, "Signaler un problème")),
    drafts.length ? h("h2", null, "Signalements en attente d’envoi") : "",
    drafts.length
      ? h("ul", { class: "cards" }, drafts.map((d) =>
          h("li", { class: `card ${refused.has(d.id) ? "problem" : ""}` },
            h("span", { class: "card-title" }, `${CATEGORY_LABELS[d.category] || d.category} — ${names[d.residence] || ""}`),
            h("span", { class: "meta" }, d.place),
            h("span", null, [
              URGENCY_LABELS[d.urgency] || "",
              d.photos.length ? `${d.photos.length} photo${d.photos.length > 1 ? "s" : ""}` : "",
              refused.has(d.id) ? "refusé par le serveur" : "sera envoyé au retour du réseau",
            ].filter(Boolean).join(" · ")),
            refused.has(d.id) ? h("a", { href: "#/synchro", class: "button" }, "Voir pourquoi dans Synchro") : "")))
      : "",
    h("h2", null, "Demandes ouvertes du secteur"),
    open.length ? h("ul", { class: "cards" }, open.map(card)) : h("p", null, "Aucune demande ouverte dans votre secteur."),
    closed.length ? h("h2", null, `Clôturées (${RECENT_DAYS} jours)`) : "",
    closed.length ? h("ul", { class: "cards" }, closed.map(card)) : "",
  ];
}

async function reportScreen() {
  const residences = (await records("residence")).sort((a, b) => byName(a.d.name, b.d.name));
  if (!residences.length) return [h("h1", null, "Signaler un problème"), h("p", null, "Aucune résidence sur le téléphone : synchronisez d’abord.")];
  const buildings = Object.fromEntries((await records("building")).map((b) => [b.id, b]));
  const entrances = await records("entrance");
  const units = await records("unit");
  const equipment = await records("equipment");
  const photos = []; // { id, blob, thumb }: stored with the report, not before
  let urgencyTouched = false;

  const residenceSelect = h("select", { id: "report-residence", name: "residence", required: true },
    residences.map((r) => h("option", { value: r.id }, r.d.name)));
  const entranceSelect = h("select", { id: "report-entrance", name: "entrance" });
  const placeSelect = h("select", { id: "report-place", name: "place", "aria-describedby": "report-place-help" });
  const entranceLabel = (e) => {
    const building = buildings[String(e.d.building)];
    return building ? `${building.d.name} — ${e.d.name}` : e.d.name;
  };
  const fillPlaces = () => {
    const residence = residenceSelect.value;
    const entrance = entranceSelect.value ? entrances.find((e) => e.id === entranceSelect.value) : null;
    const here = entrance
      ? units.filter((u) => String(u.d.entrance) === entrance.id).sort((a, b) => (a.d.floor ?? 0) - (b.d.floor ?? 0) || byName(a.d.door || a.d.code, b.d.door || b.d.code))
      : [];
    const things = equipment
      .filter((q) => String(q.d.residence) === residence)
      .filter((q) => !entrance || String(q.d.entrance) === entrance.id
        || (q.d.entrance === null && (q.d.building === null || q.d.building === entrance.d.building)))
      .sort((a, b) => byName(a.d.name, b.d.name));
    placeSelect.replaceChildren(
      h("option", { value: "" }, entrance ? "Les parties communes de l’entrée" : "Les parties communes de la résidence"),
      here.length ? h("optgroup", { label: "Logements" }, here.map((u) => h("option", { value: `unit:${u.id}` }, unitLabel(u)))) : "",
      things.length ? h("optgroup", { label: "Équipements" }, things.map((q) => h("option", { value: `equipment:${q.id}` }, q.d.name))) : "",
    );
  };
  const fillEntrances = () => {
    const mine = entrances
      .filter((e) => String(e.d.residence) === residenceSelect.value)
      .sort((a, b) => byName(entranceLabel(a), entranceLabel(b)));
    entranceSelect.replaceChildren(
      h("option", { value: "" }, "Toute la résidence"),
      ...mine.map((e) => h("option", { value: e.id }, entranceLabel(e))),
    );
    fillPlaces();
  };
  residenceSelect.addEventListener("change", fillEntrances);
  entranceSelect.addEventListener("change", fillPlaces);
  fillEntrances();

  const urgencySelect = h("select", { id: "report-urgency", name: "urgency", onchange: () => { urgencyTouched = true; } },
    URGENCIES.map(([value, label]) => h("option", { value, selected: value === "normal" }, label)));
  const categorySelect = h("select", {
    id: "report-category",
    name: "category",
    required: true,
    onchange: () => {
      const rule = CATEGORIES.find(([value]) => value === categorySelect.value);
      if (rule && !urgencyTouched) urgencySelect.value = rule[2]; // the category's default
    },
  }, h("option", { value: "" }, "Choisir…"), CATEGORIES.map(([value, label]) => h("option", { value }, label)));
  const description = h("textarea", { id: "report-description", name: "description", rows: "4", required: true, maxlength: "4000" });
  const contactName = h("input", { id: "contact-name", name: "contact_name", autocomplete: "off", maxlength: "200" });
  const contactPhone = h("input", { id: "contact-phone", name: "contact_phone", type: "tel", inputmode: "tel", autocomplete: "off", maxlength: "32" });

  const thumbs = h("ul", { class: "thumbs photo-list", "aria-label": "Photos du signalement" });
  const showPhotos = () => {
    thumbs.replaceChildren(...photos.map((p, n) =>
      h("li", null,
        h("img", { src: p.thumb, alt: `Photo ${n + 1} du signalement` }),
        h("button", {
          type: "button",
          "aria-label": `Retirer la photo ${n + 1}`,
          onclick: () => { photos.splice(n, 1); showPhotos(); },
        }, "Retirer"))));
  };
  const photoInput = h("input", {
    id: "report-photo",
    type: "file",
    accept: "image/*",
    capture: "environment",
    class: "visually-hidden",
    onchange: async (event) => {
      const file = event.target.files[0];
      event.target.value = "";
      if (!file) return;
      try {
        const { blob, thumb } = await compress(file); // 1,600 px JPEG, on the phone
        photos.push({ id: uuid(), blob, thumb });
        showPhotos();
      } catch (error) {
        alert(error.message);
      }
    },
  });

  const error = h("p", { class: "error", role: "alert", id: "report-error" });
  const form = h(
    "form",
    {
      class: "stack",
      "data-editing": true, // a sync ending meanwhile does not redraw the form
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        const problems = [];
        if (!categorySelect.value) problems.push("Choisissez une catégorie.");
        if (description.value.trim().length < 3) problems.push("Décrivez le problème en quelques mots.");
        const digits = contactPhone.value.replace(/\D/g, "");
        if (contactPhone.value.trim() && (digits.length < 9 || digits.length > 15)) problems.push("Ce numéro de mobile semble incomplet.");
        error.textContent = problems.join(" ");
        if (problems.length) {
          (categorySelect.value ? description : categorySelect).focus();
          return;
        }
        const id = uuid();
        const residence = Number(residenceSelect.value);
        const entrance = entranceSelect.value ? entrances.find((e) => e.id === entranceSelect.value) : null;
        const [placeKind, placeId] = placeSelect.value ? placeSelect.value.split(":") : [null, null];
        const data = {
          residence,
          building: entrance ? entrance.d.building : null,
          entrance: entrance ? Number(entrance.id) : null,
          unit: placeKind === "unit" ? Number(placeId) : null,
          equipment: placeKind === "equipment" ? Number(placeId) : null,
          category: categorySelect.value,
          urgency: urgencySelect.value,
          description: description.value.trim(),
          contact_name: contactName.value.trim(),
          contact_phone: contactPhone.value.trim(),
        };
        const place = [entrance ? entranceLabel(entrance) : "Toute la résidence", placeSelect.value ? placeSelect.selectedOptions[0].textContent : ""]
          .filter(Boolean).join(" · ");
        const draft = {
          id, kind: "request", author: user.id, residence, place, category: data.category, urgency: data.urgency,
          created_at: new Date().toISOString(), photos: photos.map((p) => ({ id: p.id, thumb: p.thumb })),
        };
        const rows = photos.map((p) => ({
          id: p.id, kind: "request.photo", record: id, author: user.id, blob: p.blob, thumb: p.thumb, sent: 0, state: "pending",
        }));
        await enqueue("request.create", id, data, draft, rows);
        location.hash = "#/demandes";
      },
    },
    h("label", { for: "report-residence" }, "Résidence"),
    residenceSelect,
    h("label", { for: "report-entrance" }, "Bâtiment et entrée"),
    entranceSelect,
    h("label", { for: "report-place" }, "Logement ou équipement"),
    h("p", { id: "report-place-help", class: "meta" }, "Facultatif : laissez « parties communes » si le problème n’est pas chez un locataire ni sur un équipement."),
    placeSelect,
    h("label", { for: "report-category" }, "Catégorie"),
    categorySelect,
    h("label", { for: "report-urgency" }, "Urgence"),
    urgencySelect,
    h("label", { for: "report-description" }, "Description"),
    description,
    h("fieldset", { class: "item" },
      h("legend", null, "Personne à prévenir (facultatif)"),
      h("p", { class: "meta" }, "Elle recevra la référence de la demande par SMS, puis chaque étape."),
      h("label", { for: "contact-name" }, "Nom"),
      contactName,
      h("label", { for: "contact-phone" }, "Mobile"),
      contactPhone),
    h("h2", null, "Photos"),
    thumbs,
    h("label", { for: "report-photo", class: "button" }, "Ajouter une photo"),
    photoInput,
    error,
    h("button", { type: "submit", class: "primary" }, "Enregistrer le signalement"),
  );
  return [
    h("h1", null, "Signaler un problème"),
    h("p", null, "Enregistré sur le téléphone, envoyé dès que le réseau le permet."),
    form,
  ];
}

async function syncScreen() {
  const queue = await db.queued();
  const photos = await db.all("photos");
  const counts = await sync.pendingCount(user.id);
  const last = await db.meta("last_sync");
  const others = counts.others;
  const problems = queue.filter((q) => q.state !== "pending" && q.author === user.id);
  const persisted = navigator.storage && navigator.storage.persisted ? await navigator.storage.persisted().catch(() => false) : false;
  const refused = photos.filter((p) => p.state === "rejected" && p.author === user.id);
  const drop = (item) => async () => {
    if (!confirm("Ce changement ne sera jamais envoyé. L’abandonner ?")) return;
    await db.settle(item.seq, null);
    route();
    refreshBadge();
  };
  const dropPhoto = (photo) => async () => {
    if (!confirm("Supprimer cette photo refusée ?")) return;
    await db.remove("photos", photo.id);
    route();
    refreshBadge();
  };
  return [
    h("h1", null, "Synchronisation"),
    h("p", null, `${counts.changes} changement(s) et ${counts.photos} photo(s) en attente.`),
    h("p", null, last ? `Dernière synchronisation : ${dateFr(last)} à ${timeFr(last)}.` : "Jamais synchronisé."),
    others ? h("p", null, `${others} changement(s) d’un autre agent attendent qu’il se connecte sur ce téléphone.`) : "",
    h("p", null, persisted ? "Stockage protégé : le navigateur ne l’effacera pas pour faire de la place." : "Stockage non protégé : installez l’application pour que le navigateur ne l’efface pas en cas de manque de place."),
    h("button", { type: "button", class: "primary", onclick: () => requestSync() }, "Synchroniser"),
    problems.length || refused.length ? h("h2", null, "À voir") : "",
    h(
      "ul",
      { class: "cards" },
      problems.map((item) =>
        h("li", { class: "card problem" },
          h("span", { class: "card-title" }, `${LABELS[item.type] || item.type} : ${item.state === "conflict" ? "conflit" : "refusé"}`),
          h("span", null, item.reason || ""),
          h("span", { class: "meta" }, item.state === "conflict"
            ? "Quelqu’un a modifié cet enregistrement entre-temps. Vérifiez son état actuel puis abandonnez ce changement."
            : "Le serveur a refusé ce changement. Corrigez ce qu’il faut puis abandonnez-le."),
          h("button", { type: "button", onclick: drop(item) }, "Abandonner ce changement"))),
      refused.map((photo) =>
        h("li", { class: "card problem" },
          h("span", { class: "card-title" }, "Photo refusée"),
          h("span", null, photo.reason || ""),
          h("button", { type: "button", onclick: dropPhoto(photo) }, "Supprimer la photo"))),
    ),
    h("h2", null, "Compte"),
    h("p", null, user ? `Connecté : ${user.name}` : ""),
    h("button", { type: "button", onclick: logout }, "Se déconnecter"),
  ];
}

async function logout() {
  const counts = await sync.pendingCount(); // everyone's: the wipe would lose it all
  const waiting = counts.changes + counts.photos + counts.problems;
  if (waiting && !confirm(`${waiting} changement(s) ne sont pas encore envoyés : ils seront perdus. Se déconnecter quand même ?`)) return;
  await sync.logout();
  await db.wipe(); // the tenants' data and the agent's work leave the phone
  user = null;
  clearTimeout(retryTimer);
  for (const id of ["login-banner", "sync-banner"]) banner(id, null);
  history.replaceState(null, "", "#/"); // no hashchange: the message below stays
  render(...loginForm("Vous êtes déconnecté. Les données ont été effacées du téléphone."));
  refreshBadge();
}

// --- routing ---------------------------------------------------------------------------------

let routing = 0;

async function route() {
  if (!storageOk) return;
  const turn = ++routing; // a slower, older render never lands over a newer one
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  if (!user || parts[0] === "connexion") {
    // Logging in is a screen of its own: a sync ending meanwhile does not take it away.
    if (!user && farewell) render(...loginForm(farewell[1], farewell[0]));
    else render(...loginForm(user ? "Vos changements en attente seront envoyés après la connexion." : undefined));
    return;
  }
  farewell = null;
  const tab = {
    "": "rounds", visite: "rounds", nouvelle: "rounds", reprises: "reworks", reprise: "reworks",
    demandes: "requests", signaler: "requests", synchro: "sync",
  }[parts[0]] || "rounds";
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  let nodes;
  if (parts[0] === "visite" && parts[2] === "fin") nodes = await finishScreen(parts[1]);
  else if (parts[0] === "visite") nodes = await visitScreen(parts[1], parts[2]);
  else if (parts[0] === "nouvelle") nodes = await newVisitScreen();
  else if (parts[0] === "reprises") nodes = await reworksScreen();
  else if (parts[0] === "reprise") nodes = await reworkScreen(parts[1]);
  else if (parts[0] === "demandes") nodes = await requestsScreen();
  else if (parts[0] === "signaler") nodes = await reportScreen();
  else if (parts[0] === "synchro") nodes = await syncScreen();
  else nodes = await roundsScreen();
  if (turn === routing) render(...nodes);
}

// --- start -----------------------------------------------------------------------------------

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  const module = "SyncManager" in window;
  const url = script.dataset.sw + (module ? "" : "?classic=1");
  const hadController = Boolean(navigator.serviceWorker.controller);
  const registration = await navigator.serviceWorker.register(url, { scope: "/terrain/", type: module ? "module" : "classic" });
  const announce = (worker) => {
    if (hadController) {
      banner("update-banner", "Mise à jour disponible.", h("button", { type: "button", onclick: () => worker.postMessage("skip-waiting") }, "Mettre à jour"));
    } else {
      worker.addEventListener("statechange", () => {
        if (worker.state === "activated") {
          banner("ready-banner", "Prêt à fonctionner hors ligne.");
          setTimeout(() => banner("ready-banner", null), 10000);
        }
      });
    }
  };
  if (registration.waiting && hadController) announce(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed") announce(worker);
    });
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (hadController && !reloading) {
      reloading = true;
      location.reload();
    }
  });
  registration.update().catch(() => {});
}

async function start() {
  try {
    await db.open();
    await db.meta("probe", Date.now());
  } catch (error) {
    storageOk = false;
    render(
      h("h1", null, "Stockage indisponible"),
      h("p", null, "Ce navigateur ne permet pas d’enregistrer des données sur le téléphone (navigation privée ?). Rien de ce que vous saisiriez ne pourrait être gardé hors ligne : ouvrez l’application dans une fenêtre normale."),
    );
    badge.textContent = "Stockage indisponible";
    return;
  }
  if (navigator.storage && navigator.storage.persist) {
    // Ask the browser not to evict the phone's data under storage pressure (shown on "Synchro").
    await navigator.storage.persist().catch(() => false);
  }
  user = (await db.meta("user")) || null;
  try {
    const current = await sync.session();
    if (current.authenticated) user = await sync.adoptUser(current);
    else if (user) askLogin();
  } catch (error) {
    // offline: work with what the phone holds
  }
  window.addEventListener("hashchange", route);
  window.addEventListener("online", () => { failures = 0; requestSync(); });
  self.addEventListener("ronde-sync", onSyncEvent);
  if (typeof BroadcastChannel === "function") new BroadcastChannel("ronde-sync").onmessage = (e) => {
    if (e.data.from !== sync.ME) onSyncEvent({ detail: e.data });
  };
  await route();
  await refreshBadge();
  registerWorker().catch(() => {});
  requestSync();
}

// An expired session: the queue stays; the agent logs in again inside the app.
function askLogin() {
  banner(
    "login-banner",
    "Session expirée : reconnectez-vous pour envoyer vos changements.",
    h("button", { type: "button", onclick: () => { if (location.hash === "#/connexion") route(); else location.hash = "#/connexion"; } }, "Se reconnecter"),
  );
}

function onSyncEvent(event) {
  const message = event.detail || {};
  if (message.type === "login-needed" && user) {
    askLogin();
  } else if (message.type === "revoked") {
    user = null;
    farewell = ["Téléphone révoqué", "Un administrateur a révoqué ce téléphone : ses données ont été effacées."];
    route();
  } else if (message.type === "running" || message.type === "synced" || message.type === "stopped") {
    running = message.type === "running";
    refreshBadge();
  } else if (message.type === "queue" || message.type === "problem") {
    refreshBadge();
  }
}

start();
