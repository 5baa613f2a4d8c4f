// The Ockto app's service worker (scope /app/). It keeps the app shell and an offline page.
// Privacy rule: nothing that can hold personal data is ever cached. Only the fixed URLs in
// SHELL go into the cache; journey pages, fragments, event streams and every other /app/
// response go to the network only.
"use strict";

var CACHE = "ockto-shell-v2";
// The offline page and the manifest, one per language (Dutch, the default, and English);
// the page registers this worker with its language (sw.js?taal=en), the offline page's.
var OFFLINE_PAGES = { nl: "/app/offline", en: "/app/offline/en" };
var OFFLINE = OFFLINE_PAGES[new URLSearchParams(self.location.search).get("taal")] || OFFLINE_PAGES.nl;
var SHELL = [
  OFFLINE_PAGES.nl,
  OFFLINE_PAGES.en,
  "/static/manifest.webmanifest",
  "/static/manifest.en.webmanifest",
  "/static/css/site.css",
  "/static/js/site.js",
  "/static/js/scan.js",
  "/static/vendor/htmx-2.0.11.min.js",
  "/static/vendor/htmx-ext-sse-2.2.4.js",
  "/static/vendor/jsQR-1.4.0.js",
  "/static/icons/icon-192.png",
  "/static/icons/favicon-32.png"
];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (key) { return key !== CACHE; })
      .map(function (key) { return caches.delete(key); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin === self.location.origin && SHELL.indexOf(url.pathname) >= 0) {
    // The shell: fresh from the network when online, from the cache when not.
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () { return caches.match(url.pathname); }));
  } else if (request.mode === "navigate") {
    // A page: network only; without a network the offline page, never an old copy.
    event.respondWith(fetch(request).catch(function () { return caches.match(OFFLINE); }));
  }
  // Everything else (fragments, event streams, posts): the browser goes to the network.
});
