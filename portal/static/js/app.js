// Small behaviours the pages share: dialogs, confirmations, auto-submitting selects, busy buttons.
(function () {
  "use strict";

  function dialog() { return document.getElementById("dialog"); }

  function closeDialog() {
    var d = dialog();
    if (d && d.open) { d.close(); }
  }

  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) { event.preventDefault(); closeDialog(); }
  });

  // A click on the backdrop (outside the article) closes the dialog.
  document.addEventListener("click", function (event) {
    var d = dialog();
    if (d && event.target === d) { closeDialog(); }
  });

  // Forms and links that open a page in the dialog: show it once htmx has put the content in.
  document.addEventListener("htmx:afterSwap", function (event) {
    var d = dialog();
    if (d && event.detail.target && event.detail.target.id === "dialog-body" && !d.open) {
      d.showModal();
      var first = d.querySelector("input:not([type=hidden]), select, textarea");
      if (first) { first.focus(); }
    }
  });

  document.body && document.body.addEventListener("closeDialog", closeDialog);
  document.addEventListener("DOMContentLoaded", function () {
    document.body.addEventListener("closeDialog", closeDialog);
  });

  // Plain (non-htmx) forms ask before destructive actions; htmx forms use hx-confirm.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-confirm") && !form.hasAttribute("hx-post") &&
        !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("select[data-autosubmit]") && el.form) {
      if (el.form.requestSubmit) { el.form.requestSubmit(); } else { el.form.submit(); }
    }
  });

  // Pico shows a spinner on aria-busy elements: mark the element that started a request.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var button = elt.matches("form") ? elt.querySelector("button[type=submit]") : elt;
    if (button && button.matches("button, [role=button]")) { button.setAttribute("aria-busy", "true"); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var busy = elt.matches("[aria-busy]") ? [elt] : Array.prototype.slice.call(elt.querySelectorAll("[aria-busy]"));
    busy.forEach(function (b) { b.removeAttribute("aria-busy"); });
  });
})();
