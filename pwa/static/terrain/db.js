// The phone's data: the one module that owns the IndexedDB schema (style.md §11).
// Works in the page and in the service worker. Migrations only ever add: a store that holds
// unsent work (queue, photos) is never dropped.
//
// Stores:
//   records  reference data pulled from the server, key [t, id], indexes "t" and "r" (residence)
//   drafts   the agent's own work in progress (a visit being answered), key id
//   queue    mutations to send, in order: key seq (auto), index "id" (the mutation id)
//   photos   photos to upload: key id, the compressed JPEG blob and upload progress; `kind` and
//            `record` name what it belongs to (older rows: a visit's, in `visit` and `answer`)
//   meta     key/value: cursor, device id, user, last sync...

const NAME = "ronde-terrain";
const VERSION = 2;

const MIGRATIONS = [
  // 0 -> 1
  (db) => {
    const records = db.createObjectStore("records", { keyPath: ["t", "id"] });
    records.createIndex("t", "t");
    records.createIndex("r", "r");
    db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true }).createIndex("id", "id", { unique: true });
    db.createObjectStore("photos", { keyPath: "id" });
    db.createObjectStore("meta");
  },
  // 1 -> 2: drafts, apart from the queue
  (db) => {
    db.createObjectStore("drafts", { keyPath: "id" });
  },
];

let opening = null;

export function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      let request;
      try {
        request = indexedDB.open(NAME, VERSION);
      } catch (error) {
        reject(error);
        return;
      }
      request.onupgradeneeded = (event) => {
        const db = request.result;
        for (let v = event.oldVersion; v < VERSION; v++) MIGRATIONS[v](db, request.transaction);
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => { db.close(); opening = null; };
        resolve(db);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("blocked"));
    });
    opening.catch(() => { opening = null; });
  }
  return opening;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("aborted"));
  });
}

export async function get(store, key) {
  const db = await open();
  return done(db.transaction(store).objectStore(store).get(key));
}

export async function all(store, index, query) {
  const db = await open();
  const source = db.transaction(store).objectStore(store);
  return done((index ? source.index(index) : source).getAll(query));
}

export async function put(store, value, key) {
  const db = await open();
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).put(value, key);
  return finished(tx);
}

export async function remove(store, key) {
  const db = await open();
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).delete(key);
  return finished(tx);
}

export async function meta(key, value) {
  if (value === undefined) return get("meta", key);
  return put("meta", value, key);
}

// Apply a pull page in one transaction: a reset, dropped residences, upserts, tombstones.
export async function applyPage(page) {
  const db = await open();
  const tx = db.transaction(["records", "meta"], "readwrite");
  const records = tx.objectStore("records");
  if (page.reset) records.clear();
  for (const residence of page.dropped_residences || []) {
    const index = records.index("r");
    index.openCursor(IDBKeyRange.only(residence)).onsuccess = (event) => {
      const cursor = event.target.result;
      if (cursor) { cursor.delete(); cursor.continue(); }
    };
    records.delete(["residence", String(residence)]);
  }
  for (const record of page.records) records.put(record);
  for (const gone of page.deleted) records.delete([gone.t, gone.id]);
  const metaStore = tx.objectStore("meta");
  metaStore.put(page.cursor, "cursor");
  if (!page.more) metaStore.put(page.scope, "scope");
  return finished(tx);
}

// Queue a mutation and, in the same transaction, what the agent sees of it (a draft) and the
// photos that go with it: all of it is on the phone, or none.
export async function enqueue(mutation, draft, photos = []) {
  const db = await open();
  const tx = db.transaction(["queue", "drafts", "photos"], "readwrite");
  tx.objectStore("queue").add({ ...mutation, state: "pending", created_at: new Date().toISOString() });
  if (draft) tx.objectStore("drafts").put(draft);
  for (const photo of photos) tx.objectStore("photos").put(photo);
  return finished(tx);
}

export async function queued() {
  return all("queue");
}

export async function settle(seq, patch) {
  const db = await open();
  const tx = db.transaction("queue", "readwrite");
  const store = tx.objectStore("queue");
  const item = await done(store.get(seq));
  if (item) {
    if (patch === null) store.delete(seq);
    else store.put({ ...item, ...patch });
  }
  return finished(tx);
}

// Everything the agent or the tenants' data left on the phone goes: at logout (queue empty or
// explicitly given up) and when the server says the phone was revoked.
export async function wipe() {
  const db = await open();
  const tx = db.transaction(["records", "drafts", "queue", "photos", "meta"], "readwrite");
  for (const name of ["records", "drafts", "queue", "photos"]) tx.objectStore(name).clear();
  const metaStore = tx.objectStore("meta");
  metaStore.delete("cursor");
  metaStore.delete("scope");
  metaStore.delete("user");
  metaStore.delete("last_sync");
  return finished(tx);
}
