// Notifier's Web Push service worker, served at /sw.js (scope "/").
//
// The push payload is JSON {title, body, url, tag, id} (see notifier/channels/push.py).
// The tag makes a message re-sent after a retry replace the one on screen instead of
// stacking a duplicate. A click focuses a tab already showing the URL, or opens it.
"use strict";

self.addEventListener("install", () => {
  // No cache to populate: take over as soon as installed so a new version applies at once.
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

// Only same-origin or http(s) URLs may be opened; anything else (javascript:, data:) falls
// back to the notification center.
function safeUrl(raw) {
  try {
    const url = new URL(raw || "/", self.location.origin);
    if (url.protocol === "https:" || url.protocol === "http:") {
      return url.href;
    }
  } catch (err) {
    // Not a URL at all: use the default below.
  }
  return new URL("/", self.location.origin).href;
}

self.addEventListener("push", (event) => {
  let data = {};
  if (event.data) {
    try {
      data = event.data.json() || {};
    } catch (err) {
      data = { body: event.data.text() };
    }
  }
  const options = {
    body: typeof data.body === "string" ? data.body : "",
    data: { url: safeUrl(data.url), id: data.id === undefined ? null : data.id },
  };
  if (data.tag) {
    options.tag = String(data.tag);
  }
  const title = data.title ? String(data.title) : "New notification";
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = safeUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const client of windows) {
        if (client.url === target && "focus" in client) {
          return client.focus();
        }
      }
      return self.clients.openWindow ? self.clients.openWindow(target) : undefined;
    }),
  );
});
