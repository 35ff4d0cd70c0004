/* Page behaviour htmx cannot express: the CSRF header, the title count, the connection
 * indicator, toasts, select-many, "5 min ago" times in the reader's time zone, and the
 * inbox's seen reports, item menus, group expansion and density switch.
 */
(function () {
  "use strict";

  // The page's language: <html data-strings> maps these English strings to it (absent in
  // English). "%(n)s"-style names are filled from `names`.
  var STRINGS = (function () {
    try {
      return JSON.parse(document.documentElement.getAttribute("data-strings") || "{}");
    } catch (e) {
      return {};
    }
  })();
  function t(text, names) {
    var out = STRINGS[text] || text;
    Object.keys(names || {}).forEach(function (key) {
      out = out.split("%(" + key + ")s").join(String(names[key]));
    });
    return out;
  }
  // alerts.js (deferred, so it runs after this file) translates with the same function.
  window.notifierT = t;

  var body = document.body;
  var TOAST_MS = 6000;
  var MAX_TOASTS = 3; // more would cover the list; the newest few are what matters

  // --- CSRF on every htmx request (Flask-WTF reads X-CSRFToken) ----------------------------
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  body.addEventListener("htmx:configRequest", function (event) {
    if (csrfMeta) {
      event.detail.headers["X-CSRFToken"] = csrfMeta.content;
    }
  });

  // --- "(3) Notifications": the title follows the badge ------------------------------------
  var badge = document.getElementById("unread-badge");
  function syncTitle() {
    var el = badge && badge.querySelector(".badge");
    var count = el ? parseInt(el.dataset.count, 10) || 0 : 0;
    var base = body.dataset.title || document.title;
    document.title = count ? "(" + count + ") " + base : base;
  }
  if (badge) {
    new MutationObserver(syncTitle).observe(badge, { childList: true, subtree: true });
  }

  // --- connection indicator -----------------------------------------------------------------
  var conn = document.getElementById("conn");
  var connLabel = document.getElementById("conn-label");
  var connRetry = document.getElementById("conn-retry");
  var LABELS = {
    connecting: t("Connecting…"),
    live: t("Live"),
    reconnecting: t("Reconnecting…"),
    offline: t("Offline"),
    closed: t("Offline")
  };
  document.addEventListener("notifier:status", function (event) {
    if (!conn) {
      return;
    }
    var info = event.detail;
    var label = LABELS[info.state] || info.state;
    if (info.state === "reconnecting" && info.delay) {
      label = t("Reconnecting in %(n)s s", { n: Math.max(1, Math.round(info.delay / 1000)) });
    }
    conn.dataset.state = info.state;
    if (connLabel.textContent !== label) {
      connLabel.textContent = label;
    }
    connRetry.hidden = info.state === "live" || info.state === "connecting";
    connRetry.textContent = info.state === "offline" ? t("Reconnect") : t("Retry now");
  });
  if (connRetry) {
    connRetry.addEventListener("click", function () {
      if (window.Notifier) {
        window.Notifier.reconnect();
      }
    });
  }

  // --- toasts -------------------------------------------------------------------------------
  var toasts = document.getElementById("toasts");
  function dismiss(toast) {
    if (toast && toast.parentNode) {
      toast.parentNode.removeChild(toast);
    }
  }
  function arm(toast) {
    if (toast.dataset.armed) {
      return;
    }
    toast.dataset.armed = "1";
    if (toast.hasAttribute("data-sticky")) {
      return; // urgent: stays until dismissed
    }
    var timer = 0;
    var start = function () {
      timer = setTimeout(function () {
        dismiss(toast);
      }, TOAST_MS);
    };
    var stop = function () {
      clearTimeout(timer);
    };
    // Reading or tabbing into a toast keeps it open.
    toast.addEventListener("mouseenter", stop);
    toast.addEventListener("mouseleave", start);
    toast.addEventListener("focusin", stop);
    toast.addEventListener("focusout", start);
    start();
  }
  function tidyToasts() {
    var all = toasts.querySelectorAll(".toast");
    Array.prototype.forEach.call(all, arm);
    var calm = toasts.querySelectorAll(".toast:not([data-sticky])");
    for (var i = 0; all.length - i > MAX_TOASTS && i < calm.length; i++) {
      dismiss(calm[i]); // a burst (a replay after sleep) shows only the newest few
    }
  }
  if (toasts) {
    new MutationObserver(tidyToasts).observe(toasts, { childList: true });
    toasts.addEventListener("click", function (event) {
      var button = event.target.closest("[data-dismiss]");
      if (button) {
        dismiss(button.closest(".toast"));
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        var last = toasts.querySelector(".toast:last-child");
        if (last && (last.contains(document.activeElement) || document.activeElement === body)) {
          dismiss(last);
        }
      }
    });
  }

  function errorToast(text) {
    if (!toasts) {
      return;
    }
    var toast = document.createElement("div");
    toast.className = "toast prio-high";
    toast.setAttribute("role", "alert");
    var p = document.createElement("p");
    p.className = "toast-title";
    p.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("data-dismiss", "");
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    toast.appendChild(p);
    toast.appendChild(close);
    toasts.appendChild(toast);
  }
  body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    errorToast(status === 404 ? t("That notification no longer exists.") :
      status === 400 ? t("Your session changed. Reload the page and try again.") :
        t("Something went wrong (%(status)s). Please try again.", { status: status }));
  });
  body.addEventListener("htmx:sendError", function () {
    errorToast(t("No connection to the server. Your change was not saved."));
  });

  // --- select many --------------------------------------------------------------------------
  var bulk = document.getElementById("bulk");
  function boxes() {
    return document.querySelectorAll(".item-select");
  }
  function syncSelection() {
    if (!bulk) {
      return;
    }
    var all = boxes();
    var n = 0;
    Array.prototype.forEach.call(all, function (box) {
      n += box.checked ? 1 : 0;
    });
    var selectAll = document.getElementById("select-all");
    selectAll.checked = n > 0 && n === all.length;
    selectAll.indeterminate = n > 0 && n < all.length;
    document.getElementById("selected-count").textContent = n ? t("%(n)s selected", { n: n }) : "";
    Array.prototype.forEach.call(bulk.querySelectorAll("[data-needs-selection]"), function (b) {
      b.disabled = n === 0;
    });
  }
  if (bulk) {
    document.addEventListener("change", function (event) {
      if (event.target.id === "select-all") {
        Array.prototype.forEach.call(boxes(), function (box) {
          box.checked = event.target.checked;
        });
      }
      if (event.target.id === "select-all" || event.target.classList.contains("item-select")) {
        syncSelection();
      }
    });
    bulk.addEventListener("htmx:afterRequest", function () {
      Array.prototype.forEach.call(boxes(), function (box) {
        box.checked = false;
      });
      syncSelection();
    });
    body.addEventListener("htmx:afterSettle", syncSelection);
    syncSelection();
  }

  // --- keyboard focus survives a deleted item: it moves to the next one ------------------------
  var refocus = null;
  body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    // Delete, archive, unarchive and snooze take the item out of the list.
    var gone = form.matches && form.matches(".item-toolbar form[action*='/delete']," +
      ".item-toolbar form[action*='/archive'], .item-toolbar form[action*='/unarchive']," +
      ".item-toolbar form[action*='/snooze']");
    if (gone && form.contains(document.activeElement)) {
      var item = form.closest(".item");
      var next = item.nextElementSibling;
      var prev = item.previousElementSibling;
      var target = next && next.classList.contains("item") ? next : prev;
      refocus = target && target.classList.contains("item") ? target.id : "main";
    }
  });
  body.addEventListener("htmx:afterSettle", function () {
    if (refocus) {
      var el = document.getElementById(refocus);
      var focusable = el && (el.querySelector(".item-select") || el);
      refocus = null;
      if (focusable) {
        focusable.focus();
      }
    }
  });

  // --- times in the reader's zone -------------------------------------------------------------
  // Times in the page's language (its <html lang>), in the reader's own time zone.
  var pageLang = document.documentElement.lang || undefined;
  var relative = window.Intl && Intl.RelativeTimeFormat ?
    new Intl.RelativeTimeFormat(pageLang, { numeric: "auto" }) : null;
  var full = new Intl.DateTimeFormat(pageLang, { dateStyle: "medium", timeStyle: "short" });
  function describe(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    var abs = Math.abs(seconds);
    if (!relative || abs > 7 * 86400) {
      return full.format(date);
    }
    if (abs < 45) {
      return t("just now");
    }
    if (abs < 3600) {
      return relative.format(Math.round(seconds / 60), "minute");
    }
    if (abs < 86400) {
      return relative.format(Math.round(seconds / 3600), "hour");
    }
    return relative.format(Math.round(seconds / 86400), "day");
  }
  function renderTimes(root) {
    var els = (root || document).querySelectorAll("time[data-relative]");
    Array.prototype.forEach.call(els, function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) {
        el.textContent = describe(date);
        el.title = full.format(date);
      }
    });
  }
  body.addEventListener("htmx:load", function (event) {
    renderTimes(event.detail.elt.parentNode || document);
  });
  setInterval(renderTimes, 60000);
  renderTimes();
  syncTitle();

  // --- seen: items shown in the visible list are reported, batched ----------------------------
  // An item counts as seen once at least half of it was on screen while the tab was visible.
  var seenQueue = {};
  var seenTimer = 0;
  function flushSeen() {
    seenTimer = 0;
    var ids = Object.keys(seenQueue);
    var list = document.getElementById("notification-list");
    if (!ids.length || !csrfMeta || !list) {
      return;
    }
    seenQueue = {};
    var form = new URLSearchParams();
    ids.forEach(function (id) {
      form.append("ids", id);
    });
    fetch(list.dataset.seenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfMeta.content },
      body: form,
      keepalive: true
    }).catch(function () {
      ids.forEach(function (id) {
        seenQueue[id] = true; // try again with the next batch
      });
    });
  }
  function queueSeen(item) {
    seenQueue[item.id.slice(2)] = true;
    if (!seenTimer) {
      seenTimer = setTimeout(flushSeen, 500);
    }
  }
  var onScreen = new Set();
  var seenObserver = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting) {
        onScreen.add(entry.target);
      } else {
        onScreen.delete(entry.target);
      }
    });
    reportVisible();
  }, { threshold: 0.5 }) : null;
  function reportVisible() {
    if (document.visibilityState !== "visible") {
      return;
    }
    onScreen.forEach(function (item) {
      if (!item.isConnected) {
        onScreen.delete(item);
      } else if (item.classList.contains("is-unseen") && !item.dataset.seenSent) {
        item.dataset.seenSent = "1";
        queueSeen(item);
      }
    });
  }
  function watchItems(root) {
    if (!seenObserver) {
      return;
    }
    var items = (root || document).querySelectorAll("#notification-list .item.is-unseen");
    Array.prototype.forEach.call(items, function (item) {
      seenObserver.observe(item);
    });
  }
  document.addEventListener("visibilitychange", reportVisible);
  window.addEventListener("pagehide", flushSeen);
  body.addEventListener("htmx:afterSettle", function () {
    watchItems(document);
  });
  body.addEventListener("htmx:oobAfterSwap", function () {
    watchItems(document);
  });
  watchItems(document);

  // --- item menus (snooze, more): one open at a time; Escape or a click elsewhere closes ------
  function closeMenus(except) {
    Array.prototype.forEach.call(document.querySelectorAll("details.menu[open]"), function (d) {
      if (d !== except) {
        d.removeAttribute("open");
      }
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest && event.target.closest("details.menu"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelector("details.menu[open]");
      if (open) {
        open.removeAttribute("open");
        open.querySelector("summary").focus();
      }
    }
  });

  // --- a collapsed group expands (its members load once) and collapses again ---------------
  body.addEventListener("htmx:confirm", function (event) {
    var toggle = event.detail.elt;
    if (!toggle || !toggle.classList || !toggle.classList.contains("group-toggle")) {
      return;
    }
    var members = document.getElementById(toggle.getAttribute("aria-controls"));
    if (toggle.getAttribute("aria-expanded") === "true") {
      event.preventDefault(); // collapse: no request
      toggle.setAttribute("aria-expanded", "false");
      members.hidden = true;
    } else if (members && members.children.length) {
      event.preventDefault(); // loaded before: just show them
      toggle.setAttribute("aria-expanded", "true");
      members.hidden = false;
    }
  });
  body.addEventListener("htmx:afterSwap", function (event) {
    var members = event.detail.target;
    if (members && members.classList && members.classList.contains("group-members")) {
      members.hidden = false;
      var toggle = document.querySelector('[aria-controls="' + members.id + '"]');
      if (toggle) {
        toggle.setAttribute("aria-expanded", "true");
      }
    }
  });

  // --- density: the server remembers it (a cookie); the page switches at once ---------------
  var densityForm = document.querySelector("form.density");
  if (densityForm) {
    densityForm.addEventListener("htmx:afterRequest", function (event) {
      if (!event.detail.successful) {
        return;
      }
      var button = document.getElementById("density-toggle");
      var compact = button.value === "compact";
      var list = document.getElementById("inbox-list");
      if (list) {
        list.classList.toggle("density-compact", compact);
        list.classList.toggle("density-comfortable", !compact);
      }
      button.setAttribute("aria-pressed", compact ? "true" : "false");
      button.value = compact ? "comfortable" : "compact";
    });
  }
})();
