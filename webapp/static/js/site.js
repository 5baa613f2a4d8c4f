// Small behaviours on top of htmx: the municipality combobox, the partner fields,
// focus and announcements after a swap, polling when the live stream cannot connect,
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
    if (!target) { return; }
    if (target.id === "application-form" || target.querySelector && target.querySelector("#application-form")) {
      setup(document);
    }
    if (target.querySelector) {
      updated(target, Boolean(e.detail.requestConfig && e.detail.requestConfig.verb !== "get"));
    }
  });

  // A live update from the event stream (its swap carries no request details).
  document.addEventListener("htmx:sseMessage", function (e) { updated(e.target, false); });

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

  // The phone app re-renders its screen when the journey moved on elsewhere
  // (the delivery finished, or the journey was stopped on the desktop).
  document.addEventListener("htmx:sseMessage", function (e) {
    if (!e.target || e.target.id !== "state-watch") { return; }
    var screen = document.getElementById("screen");
    var watcher = e.target.closest("[data-poll-url]");
    if (screen && watcher && screen.dataset.state !== e.detail.data) {
      htmx.ajax("GET", watcher.dataset.pollUrl, { target: "#app-screen", swap: "innerHTML" });
    }
  });

  // When the live stream cannot connect, poll the same fragment instead, until it connects
  // again. A stream that merely ended (a web process restarting) is reconnected by the
  // browser, and the server sends the current state first: poll only if that takes long.
  var POLL_MS = 2000, RECONNECT_GRACE_MS = 5000;
  var polls = new WeakMap();
  function startPolling(source) {
    if (source.dataset.polling) { return; }
    source.dataset.polling = "1";
    var target = document.getElementById(source.dataset.pollTarget);
    function poll() { htmx.ajax("GET", source.dataset.pollUrl, { target: target, swap: "innerHTML" }); }
    poll();
    polls.set(source, setInterval(poll, POLL_MS));
  }
  document.addEventListener("htmx:sseError", function (e) {
    var source = e.target.closest("[data-poll-url]");
    var events = e.detail && e.detail.source;
    if (!source || source.dataset.polling) { return; }
    if (!events || events.readyState === EventSource.CLOSED) { startPolling(source); return; }
    var opened = source.dataset.opened;  // reconnecting: poll if it has not opened by then
    setTimeout(function () { if (source.dataset.opened === opened) { startPolling(source); } },
               RECONNECT_GRACE_MS);
  });
  document.addEventListener("htmx:sseOpen", function (e) {
    var source = e.target.closest("[data-poll-url]");
    if (!source) { return; }
    source.dataset.opened = String(Number(source.dataset.opened || 0) + 1);
    if (source.dataset.polling) {
      clearInterval(polls.get(source));
      delete source.dataset.polling;
    }
  });
})();
