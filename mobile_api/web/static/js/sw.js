// Doorstep's service worker: makes the app installable and keeps the page shells'
// static files for a flaky phone connection. It never touches /api/ (data, pictures,
// the live stream): those always go to the network and are never cached.
const CACHE = "doorstep-static-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (!url.pathname.startsWith("/static/")) return; // pages and API: network only
  // Network first, so a new release shows at once; the cache only answers offline.
  event.respondWith(fetch(event.request)
    .then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(event.request, copy));
      }
      return response;
    })
    .catch(() => caches.match(event.request)));
});

// --- Notifications (issue 12) ---------------------------------------------------------
// A push carries {key, kind, title, body, url, tag, data} (hub/notify/webpush.py). The
// same tag replaces the earlier notification (renotify: it still alerts). Tapping it
// opens or focuses the page at its URL and tells the hub it was seen; it never unlocks
// anything: the page asks for the person's code for that.
const SAFETY = new Set(["ring_unanswered", "ring_escalated", "carer_non_arrival", "device_offline",
  "door_left_unlocked", "break_glass"]);

self.addEventListener("push", (event) => {
  let p = {};
  try {
    p = event.data ? event.data.json() : {};
  } catch {
    p = { body: event.data ? event.data.text() : "" };
  }
  const options = {
    body: p.body || "",
    icon: "/static/icons/icon-192.png",
    badge: "/static/icons/icon-192.png",
    data: { url: p.url || "/", key: p.key || null, kind: p.kind || null },
    requireInteraction: SAFETY.has(p.kind), // a safety alert stays until dealt with
  };
  // A ring's picture from the door (the browser fetches it with the session; someone who
  // may not see pictures simply gets no image).
  const snapshot = p.data && p.data.snapshot_id;
  if (snapshot) options.image = `/api/snapshots/${encodeURIComponent(snapshot)}`;
  if (p.tag) Object.assign(options, { tag: p.tag, renotify: true });
  event.waitUntil(self.registration.showNotification(p.title || "Doorstep", options));
});

async function reportSeen(key) {
  // The session cookie goes with same-origin requests; the CSRF token comes from the session.
  const session = await fetch("/api/session", { credentials: "same-origin", cache: "no-store" });
  if (!session.ok) return; // logged out: the page will ask to log in, then show the ring
  const { csrf_token: csrf } = await session.json();
  await fetch("/api/notifications/seen", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ key }),
  });
}

async function openPage(href) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((c) => c.url === href);
  if (open) return open.focus();
  return self.clients.openWindow(href);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { url = "/", key = null } = event.notification.data || {};
  let target = new URL(url, self.location.origin);
  if (target.origin !== self.location.origin) target = new URL("/", self.location.origin);
  // The page shows this notification (a ring: its picture, who is expected) from the key.
  if (key) target.searchParams.set("notification", key);
  event.waitUntil(Promise.all([
    openPage(target.href),
    key ? reportSeen(key).catch(() => {}) : null,
  ]));
});
