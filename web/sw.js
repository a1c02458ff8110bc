// The public map's service worker (served at /sw.js, scope /): shows a notice pushed to this
// browser (Web Push, src/notices/push.rs) and opens the map at the notice's area when the
// notification is tapped. A notice is one notification (its tag): an update or a cancel replaces
// it, and a message already shown (a push sent again after a server restart) is not shown twice.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let p;
  try {
    p = event.data?.json();
  } catch {
    return;
  }
  if (!p?.title || !p.tag) return;
  event.waitUntil((async () => {
    const same = await self.registration.getNotifications({ tag: p.tag });
    if (same.some((n) => n.data?.message >= p.message)) return;
    await self.registration.showNotification(p.title, {
      body: p.body,
      tag: p.tag,
      renotify: true,
      requireInteraction: p.severity === "Extreme" || p.severity === "Severe",
      icon: "/web/favicon.svg",
      data: p,
    });
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url ?? "/map", self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((w) => new URL(w.url).pathname === "/map");
    if (open) {
      await open.navigate(url);
      return open.focus();
    }
    return self.clients.openWindow(url);
  })());
});
