{% load static %}// The agents' app service worker: scope /terrain/ only (the staff, admin and tenant pages are
// never under it). This file only routes events (style.md §9). The app shell is cached under a
// versioned name; the page decides when a new version takes over (on the agent's consent).
// API calls always go to the network: nothing is ever served stale without saying so.
{% if module %}import { syncOnce } from "{% static 'terrain/sync.js' %}";{% else %}const syncOnce = null;{% endif %}

const VERSION = "{{ version }}";
const SHELL = `terrain-shell-${VERSION}`;
const START = "{{ start_url }}";
const ASSETS = {{ assets|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll([START, ...ASSETS])));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith("terrain-shell-") && key !== SHELL) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data === "skip-waiting") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // network only
  if (request.mode === "navigate") {
    if (!url.pathname.startsWith(START)) return;
    event.respondWith(
      caches.open(SHELL).then((cache) => cache.match(START)).then((hit) => hit || fetch(request)),
    );
    return;
  }
  event.respondWith(
    caches.open(SHELL).then((cache) => cache.match(request)).then((hit) => hit || fetch(request)),
  );
});

if (syncOnce) {
  // Background Sync (Chromium): the queue goes even when the app is closed. Browsers without
  // it (Safari) sync from the page: on start, on reconnection and on the button.
  self.addEventListener("sync", (event) => {
    if (event.tag !== "ronde-sync") return;
    event.waitUntil(
      syncOnce().then((result) => {
        if (!result.ok && result.kind !== "login" && result.kind !== "revoked") {
          throw new Error(result.kind); // the browser tries again later
        }
      }),
    );
  });
}
