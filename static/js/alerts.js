/* Desktop alerts and time-to-screen, both fed by live.js's "notifier:event" (one per event
 * the page applied, after the swap, never twice for a cursor).
 *
 * Desktop alerts: the inbox page's switch (#desktop-alerts) is remembered per browser; when it
 * is on, the permission is granted and the tab is hidden, a new notification also shows
 * through `new Notification(title, {body, tag: id})`; a click focuses the tab and opens the
 * item. With VAPID configured the same switch registers /sw.js and a Web Push subscription,
 * so alerts keep coming with the tab closed. An optional short tone (#desktop-sound).
 *
 * Time to screen: each notification rendered live is acknowledged with how long ago it was
 * painted, in batches, by navigator.sendBeacon to /screen-acks (the server turns that into
 * publish → on-screen latency on its own clock).
 */
(function () {
  "use strict";

  // The page's language: ui.js's translator (it loads first; English when it is missing).
  var t =
    window.notifierT ||
    function (text) {
      return text;
    };

  var KEY = "notifier.desktopAlerts";
  var SOUND = "notifier.desktopSound";
  var FLUSH_MS = 2000;
  var store = window.localStorage;

  function stored(key) {
    try {
      return store.getItem(key) === "on";
    } catch (e) {
      return false;
    }
  }

  function remember(key, on) {
    try {
      store.setItem(key, on ? "on" : "off");
    } catch (e) {
      /* private mode: the switch lasts for this page only */
    }
  }

  function supported() {
    return "Notification" in window;
  }

  function parseItem(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var li = tpl.content.querySelector("li.item[id^='n-']");
    if (!li) {
      return null;
    }
    var title = li.querySelector(".item-title");
    var body = li.querySelector(".item-body");
    var link = li.querySelector(".item-title a");
    return {
      id: li.id.slice(2),
      title: title ? title.textContent.trim() : t("New notification"),
      body: body ? body.textContent.trim() : "",
      href: link ? link.getAttribute("href") : null
    };
  }

  // --- desktop alerts ---------------------------------------------------------------------
  var toggle = document.getElementById("desktop-alerts");
  var soundBox = document.getElementById("desktop-sound");
  var note = document.getElementById("desktop-alerts-note");

  function say(text) {
    if (note) {
      note.textContent = text;
    }
  }

  function beep() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) {
      return;
    }
    try {
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.05;
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.15);
    } catch (e) {
      /* no audio device */
    }
  }

  function openItem(item) {
    window.focus();
    var el = document.getElementById("n-" + item.id);
    if (el) {
      el.scrollIntoView({ block: "center" });
      var focusable = el.querySelector("a, button");
      if (focusable) {
        focusable.focus();
      }
    } else {
      window.location.href = item.href || "/#n-" + item.id;
    }
  }

  function alertFor(item) {
    var shown = new window.Notification(item.title, { body: item.body, tag: String(item.id) });
    shown.onclick = function () {
      shown.close();
      openItem(item);
    };
    if (stored(SOUND)) {
      beep();
    }
  }

  function alertsOn() {
    return stored(KEY) && supported() && window.Notification.permission === "granted";
  }

  function b64ToBytes(b64) {
    var pad = "=".repeat((4 - (b64.length % 4)) % 4);
    var raw = window.atob((b64 + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      out[i] = raw.charCodeAt(i);
    }
    return out;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function registerPush() {
    // Only with VAPID configured (the page says so: data-push) and a browser that has
    // service workers and push.
    var push = toggle && toggle.hasAttribute("data-push");
    if (!push || !("serviceWorker" in navigator) || !("PushManager" in window)) {
      return Promise.resolve(false);
    }
    return fetch("/api/v1/push/vapid-public-key", { credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) {
          return false;
        }
        return resp.json().then(function (doc) {
          return navigator.serviceWorker.register("/sw.js").then(function (reg) {
            return reg.pushManager.getSubscription().then(function (sub) {
              return sub || reg.pushManager.subscribe({
                userVisibleOnly: true, applicationServerKey: b64ToBytes(doc.key)
              });
            });
          }).then(function (sub) {
            return fetch("/push/subscription", {
              method: "POST",
              credentials: "same-origin",
              headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
              body: JSON.stringify(sub.toJSON())
            }).then(function (r) {
              return r.ok;
            });
          });
        });
      })
      .catch(function () {
        return false;
      });
  }

  function describe() {
    if (!toggle) {
      return;
    }
    if (!supported()) {
      toggle.disabled = true;
      say(t("This browser cannot show desktop alerts."));
    } else if (window.Notification.permission === "denied") {
      say(t("Alerts are blocked for this site in the browser's settings."));
    } else if (toggle.checked) {
      say(t("On: shown while this tab is in the background."));
    } else {
      say("");
    }
  }

  if (toggle) {
    toggle.checked = alertsOn();
    if (soundBox) {
      soundBox.checked = stored(SOUND);
      soundBox.addEventListener("change", function () {
        remember(SOUND, soundBox.checked);
      });
    }
    describe();
    toggle.addEventListener("change", function () {
      if (!toggle.checked) {
        remember(KEY, false);
        describe();
        return;
      }
      Promise.resolve(window.Notification.requestPermission()).then(function (permission) {
        var ok = permission === "granted";
        toggle.checked = ok;
        remember(KEY, ok);
        describe();
        if (ok) {
          registerPush().then(function (pushed) {
            if (pushed) {
              say(t("On, also with this tab closed (Web Push)."));
            }
          });
        }
      });
    });
  }

  // --- time to screen ---------------------------------------------------------------------
  var pending = [];
  var timer = 0;

  function flush() {
    clearTimeout(timer);
    timer = 0;
    if (!pending.length) {
      return;
    }
    var now = performance.now();
    var acks = pending.splice(0, 100).map(function (p) {
      return { id: p.id, age: Math.max(0, Math.round(now - p.at)) };
    });
    var body = new Blob([JSON.stringify({ acks: acks })], { type: "text/plain" });
    if (!(navigator.sendBeacon && navigator.sendBeacon("/screen-acks", body))) {
      fetch("/screen-acks", { method: "POST", body: body, credentials: "same-origin", keepalive: true });
    }
    if (pending.length) {
      flush();
    }
  }

  function acknowledge(id) {
    // Two frames: the first runs before the paint that shows the swapped item.
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        pending.push({ id: parseInt(id, 10), at: performance.now() });
        if (!timer) {
          timer = setTimeout(flush, FLUSH_MS);
        }
      });
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      flush();
    }
  });
  window.addEventListener("pagehide", flush);

  document.addEventListener("notifier:event", function (event) {
    if (event.detail.name !== "notification") {
      return;
    }
    var item = parseItem(event.detail.data);
    if (!item) {
      return;
    }
    acknowledge(item.id);
    if (document.visibilityState === "hidden" && alertsOn()) {
      alertFor(item);
    }
  });
})();
