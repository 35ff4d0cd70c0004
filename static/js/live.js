/* Live connection of a Notifier page: a resumable SSE source for htmx-ext-sse, and the
 * "notifier" htmx extension that fits the server's connection-agnostic fragments to this page.
 *
 * Why not the extension's own reconnect: htmx-ext-sse 2.x opens every EventSource through
 * htmx.createEventSource(url) and, once one has failed for good, makes a fresh one from the
 * sse-connect URL, which carries no Last-Event-ID (bigskysoftware/htmx-extensions#184), so a
 * page would miss or repeat what happened while it was away. So for the page stream we hand
 * the extension a ResumableSource instead: it looks like an EventSource to the extension
 * (addEventListener, onopen, readyState, close) but owns the real EventSource, and
 * every (re)connect opens /stream?after=<newest cursor this page has applied>. Its readyState
 * never reads CLOSED while it may still reconnect, so the extension never starts a reconnect
 * of its own; the backoff is ours and comes from the body's data attributes (the seeds' hook
 * options). Cursor events at or below the page's cursor are dropped (nothing is applied twice),
 * a re-rendered list hands its cursor over (adopt), and a ping watchdog plus online,
 * visibility and pageshow hooks catch sleeping laptops and silently dead sockets. The page
 * stream is the only SSE source: the admin dashboard's live panels poll their fragments.
 */
