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

  // Changed since the dialog opened: an outside click or Escape then asks before dropping the changes.
  var changed = false;
  function noteChange(event) {
    var d = dialog();
    if (d && d.open && d.contains(event.target) && event.target.matches("input, select, textarea")) { changed = true; }
  }
  document.addEventListener("input", noteChange);
  document.addEventListener("change", noteChange);

  // True when the dialog may close: nothing changed, or the user agreed to drop the changes.
  function mayDiscard() {
    var d = dialog();
    var asker = d && d.querySelector("[data-discard-confirm]");
    if (!changed || !asker) { return true; }
    return window.confirm(asker.getAttribute("data-discard-confirm"));
  }

  // A click on the backdrop (outside the article) closes the dialog; a press that started inside (a
  // text selection dragged out) does not.
  var pressedOnBackdrop = false;
  document.addEventListener("mousedown", function (event) { pressedOnBackdrop = event.target === dialog(); });
  document.addEventListener("click", function (event) {
    var d = dialog();
    if (d && d.open && event.target === d && pressedOnBackdrop && mayDiscard()) { closeDialog(); }
  });

  function watchDialog() {
    var d = dialog();
    if (!d || d.dataset.watched) { return; }
    d.dataset.watched = "1";
    // Escape fires `cancel`.
    d.addEventListener("cancel", function (event) { if (!mayDiscard()) { event.preventDefault(); } });
    // A closed dialog keeps nothing: the next one starts empty (no typed token carried over).
    d.addEventListener("close", function () {
      changed = false;
      var body = document.getElementById("dialog-body");
      if (body) { body.replaceChildren(); }
    });
  }
  watchDialog();
  document.addEventListener("DOMContentLoaded", watchDialog);

  // A form in the dialog answered without field errors: what was typed is saved, nothing to ask.
  document.addEventListener("htmx:afterSettle", function (event) {
    var d = dialog();
    var config = event.detail.requestConfig;
    if (d && d.open && config && config.verb === "post" && d.contains(event.detail.target) &&
        !d.querySelector(".field-error, [aria-invalid=true], .flash-error")) {
      changed = false;
    }
  });

  // Forms and links that open a page in the dialog: show it once htmx has put the content in.
  document.addEventListener("htmx:afterSwap", function (event) {
    var d = dialog();
    if (d && event.detail.target && event.detail.target.id === "dialog-body" && !d.open) {
      changed = false;
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
