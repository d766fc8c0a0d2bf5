// Loads htmx from the pinned CDN file (integrity-checked), or the same-origin copy when the CDN has not
// delivered within data-timeout ms or failed. Nothing here blocks the page: a CDN that never answers
// (a firewall dropping packets) only delays htmx by the timeout, never the page.
(function () {
  "use strict";
  var me = document.currentScript;
  var cdn = me.getAttribute("data-cdn");
  var integrity = me.getAttribute("data-integrity");
  var local = me.getAttribute("data-local");
  var timeout = parseInt(me.getAttribute("data-timeout"), 10) || 2000;
  var chosen = null; // "cdn" or "local": once chosen, the other copy never runs
  var contentLoaded = document.readyState !== "loading";

  document.addEventListener("DOMContentLoaded", function () { contentLoaded = true; });

  // htmx 2 starts itself on DOMContentLoaded, or at once in a document that is already complete. A copy
  // that runs in between (DOMContentLoaded fired, the load event still pending: a hanging CDN request
  // delays it) would wait forever; give its listener the event it missed.
  function start() {
    if (window.htmx && contentLoaded && document.readyState !== "complete") {
      document.dispatchEvent(new Event("DOMContentLoaded"));
    }
  }

  function run(src, checked, onFailure) {
    var script = document.createElement("script");
    if (checked) {
      script.integrity = integrity;
      script.crossOrigin = "anonymous";
    }
    script.onload = start;
    if (onFailure) { script.onerror = onFailure; }
    script.src = src;
    document.head.appendChild(script);
  }

  function useLocal() {
    if (chosen === "local" || window.htmx) { return; }
    chosen = "local";
    run(local, false);
  }

  if (!cdn) { useLocal(); return; }
  // Fetch without running: a CDN file that arrives after the fallback started is simply not used,
  // so only one htmx ever initialises. The script element then takes the file from the preload.
  var preload = document.createElement("link");
  preload.rel = "preload";
  preload.as = "script";
  preload.integrity = integrity;
  preload.crossOrigin = "anonymous";
  preload.onload = function () {
    if (chosen) { return; }
    chosen = "cdn";
    run(cdn, true, function () { chosen = null; useLocal(); });
  };
  preload.onerror = function () { if (!chosen) { useLocal(); } };
  preload.href = cdn;
  document.head.appendChild(preload);
  window.setTimeout(function () { if (!chosen) { useLocal(); } }, timeout);
})();
