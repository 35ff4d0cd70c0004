/*
 * <notifier-inbox user="EMAIL" hash="HMAC-SHA256(embed secret, EMAIL) hex"> for any page
 * (align="right" opens the list leftwards, for a bell at the right edge).
 *
 * Load with <script src="https://NOTIFIER-HOST/embed.js"></script>: no build step, no
 * dependencies. The element signs in with POST /api/v1/embed/session (CORS, the tenant's
 * origins only), then shows a bell with the unread badge and a popover list, marks items
 * read, and stays live over the JSON SSE stream (EventSource with ?token=). Everything lives
 * in a shadow root; text is set with textContent only (no HTML from notifications). Styles
 * are a constructed stylesheet, which a host's CSP style-src does not block.
 */
(function () {
  "use strict";
  if (window.customElements.get("notifier-inbox")) {
    return;
  }
  var script = document.currentScript;
  var BASE = script ? new URL(script.src, document.baseURI).origin : window.location.origin;

  // Colours are variables on :host: theme="dark" or theme="auto" (follows the visitor's
  // colour scheme) switch them; the default stays light because the host page, not the
  // visitor's system, decides how its page looks. Hosts may also set the variables themselves.
  var DARK = "--ni-fg: #e6e9ef; --ni-muted: #aab2c0; --ni-bg: #1b2029; --ni-border: #3a4250; " +
    "--ni-rule: #2c333e; --ni-unread: #22304a; --ni-link: #8ab4ff; --ni-error: #ff8a80;";
  var CSS = [
    ":host { --ni-fg: #1d2330; --ni-muted: #4a5262; --ni-bg: #fff; --ni-border: #c9ced8; --ni-rule: #eef0f4; --ni-unread: #f3f7ff; --ni-link: #1a56c4; --ni-error: #b00020; }",
    ":host([theme=dark]) { " + DARK + " }",
    "@media (prefers-color-scheme: dark) { :host([theme=auto]) { " + DARK + " } }",
    ":host { position: relative; display: inline-block; font: 14px/1.4 system-ui, sans-serif; color: var(--ni-fg); }",
    "button { font: inherit; cursor: pointer; }",
    ".bell { position: relative; display: inline-flex; align-items: center; justify-content: center; width: 36px; height: 36px; border: 1px solid var(--ni-border); background: var(--ni-bg); color: var(--ni-fg); border-radius: 999px; padding: 0; }",
    ".bell svg { width: 20px; height: 20px; }",
    ".badge { position: absolute; top: -6px; right: -6px; min-width: 18px; padding: 0 5px; border-radius: 9px; background: #c62828; color: #fff; font-size: 12px; line-height: 18px; text-align: center; }",
    ".badge[hidden] { display: none; }",
    ".pop { position: absolute; left: 0; z-index: 1000; width: 320px; max-width: calc(100vw - 16px); max-height: 420px; overflow: auto; margin-top: 6px; background: var(--ni-bg); border: 1px solid var(--ni-border); border-radius: 8px; box-shadow: 0 6px 24px rgba(0,0,0,.15); }",
    ".pop[hidden] { display: none; }",
    ":host([align=right]) .pop { left: auto; right: 0; }",
    ".head { display: flex; justify-content: space-between; align-items: center; padding: 8px 10px; border-bottom: 1px solid var(--ni-rule); font-weight: 600; }",
    "ul { list-style: none; margin: 0; padding: 0; }",
    "li { padding: 8px 10px; border-bottom: 1px solid var(--ni-rule); }",
    "li.unread { background: var(--ni-unread); }",
    "li .title { font-weight: 600; }",
    "li .body { color: var(--ni-muted); }",
    "li .actions { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 4px; }",
    ".link { border: 0; background: none; color: var(--ni-link); padding: 0; }",
    "a.link { text-decoration: underline; }",
    ".empty, .error { padding: 12px 10px; color: var(--ni-muted); }",
    ".error { color: var(--ni-error); }"
  ].join("\n");

  // A bell drawn as SVG: an emoji needs a colour-emoji font the visitor may not have.
  var SVG = "http://www.w3.org/2000/svg";
  function bellIcon() {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    svg.setAttribute("aria-hidden", "true");
    ["M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9", "M13.73 21a2 2 0 0 1-3.46 0"].forEach(
      function (d) {
        var path = document.createElementNS(SVG, "path");
        path.setAttribute("d", d);
        svg.appendChild(path);
      }
    );
    return svg;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  class NotifierInbox extends HTMLElement {
    constructor() {
      super();
      this.root = this.attachShadow({ mode: "open" });
      this.items = [];
      this.unread = 0;
      this.token = null;
      this.source = null;
      this.render();
    }

    connectedCallback() {
      this.signIn();
    }

    disconnectedCallback() {
      if (this.source) this.source.close();
    }

    render() {
      var root = this.root;
      if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
      } else {
        root.appendChild(el("style", "", CSS));
      }
      this.bell = el("button", "bell");
      this.bell.appendChild(bellIcon());
      this.bell.type = "button";
      this.bell.setAttribute("part", "bell");
      this.bell.setAttribute("aria-label", "Notifications");
      this.bell.setAttribute("aria-expanded", "false");
      this.badge = el("span", "badge", "0");
      this.badge.hidden = true;
      this.badge.setAttribute("part", "badge");
      this.bell.appendChild(this.badge);
      this.pop = el("div", "pop");
      this.pop.hidden = true;
      this.pop.setAttribute("role", "dialog");
      this.pop.setAttribute("aria-label", "Notifications");
      var head = el("div", "head", "");
      head.appendChild(el("span", "", "Notifications"));
      this.allRead = el("button", "link", "Mark all read");
      this.allRead.type = "button";
      head.appendChild(this.allRead);
      this.list = el("ul", "list");
      this.status = el("div", "empty", "Loading\u2026");
      this.status.setAttribute("role", "status");
      this.pop.appendChild(head);
      this.pop.appendChild(this.status);
      this.pop.appendChild(this.list);
      root.appendChild(this.bell);
      root.appendChild(this.pop);
      var self = this;
      this.bell.addEventListener("click", function () {
        self.pop.hidden = !self.pop.hidden;
        self.bell.setAttribute("aria-expanded", String(!self.pop.hidden));
        self.markSeen();
      });
      this.allRead.addEventListener("click", function () {
        self.api("POST", "/api/v1/notifications/read-all");
      });
    }

    fail(message) {
      this.status.className = "error";
      this.status.setAttribute("role", "alert");
      this.status.textContent = message;
      this.status.hidden = false;
      this.pop.hidden = false;
      this.dispatchEvent(new CustomEvent("notifier-error", { detail: message }));
    }

    signIn() {
      var self = this;
      var body = { email: this.getAttribute("user") || "", hash: this.getAttribute("hash") || "" };
      fetch(BASE + "/api/v1/embed/session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit"
      })
        .then(function (resp) {
          if (!resp.ok) throw new Error("Could not sign in to notifications (" + resp.status + ")");
          return resp.json();
        })
        .then(function (session) {
          self.token = session.token;
          self.streamToken = session.stream_token;
          // Sign in again a minute before the token expires.
          setTimeout(function () { self.refresh(); }, Math.max(60, session.expires_in - 60) * 1000);
          return self.load().then(function () { self.listen(); });
        })
        .catch(function (err) {
          self.fail(err && err.message && err.message.indexOf("Could not") === 0
            ? err.message : "Could not reach the notification service");
        });
    }

    refresh() {
      if (this.source) this.source.close();
      this.signIn();
    }

    api(method, path, payload) {
      var opts = {
        method: method,
        headers: { Authorization: "Bearer " + this.token },
        credentials: "omit"
      };
      if (payload !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(payload);
      }
      return fetch(BASE + path, opts).then(function (resp) {
        if (!resp.ok) throw new Error("request failed (" + resp.status + ")");
        return resp.json();
      });
    }

    load() {
      var self = this;
      return Promise.all([
        this.api("GET", "/api/v1/notifications?limit=20"),
        this.api("GET", "/api/v1/notifications/stats")
      ]).then(function (results) {
        self.items = results[0].items;
        // The stream resumes from the list's cursor: nothing published between the list
        // and the stream's subscription is missed (the first page open raced it).
        self.cursor = results[0].cursor;
        self.setUnread(results[1].unread);
        self.draw();
      });
    }

    listen() {
      var self = this;
      var url = BASE + "/api/v1/notifications/stream?token=" + encodeURIComponent(this.streamToken);
      if (this.cursor != null) url += "&after=" + encodeURIComponent(this.cursor);
      var source = (this.source = new EventSource(url));
      source.addEventListener("notification", function (ev) {
        var n = JSON.parse(ev.data);
        self.items = [n].concat(self.items.filter(function (i) { return i.id !== n.id; }));
        self.draw();
        self.dispatchEvent(new CustomEvent("notifier-notification", { detail: n }));
      });
      source.addEventListener("stats", function (ev) {
        self.setUnread(JSON.parse(ev.data).unread);
      });
      source.addEventListener("update", function (ev) {
        var u = JSON.parse(ev.data);
        if (u.action === "delete" || u.action === "archive" || u.action === "snooze") {
          // Gone from the inbox (archived items live in the full notification center).
          self.items = self.items.filter(function (i) { return u.ids.indexOf(i.id) < 0; });
        } else if (u.action === "read" || u.action === "unread") {
          self.items.forEach(function (i) {
            if (u.ids.indexOf(i.id) >= 0) i.is_read = u.action === "read";
          });
        } else if (u.action === "seen") {
          self.items.forEach(function (i) {
            if (u.ids.indexOf(i.id) >= 0) i.seen_at = i.seen_at || "seen";
          });
        }
        self.draw();
        self.markSeen();
      });
      source.addEventListener("reset", function () { self.load(); });
    }

    markSeen() {
      // Items shown in the open popover count as seen (CONTRACT §9), reported in one call.
      if (this.pop.hidden) return;
      var ids = this.items.filter(function (i) { return !i.seen_at; }).map(function (i) { return i.id; });
      if (ids.length) {
        this.items.forEach(function (i) { if (ids.indexOf(i.id) >= 0) i.seen_at = "pending"; });
        this.api("POST", "/api/v1/notifications/bulk", { action: "seen", ids: ids });
      }
    }

    setUnread(count) {
      this.unread = count;
      this.badge.textContent = count > 99 ? "99+" : String(count);
      this.badge.hidden = count === 0;
      this.bell.setAttribute("aria-label", "Notifications, " + count + " unread");
    }

    draw() {
      var self = this;
      this.list.textContent = "";
      this.status.hidden = this.items.length > 0;
      this.status.className = "empty";
      this.status.textContent = "No notifications";
      this.items.forEach(function (n) {
        var li = el("li", n.is_read ? "read" : "unread");
        li.dataset.id = String(n.id);
        li.appendChild(el("div", "title", n.title));
        if (n.body) li.appendChild(el("div", "body", n.body));
        var actions = el("div", "actions");
        if (n.url && /^https?:/i.test(n.url)) {
          var open = el("a", "link", "Open");
          open.href = n.url;
          open.target = "_top";
          open.rel = "noopener";
          actions.appendChild(open);
          actions.appendChild(document.createTextNode(" "));
        }
        if (!n.is_read) {
          var read = el("button", "link", "Mark read");
          read.type = "button";
          read.addEventListener("click", function () {
            self.api("POST", "/api/v1/notifications/bulk", { action: "read", ids: [n.id] });
          });
          actions.appendChild(read);
          actions.appendChild(document.createTextNode(" "));
        }
        var archive = el("button", "link", "Archive");
        archive.type = "button";
        archive.addEventListener("click", function () {
          self.api("POST", "/api/v1/notifications/bulk", { action: "archive", ids: [n.id] });
        });
        actions.appendChild(archive);
        li.appendChild(actions);
        self.list.appendChild(li);
      });
    }
  }

  window.customElements.define("notifier-inbox", NotifierInbox);
})();