(function () {
  "use strict";

  var body = document.body;
  var data = body.dataset;
  if (!window.htmx || !data.stream) {
    return;
  }
  var CURSOR_EVENTS = { notification: true, update: true, refresh: true };
  var config = {
    stream: data.stream,
    autoReconnect: data.autoReconnect !== "false",
    delay: parseInt(data.reconnectDelay, 10) || 1000,
    maxDelay: parseInt(data.maxReconnectDelay, 10) || 30000,
    maxAttempts: parseInt(data.maxReconnectAttempts, 10) || 8,
    ping: parseInt(data.pingInterval, 10) || 25000
  };
  var live = null;

  function toCursor(value) {
    var n = parseInt(value, 10);
    return n >= 0 ? n : null;
  }

  function announce(state, detail) {
    var info = { state: state };
    for (var key in detail || {}) {
      info[key] = detail[key];
    }
    document.dispatchEvent(new CustomEvent("notifier:status", { detail: info }));
  }

  class ResumableSource extends EventTarget {
    // The page stream: resumes by cursor and drives the connection indicator.
    constructor(url, cursor) {
      super();
      this.url = url;
      this.withCredentials = true;
      this.readyState = 0;
      this.onopen = null;
      this.onerror = null;
      this.onmessage = null;
      this.cursor = cursor;
      this.names = new Set(["ping"]);
      this.es = null;
      this.timer = 0;
      this.attempt = 0;
      this.stopped = false;
      this.lastSeen = Date.now();
      this.connect();
    }

    addEventListener(name, listener, options) {
      super.addEventListener(name, listener, options);
      if (!this.names.has(name)) {
        this.names.add(name);
        if (this.es) {
          this.bind(this.es, name);
        }
      }
    }

    bind(es, name) {
      var self = this;
      es.addEventListener(name, function (event) {
        self.relay(es, name, event);
      });
    }

    streamUrl() {
      if (this.cursor === null) {
        return this.url;
      }
      return this.url + (this.url.indexOf("?") < 0 ? "?" : "&") + "after=" + this.cursor;
    }

    connect() {
      var self = this;
      clearTimeout(this.timer);
      this.timer = 0;
      this.drop();
      if (this.stopped) {
        return;
      }
      var es = new EventSource(this.streamUrl(), { withCredentials: true });
      this.es = es;
      this.names.forEach(function (name) {
        self.bind(es, name);
      });
      es.onopen = function (event) {
        if (es !== self.es) {
          return;
        }
        self.attempt = 0;
        self.lastSeen = Date.now();
        self.readyState = 1;
        self.status("live");
        if (self.onopen) {
          self.onopen(event);
        }
      };
      es.onerror = function (event) {
        if (es !== self.es) {
          return;
        }
        // Not passed on to the extension's onerror: it would only log the expected failure
        // as an htmx error; the page learns about it from our notifier:status event.
        self.drop();
        self.retry();
      };
      this.status(this.attempt ? "reconnecting" : "connecting", { attempt: this.attempt });
    }

    status(state, detail) {
      announce(state, detail);
    }

    drop() {
      if (this.es) {
        this.es.close();
        this.es = null;
      }
      this.readyState = 0;
    }

    relay(es, name, event) {
      if (es !== this.es) {
        return;
      }
      this.lastSeen = Date.now();
      if (CURSOR_EVENTS[name]) {
        // lastEventId is the source's last id, so only events that always carry one count.
        var id = toCursor(event.lastEventId);
        if (id !== null) {
          if (this.cursor !== null && id <= this.cursor) {
            return; // this page already shows it
          }
          this.cursor = id;
        }
      } else if (name === "reset") {
        // Our cursor was unusable; the stream goes on from the server's current one, which
        // the `connected` event just before carried as its id. The list re-render adopts.
        this.cursor = toCursor(event.lastEventId);
      }
      this.dispatchEvent(new MessageEvent(name, {
        data: event.data, lastEventId: event.lastEventId, origin: event.origin
      }));
      // After the swap: page scripts (static/js/alerts.js) react to what was applied, once.
      document.dispatchEvent(new CustomEvent("notifier:event", {
        detail: { name: name, data: event.data, id: event.lastEventId }
      }));
    }

    retry() {
      var self = this;
      if (this.stopped) {
        return;
      }
      if (!config.autoReconnect || this.attempt >= config.maxAttempts) {
        this.status("offline", { attempt: this.attempt });
        return;
      }
      var delay = Math.min(config.delay * Math.pow(2, this.attempt), config.maxDelay);
      // Jitter, so that a restarted server is not hit by every open tab in the same instant.
      delay = Math.round(delay * (0.8 + Math.random() * 0.4));
      this.attempt += 1;
      this.status("reconnecting", { attempt: this.attempt, max: config.maxAttempts, delay: delay });
      this.timer = setTimeout(function () {
        self.connect();
      }, delay);
    }

    reconnect() {
      this.stopped = false;
      this.attempt = 0;
      this.connect();
    }

    adopt(cursor) {
      // A list rendered at `cursor` replaced the page's list. Older than what we applied: the
      // new list lacks those events, so replay them from its cursor.
      var behind = this.cursor !== null && cursor !== null && cursor < this.cursor;
      this.cursor = cursor;
      if (behind) {
        this.reconnect();
      }
    }

    watch() {
      if (this.readyState === 1 && Date.now() - this.lastSeen > config.ping * 2.5) {
        this.drop(); // pings stopped: the socket is dead even if the browser has not noticed
        this.retry();
      }
    }

    pause() {
      clearTimeout(this.timer);
      this.drop();
    }

    close() {
      this.stopped = true;
      this.pause();
      this.readyState = 2;
    }
  }

  htmx.createEventSource = function () {
    // The body's sse-connect is the only SSE element, so every source is the page stream.
    var cursor = live ? live.cursor : toCursor(data.cursor);
    if (live) {
      live.close();
    }
    live = new ResumableSource(config.stream, cursor);
    return live;
  };

  // --- wake-ups: sleep, network changes, back/forward cache ------------------------------
  var lastTick = Date.now();
  setInterval(function () {
    var now = Date.now();
    var slept = now - lastTick > 15000;
    lastTick = now;
    if (!live || live.stopped) {
      return;
    }
    if (slept) {
      live.reconnect(); // the socket rarely survives a suspend; resuming is exact anyway
    } else {
      live.watch();
    }
  }, 5000);
  window.addEventListener("online", function () {
    if (live && live.readyState !== 1) {
      live.reconnect();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && live && live.readyState !== 1) {
      live.reconnect();
    }
  });
  window.addEventListener("pagehide", function () {
    if (live) {
      live.pause();
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && live) {
      live.reconnect();
    }
  });

  // --- a re-rendered list (reset, refresh, filters, mark all read) carries its cursor -------
  var listElt = document.getElementById("inbox-list");
  body.addEventListener("htmx:afterSettle", function () {
    var current = document.getElementById("inbox-list");
    if (current && current !== listElt) {
      listElt = current;
      if (live) {
        live.adopt(toCursor(current.dataset.cursor));
      }
    }
  });

  // --- fit connection-agnostic fragments to this page ---------------------------------------
  function oobTarget(el) {
    var spec = el.getAttribute("hx-swap-oob") || "";
    var colon = spec.indexOf(":");
    var selector = colon > 0 ? spec.slice(colon + 1) : "#" + el.id;
    try {
      return document.querySelector(selector);
    } catch (e) {
      return null;
    }
  }

  function words(text) {
    return (text || "").toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  }

  function matchesQuery(q, item) {
    // The server's search, approximated: every word of q starts a word of title or text.
    var wanted = words(q);
    if (!wanted.length) {
      return true;
    }
    var have = words(item.textContent);
    return wanted.every(function (w) {
      return have.some(function (h) {
        return h.indexOf(w) === 0;
      });
    });
  }

  function inRange(since, until, item) {
    // The From/Until days, as the server turned them into UTC bounds (ISO, compared as times).
    if (!since && !until) {
      return true;
    }
    var stamp = item.querySelector("time[datetime]");
    var at = stamp ? Date.parse(stamp.getAttribute("datetime")) : NaN;
    if (isNaN(at)) {
      return true;
    }
    return !(since && at < Date.parse(since)) && !(until && at > Date.parse(until));
  }

  function matchesFilter(list, item) {
    var want = list.dataset;
    var has = function (name) {
      return item.classList.contains(name);
    };
    var status = want.status || "all";
    if (status === "archived" ? !has("is-archived") : status === "snoozed" ? !has("is-snoozed") :
      has("is-archived") || has("is-snoozed")) {
      return false;
    }
    if ((status === "read" && has("is-unread")) || (status === "unread" && has("is-read")) ||
      (status === "unseen" && has("is-seen"))) {
      return false;
    }
    if (want.type && item.dataset.type !== want.type) {
      return false;
    }
    if (want.priority && item.dataset.priority !== want.priority) {
      return false;
    }
    if (want.tag && (item.dataset.tags || "").indexOf("," + want.tag + ",") < 0) {
      return false;
    }
    if (!inRange(want.since, want.until, item)) {
      return false;
    }
    return matchesQuery(want.q, item);
  }

  function keepSelection(el) {
    // A re-rendered item (this tab's action or another tab's, over the stream) stays selected.
    var old = el.id && el.classList.contains("item") && document.getElementById(el.id);
    var box = el.querySelector && el.querySelector(".item-select");
    if (old && box && old.querySelector(".item-select:checked")) {
      box.setAttribute("checked", "");
    }
  }

  function keepOpenMenus(el) {
    // A re-rendered item (a seen report, another tab's change) must not close a menu the
    // reader has open, nor drop a "Why am I seeing this?" panel already loaded into it.
    var old = el.id && el.classList.contains("item") && document.getElementById(el.id);
    if (!old || !el.querySelectorAll) {
      return;
    }
    old.querySelectorAll("details[open]").forEach(function (d) {
      var same = d.className && el.querySelector("details." + d.className.trim().split(/\s+/).join("."));
      if (same) {
        same.setAttribute("open", "");
      }
    });
    old.querySelectorAll(".why[id]").forEach(function (panel) {
      var fresh = el.querySelector("#" + panel.id);
      if (fresh && panel.innerHTML.trim()) {
        fresh.innerHTML = panel.innerHTML;
        htmx.process(fresh);
      }
    });
  }

  function keepGroup(el) {
    // A streamed row does not know its group's count; the row it replaces does.
    var old = el.id && el.classList.contains("item") && document.getElementById(el.id);
    var block = old && old.querySelector("[data-group-block]");
    if (block && !el.querySelector("[data-group-block]")) {
      el.setAttribute("data-group-count", old.getAttribute("data-group-count") || "");
      el.querySelector(".item-main").appendChild(block.cloneNode(true));
    }
  }

  function asMember(el) {
    // A row inside an expanded group acts on itself alone, like the server renders members.
    el.classList.add("is-member");
    Array.prototype.forEach.call(el.querySelectorAll("form"), function (form) {
      ["action", "hx-post"].forEach(function (name) {
        var url = form.getAttribute(name);
        if (url) {
          form.setAttribute(name, url.replace(/[?&]group=true$/, ""));
        }
      });
    });
    var box = el.querySelector(".item-select");
    if (box) {
      box.remove();
    }
  }

  function insertionPoint(list, item) {
    // Where an item that now belongs to this list goes: before the first older one.
    var id = parseInt(item.id.slice(2), 10);
    var rows = list.querySelectorAll(":scope > .item");
    for (var i = 0; i < rows.length; i++) {
      if (parseInt(rows[i].id.slice(2), 10) < id) {
        return "beforebegin:#" + rows[i].id;
      }
    }
    return list.querySelector(":scope > #load-more") ? null : "beforeend:#notification-list";
  }

  var refreshSoon = false;
  function fitItem(tpl, el, list) {
    // An item re-rendered out of band (an update): leave, stay, or join this page's list.
    var shown = document.getElementById(el.id);
    var inList = shown && list && list.contains(shown);
    var fits = list && matchesFilter(list, el);
    if (inList && !fits) {
      el.setAttribute("hx-swap-oob", "delete");
      return;
    }
    var group = el.dataset.group;
    var collapsed = group && list && list.querySelector(
      ':scope > .item[data-group="' + CSS.escape(group) + '"]');
    if (!shown && fits && !collapsed && !el.classList.contains("is-member")) {
      var where = insertionPoint(list, el);
      if (!where) {
        el.remove(); // it sorts below what this page has loaded: "load more" will bring it
        return;
      }
      var wrap = document.createElement("div");
      wrap.setAttribute("hx-swap-oob", where);
      el.removeAttribute("hx-swap-oob");
      tpl.content.insertBefore(wrap, el);
      wrap.appendChild(el);
      return;
    }
    if (!shown) {
      el.remove(); // not on this page (another page's list, an item not loaded)
      return;
    }
    if (shown.classList.contains("is-member")) {
      asMember(el);
    }
    keepGroup(el);
  }

  htmx.defineExtension("notifier", {
    transformResponse: function (text) {
      if (text.indexOf("hx-swap-oob") < 0 && text.indexOf("item-select") < 0) {
        return text;
      }
      var tpl = document.createElement("template");
      tpl.innerHTML = text;
      var list = document.getElementById("notification-list");
      var hidden = {};
      Array.prototype.slice.call(tpl.content.children).forEach(function (el) {
        keepSelection(el);
        keepOpenMenus(el);
        if (!el.hasAttribute("hx-swap-oob")) {
          return;
        }
        var spec = el.getAttribute("hx-swap-oob");
        if (el.classList.contains("item") && spec === "true") {
          fitItem(tpl, el, list);
          return;
        }
        var target = oobTarget(el);
        if (!target) {
          el.remove(); // not on this page (another page's list, an item not loaded)
          return;
        }
        if (!/^(afterbegin|beforeend):/.test(spec)) {
          return;
        }
        Array.prototype.slice.call(el.children).forEach(function (child) {
          var dup = child.id && document.getElementById(child.id);
          var toList = target.id === "notification-list";
          var filtered = toList && !matchesFilter(target, child);
          var group = toList && child.dataset.group;
          var grouped = group && target.querySelector(
            ':scope > .item[data-group="' + CSS.escape(group) + '"]');
          if (filtered) {
            hidden[child.id.slice(2)] = true; // and so is its toast
          }
          if (grouped && !dup) {
            refreshSoon = true; // a new member of a group shown collapsed: re-group the list
          }
          var quiet = target.id === "toasts" && hidden[child.id.replace("toast-", "")];
          if (dup || filtered || grouped || quiet) {
            child.remove(); // inserts are idempotent by the item's stable id
          }
        });
      });
      return tpl.innerHTML;
    }
  });

  body.addEventListener("htmx:afterSettle", function () {
    if (refreshSoon) {
      refreshSoon = false;
      htmx.trigger(body, "notifier:refresh");
    }
  });

  window.Notifier = {
    reconnect: function () {
      if (live) {
        live.reconnect();
      }
    },
    source: function () {
      return live;
    }
  };
})();
