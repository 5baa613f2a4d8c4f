// Small behaviours on top of htmx: the municipality combobox, the partner fields,
// focus and announcements after a swap, live updates that keep what the customer is doing
// (polling only while the live stream is down), a message for every failed request,
// and the installable app (service worker, install offer).
(function () {
  "use strict";

  // Municipality combobox (WAI-ARIA combobox with a listbox popup).
  function setupCombobox(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    function options() { return Array.from(document.querySelectorAll("#" + list.id + " [role=option]")); }
    function current() { return options().findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; }); }
    function open(show) {
      var l = document.getElementById(list.id);
      if (l) { l.hidden = !show; }
      input.setAttribute("aria-expanded", show ? "true" : "false");
      if (!show) { input.removeAttribute("aria-activedescendant"); }
    }
    function highlight(index) {
      var opts = options();
      opts.forEach(function (o, i) { o.setAttribute("aria-selected", i === index ? "true" : "false"); });
      if (opts[index]) {
        input.setAttribute("aria-activedescendant", opts[index].id);
        opts[index].scrollIntoView({ block: "nearest" });
      }
    }
    function choose(option) {
      input.value = option.dataset.value;
      open(false);
    }
    input.addEventListener("keydown", function (e) {
      var opts = options();
      if (e.key === "ArrowDown" && opts.length) { e.preventDefault(); open(true); highlight(Math.min(current() + 1, opts.length - 1)); }
      else if (e.key === "ArrowUp" && opts.length) { e.preventDefault(); highlight(Math.max(current() - 1, 0)); }
      else if (e.key === "Enter" && current() >= 0 && input.getAttribute("aria-expanded") === "true") { e.preventDefault(); choose(opts[current()]); }
      else if (e.key === "Escape") { open(false); }
    });
    input.addEventListener("blur", function () { setTimeout(function () { open(false); }, 150); });
    document.addEventListener("mousedown", function (e) {
      var option = e.target.closest("#" + list.id + " [role=option]");
      if (option) { e.preventDefault(); choose(option); }
    });
    document.body.addEventListener("htmx:afterSwap", function (e) {
      if (e.target.id === list.id || (e.detail.target && e.detail.target.id === list.id)) {
        var l = document.getElementById(list.id);
        open(!!l && l.children.length > 0 && input.value.trim() !== "");
      }
    });
  }

  // Partner details only when "Ja" is chosen (without script they stay visible).
  function setupPartner(form) {
    var details = form.querySelector("#partner-details");
    if (!details) { return; }
    function sync() {
      var yes = form.querySelector("input[name=partner][value=ja]");
      details.hidden = !(yes && yes.checked);
    }
    form.addEventListener("change", function (e) { if (e.target.name === "partner") { sync(); } });
    sync();
  }

  function setup(root) {
    root.querySelectorAll("input[role=combobox]").forEach(setupCombobox);
    root.querySelectorAll("#application-form").forEach(setupPartner);
    var summary = root.querySelector("#error-summary");
    if (summary) { summary.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () { setup(document); });

  document.addEventListener("htmx:afterSwap", function (e) {
    var target = e.detail.target;
    if (!target || !e.detail.requestConfig) { return; }  // live updates: see liveSwap
    if (target.id === "application-form" || target.querySelector && target.querySelector("#application-form")) {
      setup(document);
    }
    if (target.querySelector) {
      updated(target, e.detail.requestConfig.verb !== "get");
    }
  });

  // After a step changes, move focus to its heading so screen readers follow: always after
  // the customer's own action, and after a live update only when the focus was swapped away.
  function updated(region, byCustomer) {
    var heading = region.querySelector("[data-focus-on-swap]");
    var focusLost = !document.activeElement || document.activeElement === document.body;
    if (heading && (byCustomer || focusLost)) { heading.focus(); }
    if (!byCustomer) { announce(region); }
  }

  // Live updates are read out through one live region that is on the page from the start
  // (a region that is itself swapped in is not announced reliably).
  function announce(region) {
    var announcer = document.getElementById("announcer");
    if (!announcer) { return; }
    var parts = region.matches("[data-announce]") ? [region]
      : Array.from(region.querySelectorAll("[data-announce]"));
    if (!parts.length) { parts = Array.from(region.querySelectorAll("h1")); }
    var text = parts.map(function (el) { return el.textContent.trim(); }).join(" ");
    if (text && text !== announcer.textContent) { announcer.textContent = text; }
  }

  // The installable app: its service worker, and the browser's install offer (Chromium).
  var manifest = document.querySelector("link[rel=manifest][data-service-worker]");
  if (manifest && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(manifest.dataset.serviceWorker, { scope: manifest.dataset.scope })
      .catch(function () { /* the app works without it, only not offline */ });
  }
  var installOffer = null;
  function showInstallOffer() {
    document.querySelectorAll("[data-install-offer]").forEach(function (el) { el.hidden = !installOffer; });
  }
  window.addEventListener("beforeinstallprompt", function (e) {
    e.preventDefault();
    installOffer = e;
    showInstallOffer();
  });
  window.addEventListener("appinstalled", function () {
    installOffer = null;
    showInstallOffer();
    document.querySelectorAll("[data-install-done]").forEach(function (el) { el.hidden = false; });
  });
  document.addEventListener("click", function (e) {
    if (!installOffer || !e.target.closest("[data-install-button]")) { return; }
    installOffer.prompt();
    installOffer.userChoice.finally(function () { installOffer = null; showInstallOffer(); });
  });
  document.addEventListener("htmx:afterSettle", showInstallOffer);

  // Live updates: the event stream, or polling while it is down. One never replaces what the
  // customer is in the middle of: an update that shows nothing new is not swapped in at all,
  // and a real change keeps the ticked boxes, typed text and focus that are still there.
  var IGNORED_ATTRIBUTES = ["class", "style", "hidden"];  // changed by scripts, not by the server
  var FIELDS = "input:not([type=hidden]), textarea, select";
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]";

  function signature(nodes) {
    var parts = [];
    (function walk(list) {
      Array.prototype.forEach.call(list, function (node) {
        if (node.nodeType === 3) {
          var text = node.data.replace(/\s+/g, " ").trim();
          if (text) { parts.push(text); }
        } else if (node.nodeType === 1) {
          var attributes = Array.from(node.attributes)
            .filter(function (a) { return IGNORED_ATTRIBUTES.indexOf(a.name) < 0; })
            .map(function (a) { return a.name + "=" + a.value; }).sort();
          parts.push("<" + node.tagName + " " + attributes.join(" "));
          walk(node.tagName === "TEMPLATE" ? node.content.childNodes : node.childNodes);
          parts.push(">");
        }
      });
    })(nodes);
    return parts.join("\u0001");
  }

  function showsAlready(target, html) {
    var incoming = document.createElement("template");
    incoming.innerHTML = html;
    return signature(target.childNodes) === signature(incoming.content.childNodes);
  }

  // What identifies a field or button across a re-render: its id, else its form, name and text.
  function keyOf(el) {
    if (el.id) { return "#" + el.id; }
    var form = el.closest("form");
    var choice = el.type === "checkbox" || el.type === "radio" ? el.value : "";
    var label = el.getAttribute("aria-label") ||
      (el.tagName === "BUTTON" || el.tagName === "A" ? el.textContent.trim() : "");
    return [el.tagName, form ? form.getAttribute("action") : "", el.getAttribute("name") || "",
            choice, el.getAttribute("href") || "", label].join("|");
  }

  function customerState(target) {
    var active = document.activeElement;
    var state = { focus: null, fields: [] };
    if (active && active !== document.body && target.contains(active)) { state.focus = keyOf(active); }
    target.querySelectorAll(FIELDS).forEach(function (el) {
      if (el.type === "checkbox" || el.type === "radio") {
        if (el.checked !== el.defaultChecked) { state.fields.push([keyOf(el), "checked", el.checked]); }
      } else if (el.value !== el.defaultValue) {
        state.fields.push([keyOf(el), "value", el.value]);
      }
    });
    return state;
  }

  function restore(target, state) {
    function find(key, selector) {
      return Array.from(target.querySelectorAll(selector)).find(function (el) { return keyOf(el) === key; });
    }
    state.fields.forEach(function (field) {
      var el = find(field[0], FIELDS);
      if (el) { el[field[1]] = field[2]; }
    });
    var focus = state.focus && find(state.focus, FOCUSABLE);
    if (focus && document.activeElement !== focus) { focus.focus({ preventScroll: true }); }
  }

  // Swap a live fragment into `target`; false when it showed that already.
  function liveSwap(target, html) {
    if (!target || showsAlready(target, html)) { return false; }
    var state = customerState(target);
    htmx.swap(target, html, { swapStyle: "innerHTML", swapDelay: 0, settleDelay: 20 });
    restore(target, state);
    updated(target, false);
    return true;
  }

  // Views of a journey may arrive out of order (an event overtaking another, a poll's answer
  // overtaken by an event): each says its order (an event's id, a fragment's X-View-Version)
  // and the live container keeps the newest it showed (data-version). An older one is dropped.
  function isOlder(container, version) {
    if (!container || version === null || version === "" || isNaN(Number(version))) { return false; }
    var shown = container.dataset.version;
    if (shown !== undefined && Number(version) < Number(shown)) { return true; }
    container.dataset.version = version;
    return false;
  }

  // From the event stream: htmx's extension swaps it in, unless it is older than what the page
  // shows or shows nothing new.
  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var elt = e.target;
    if (isOlder(elt.closest("[data-poll-url]"), e.detail.lastEventId)) { e.preventDefault(); return; }
    if (elt.getAttribute("hx-swap") === "none") { return; }
    if (showsAlready(elt, e.detail.data)) { e.preventDefault(); return; }
    elt.ocktoCustomerState = customerState(elt);
  });
  document.addEventListener("htmx:sseMessage", function (e) {
    var elt = e.target;
    if (elt.getAttribute("hx-swap") === "none") { return; }
    if (elt.ocktoCustomerState) { restore(elt, elt.ocktoCustomerState); }
    elt.ocktoCustomerState = null;
    updated(elt, false);
  });

  // The page's live fragment fetched anew (a poll, or after a stale action).
  function refresh(container) {
    var target = document.getElementById(container.dataset.pollTarget);
    return fetch(container.dataset.pollUrl, { headers: { "HX-Request": "true" }, cache: "no-store",
                                              credentials: "same-origin" })
      .then(function (response) {
        connectionNotice(container, false);
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        if (isOlder(container, response.headers.get("X-View-Version"))) { return null; }
        return response.text();
      }, function (error) {
        connectionNotice(container, true);  // no answer at all: no network
        throw error;
      })
      .then(function (html) { return html !== null && liveSwap(target, html); });
  }

  // The phone app re-renders its screen when the journey moved on elsewhere
  // (the delivery finished, or the journey was stopped on the desktop).
  // A button's answer (a source asked for) may come after a newer event: dropped likewise.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var xhr = e.detail.xhr;
    if (!xhr || xhr.status !== 200 || !e.detail.target) { return; }
    if (isOlder(e.detail.target.closest("[data-poll-url]"), xhr.getResponseHeader("X-View-Version"))) {
      e.detail.shouldSwap = false;
    }
  });

  document.addEventListener("htmx:sseMessage", function (e) {
    if (!e.target || e.target.id !== "state-watch") { return; }
    var screen = document.getElementById("screen");
    var container = e.target.closest("[data-poll-url]");
    if (screen && container && screen.dataset.state !== e.detail.data) {
      refresh(container).catch(function () { /* the next state or poll tries again */ });
    }
  });

  // The event stream reconnects by itself (the browser's EventSource retry; htmx's extension
  // opens a new one when the server refused it), and the server sends the current state on
  // every connect. Only while it is down does the page poll its fragment, less often the
  // longer that lasts (POLL_FIRST_MS doubling up to POLL_MAX_MS); it stops once the stream is open.
  // A stream that merely ended (a web process restarting) is being reconnected by the browser,
  // which gets the current state first: the page polls only if that takes RECONNECT_GRACE_MS.
  var POLL_FIRST_MS = 2000;
  var POLL_MAX_MS = 16000;
  var RECONNECT_GRACE_MS = 5000;

  function liveState(container) {
    if (!container.ocktoLive) { container.ocktoLive = { timer: null, delay: POLL_FIRST_MS }; }
    return container.ocktoLive;
  }

  function pollLater(container) {
    var live = liveState(container);
    live.timer = setTimeout(function () {
      live.timer = null;
      if (container.dataset.stream !== "down" || !container.isConnected) { return; }
      refresh(container).then(function (changed) {
        live.delay = changed ? POLL_FIRST_MS : Math.min(Math.max(live.delay * 2, POLL_FIRST_MS), POLL_MAX_MS);
      }, function () {
        live.delay = Math.min(Math.max(live.delay * 2, POLL_FIRST_MS), POLL_MAX_MS);
      }).then(function () {
        if (container.dataset.stream === "down" && !live.timer) { pollLater(container); }
      });
    }, live.delay);
  }

  document.addEventListener("htmx:sseError", function (e) {
    var container = e.target.closest("[data-poll-url]");
    if (!container) { return; }
    container.dataset.stream = "down";
    var live = liveState(container);
    var events = e.detail && e.detail.source;
    var reconnecting = events && events.readyState !== EventSource.CLOSED;
    if (reconnecting && live.delay < RECONNECT_GRACE_MS) { live.delay = RECONNECT_GRACE_MS; }
    if (!live.timer) { pollLater(container); }
  });

  document.addEventListener("htmx:sseOpen", function (e) {
    var container = e.target.closest("[data-poll-url]");
    if (!container) { return; }
    var live = liveState(container);
    container.dataset.stream = "open";
    clearTimeout(live.timer);
    live.timer = null;
    live.delay = POLL_FIRST_MS;
    connectionNotice(container, false);
  });

  // Back online: poll at once (the stream's own retry may take a while longer).
  window.addEventListener("online", function () {
    document.querySelectorAll("[data-poll-url][data-stream=down]").forEach(function (container) {
      var live = liveState(container);
      clearTimeout(live.timer);
      live.timer = null;
      live.delay = 0;
      pollLater(container);
    });
  });

  function message(name) {
    var messages = document.getElementById("request-problems");
    var found = messages && (messages.content.querySelector('[data-problem="' + name + '"]') ||
                             messages.content.querySelector('[data-problem="other"]'));
    return found ? found.textContent.trim() : "";
  }

  // While polls fail too (no network), the page says so; it goes when a poll or the stream works.
  function connectionNotice(container, show) {
    var notice = container.querySelector(":scope > .connection-notice");
    if (!show) {
      if (notice) { notice.remove(); }
      return;
    }
    if (notice) { return; }
    notice = document.createElement("p");
    notice.className = "notice connection-notice";
    notice.setAttribute("role", "status");
    notice.textContent = message("offline");
    container.insertBefore(notice, container.firstChild);
  }

  // A request that failed gets a short Dutch message where the customer is looking (a 429's
  // own page is swapped into the main area by the server's HX-Retarget): just
  // above the form or button that sent it. A stale action (409: the journey moved on, in
  // another window, on the phone, or because it was replaced or withdrawn) first shows the
  // journey as it is now, with the message on top.
  function showProblem(before, name) {
    document.querySelectorAll(".request-problem").forEach(function (el) { el.remove(); });
    if (!before || !before.parentNode) { return; }
    var problem = document.createElement("div");
    problem.className = "error-summary request-problem";
    problem.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = message(name);
    problem.appendChild(text);
    before.parentNode.insertBefore(problem, before);
  }

  function requestFailed(elt, status) {
    var name = !status ? "network" : ([403, 409, 503].indexOf(status) >= 0 ? String(status) : "other");
    var origin = elt && elt.closest ? elt : null;
    var container = origin && origin.closest("[data-poll-url]");
    if (status === 409 && container) {
      var target = document.getElementById(container.dataset.pollTarget);
      refresh(container).then(function () {
        showProblem(target.firstElementChild, name);
      }, function () {
        showProblem(origin.closest("form") || origin, "network");
      });
      return;
    }
    if (!origin || origin === document.body) { origin = document.querySelector("#main > *"); }
    showProblem(origin.closest("form") || origin, name);
  }

  document.addEventListener("htmx:beforeRequest", function () {
    document.querySelectorAll(".request-problem").forEach(function (el) { el.remove(); });
  });
  document.addEventListener("htmx:responseError", function (e) {
    requestFailed(e.detail.elt, e.detail.xhr ? e.detail.xhr.status : 0);
  });
  document.addEventListener("htmx:sendError", function (e) { requestFailed(e.detail.elt, 0); });
  document.addEventListener("htmx:timeout", function (e) { requestFailed(e.detail.elt, 0); });

  // A form's answer with errors names the form's own address: that replaces the POST in the
  // history, so Back or reload never asks to send the form again.
  var formUrl = document.querySelector("meta[name=form-url]");
  if (formUrl && window.history.replaceState) {
    window.history.replaceState(null, "", formUrl.content);
  }
})();
