// The reference client's service worker (registered by app.js when "Notify me on this device" is switched on):
// shows the API's Web Push notifications (README.md, "Web Push") and opens their conversation when clicked.
// Served from / (dev/web_server.py), so its scope is the whole page.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// {"type": "new_message", "conversationId", "messageId", "title", "body"}
self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = { body: event.data ? event.data.text() : "" };
  }
  const conversationId = payload.conversationId || null;
  event.waitUntil(
    self.registration.showNotification(payload.title || "New message", {
      body: payload.body || "",
      tag: conversationId || undefined, // a newer notification of the conversation replaces the older one
      data: { conversationId },
    }),
  );
});

// Focus an open page of the client (which opens the conversation), or open one at /?conversation=<id>.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const conversationId = event.notification.data?.conversationId;
  const url = new URL(conversationId ? `/?conversation=${encodeURIComponent(conversationId)}` : "/", self.location.origin);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).origin === url.origin);
      if (open) {
        await open.focus();
        if (conversationId) open.postMessage({ type: "open-conversation", conversationId });
        return;
      }
      await self.clients.openWindow(url.href);
    })(),
  );
});
