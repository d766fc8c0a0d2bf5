// The shop list as a workspace: new rows, bulk actions, focus after swaps, announcements.
(function () {
  "use strict";

  var BULK_CONCURRENCY = 2; // Verify requests in flight at once during a bulk Verify
  var bulkRows = {};        // row ids whose Verify a bulk run started (no focus move for those)
  var tickedRows = {};      // row id -> whether its checkbox was ticked when its Verify started
  var paging = false;       // a pager link's request is under way

  function results() { return document.getElementById("results"); }

  function rowCheckboxes(scope) {
    return Array.prototype.slice.call((scope || document).querySelectorAll("table.shops input[name=shop_ids]"));
  }

  // The server puts a new shop's row into the list only when it knows a list is on the page: tell it
  // which one ("all" or "mine") on requests from the dialog. Without rows (empty list) it redirects.
  document.addEventListener("htmx:configRequest", function (event) {
    var list = results();
    if (list && event.detail.elt.closest("#dialog") && list.querySelector("table.shops > tbody")) {
      event.detail.headers["X-Shop-List"] = list.getAttribute("data-view");
    }
  });

  // --- select all ---------------------------------------------------------------------------------
  function syncSelectAll() {
    var all = document.querySelector("table.shops [data-select-all]");
    if (!all) { return; }
    var boxes = rowCheckboxes(), ticked = boxes.filter(function (b) { return b.checked; }).length;
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("table.shops [data-select-all]")) {
      rowCheckboxes().forEach(function (box) { box.checked = el.checked; });
    } else if (el.matches("table.shops input[name=shop_ids]")) {
      syncSelectAll();
    }
  });

  // --- bulk Verify: one request per ticked row, a few at a time; each row updates on its answer ------
  function verifyForm(row) { return row.querySelector("form[hx-post$='/verify']"); }

  function verifyRow(id) {
    var row = document.getElementById(id), form = row && verifyForm(row);
    if (!form) { return Promise.resolve(); }
    bulkRows[id] = true;
    // bulkRows[id] is cleared when the answer's row arrives (htmx:load, after the settle delay) or the
    // request failed (htmx:afterRequest).
    return window.htmx.ajax("POST", form.getAttribute("hx-post"), {source: form, target: row, swap: "outerHTML"})
      .catch(function () { delete bulkRows[id]; });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-bulk-verify]");
    if (!button || !window.htmx) { return; }
    event.preventDefault();
    var queue = rowCheckboxes().filter(function (b) { return b.checked; })
      .map(function (b) { return b.closest("tr").id; });
    // Not disabled while running (a disabled button would drop the focus): busy, and a second click waits.
    if (!queue.length || button.getAttribute("aria-busy") === "true") { return; }
    button.setAttribute("aria-busy", "true");
    var running = 0;
    function next() {
      if (!queue.length) {
        if (running === 0) { button.removeAttribute("aria-busy"); }
        return;
      }
      running += 1;
      verifyRow(queue.shift()).then(function () { running -= 1; next(); });
    }
    for (var i = 0; i < BULK_CONCURRENCY; i += 1) { next(); }
  });

  // --- after swaps: keep ticks, focus, announce --------------------------------------------------
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    // By the time the new page has settled htmx reports the target as the requesting element (the
    // pager link is gone): remember here that this request pages.
    if (elt.closest && elt.closest("#results .pager")) { paging = true; }
    var row = elt.closest && elt.closest("table.shops tbody tr[id]");
    var box = row && row.querySelector("input[name=shop_ids]");
    if (box) { tickedRows[row.id] = box.checked; }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) { paging = false; }
    var row = event.detail.elt.closest && event.detail.elt.closest("table.shops tbody tr[id]");
    if (row && !event.detail.successful) { delete bulkRows[row.id]; delete tickedRows[row.id]; }
  });

  function announce(row) {
    var region = document.getElementById("list-announcer");
    var name = row.querySelector("td a"), status = row.querySelector(".status");
    if (!region || !status) { return; }
    var text = ((name ? name.textContent + ": " : "") + status.textContent).replace(/\s+/g, " ").trim();
    region.textContent = "";
    // A change of text after a tick is announced even when it is the same as the previous one.
    window.setTimeout(function () { region.textContent = text; }, 50);
  }

  function focusVerify(row) {
    var button = row.querySelector("form[hx-post$='/verify'] button[type=submit]");
    if (button) { button.focus(); }
  }

  // htmx:load fires on each element htmx inserted at the top of a swap: a row answered by Verify
  // (outerHTML) or a new shop's row (put first in the tbody).
  document.addEventListener("htmx:load", function (event) {
    var row = event.target;
    if (!row.matches || !row.matches("table.shops tbody tr[id]")) { return; }
    var box = row.querySelector("input[name=shop_ids]");
    if (box && tickedRows[row.id]) { box.checked = true; }
    delete tickedRows[row.id];
    syncSelectAll();
    if (row.classList.contains("row-added")) {
      focusVerify(row);
      return;
    }
    announce(row);
    if (!bulkRows[row.id]) { focusVerify(row); }
    delete bulkRows[row.id];
  });

  // Paging: show the top of the new page and put focus there (not on a link that no longer exists).
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!paging || !target || target.id !== "results") { return; }
    paging = false;
    var heading = target.querySelector(".results-heading");
    target.scrollIntoView({block: "start"});
    if (heading) { heading.focus({preventScroll: true}); }
  });
})();
