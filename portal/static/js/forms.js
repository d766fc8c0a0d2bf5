// Forms keep what the user typed: errors clear on change, focus goes to the first error, a preserved
// field (the pasted token) shows the server's verdict, a role change asks first.
(function () {
  "use strict";

  var CONTROLS = "input:not([type=hidden]), select, textarea";

  // The error text of a control: `<id>-error` (one field) or `<name>-error` (a group of boxes or radios).
  function errorOf(control) {
    var ids = [control.id, control.name].filter(Boolean);
    for (var i = 0; i < ids.length; i++) {
      var error = document.getElementById(ids[i] + "-error");
      if (error) { return error; }
    }
    return null;
  }

  function clearError(control) {
    var error = errorOf(control);
    var group = control.name && control.form && (control.type === "checkbox" || control.type === "radio")
      ? Array.prototype.slice.call(control.form.querySelectorAll("[name='" + CSS.escape(control.name) + "']"))
      : [control];
    group.forEach(function (el) {
      el.removeAttribute("aria-invalid");
      if (error && el.getAttribute("aria-describedby") === error.id) { el.removeAttribute("aria-describedby"); }
    });
    if (error) { error.remove(); }
  }

  function onEdit(event) {
    var el = event.target;
    if (el.matches && el.matches(CONTROLS) && el.form) { clearError(el); }
  }
  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);

  // A preserved control (hx-preserve) is the browser's own element, not the server's: give it the
  // state of the error text the server sent with the form.
  function syncPreserved(root) {
    root.querySelectorAll("[data-keep-typed]").forEach(function (el) {
      var error = document.getElementById(el.id + "-error");
      if (error) {
        el.setAttribute("aria-invalid", "true");
        el.setAttribute("aria-describedby", error.id);
      } else {
        el.removeAttribute("aria-invalid");
        el.removeAttribute("aria-describedby");
      }
    });
  }

  // The control an error belongs to: the field itself, or the first box of its group.
  function controlOf(marker) {
    if (marker.matches(CONTROLS)) { return marker; }
    var base = document.getElementById(marker.id.replace(/-error$/, ""));
    if (base && base.matches(CONTROLS)) { return base; }
    var box = (base || marker.closest("fieldset") || marker.parentElement);
    if (!box) { return null; }
    return box.querySelector("input:checked:not([type=hidden])") || box.querySelector(CONTROLS);
  }

  function focusFirstError(root) {
    var markers = root.querySelectorAll("[aria-invalid=true], .field-error[id]");
    for (var i = 0; i < markers.length; i++) {
      var control = controlOf(markers[i]);
      if (control) { control.focus(); return true; }
    }
    return false;
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var config = event.detail.requestConfig;
    if (!target || !target.isConnected || !target.querySelectorAll) { return; }
    syncPreserved(target);
    if (config && config.verb === "post" && target.querySelector("form")) { focusFirstError(target); }
  });

  // Role select of the Users table: the chosen option carries the question; "Cancel" puts the old
  // role back and sends nothing.
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches("form[data-role-form]")) { return; }
    var select = form.querySelector("select[name=role]");
    var option = select && select.options[select.selectedIndex];
    var question = option && option.getAttribute("data-confirm");
    if (!question || option.defaultSelected) { return; }
    event.preventDefault();
    if (window.confirm(question)) {
      event.detail.issueRequest(true);
    } else {
      Array.prototype.forEach.call(select.options, function (o) { o.selected = o.defaultSelected; });
    }
  });
})();

// A ticked list over several pages (a user's shops): ticks changed on one page are remembered while
// htmx swaps in another page, shown again when that page comes back, and sent with the Save form.
(function () {
  "use strict";

  var changes = {};  // form key -> {shop id: checked}

  function keyOf(form) { return form && form.getAttribute("data-keep-ticks"); }

  document.addEventListener("change", function (event) {
    var box = event.target;
    var key = box.matches && box.matches("input[type=checkbox][name=selected]") && keyOf(box.form);
    if (!key) { return; }
    (changes[key] = changes[key] || {})[box.value] = box.checked;
  });

  // A page swapped in: its boxes show the changes made earlier.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("form[data-keep-ticks]").forEach(function (form) {
      var remembered = changes[keyOf(form)] || {};
      form.querySelectorAll("input[type=checkbox][name=selected]").forEach(function (box) {
        if (Object.prototype.hasOwnProperty.call(remembered, box.value)) { box.checked = remembered[box.value]; }
      });
    });
  });

  // Saving: the changes of the pages not shown go along as shown (+ selected when ticked).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var remembered = changes[keyOf(form)];
    if (!remembered) { return; }
    var here = {};
    form.querySelectorAll("input[type=checkbox][name=selected]").forEach(function (box) { here[box.value] = true; });
    Object.keys(remembered).forEach(function (id) {
      if (here[id]) { return; }
      var names = remembered[id] ? ["shown", "selected"] : ["shown"];
      names.forEach(function (name) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = id;
        form.appendChild(input);
      });
    });
  });
})();
