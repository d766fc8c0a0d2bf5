// Other shops form: searchable country picker, currency that follows the country.
// The form works without this file (plain checkboxes; the server picks the first country's currency).
// Delegated listeners: the form arrives in a dialog swapped in by htmx, possibly several times.
(function () {
  "use strict";

  function boxes(picker) {
    return Array.prototype.slice.call(picker.querySelectorAll("input[type=checkbox][name=countries]"));
  }

  function fold(text) {
    return (text || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }

  // Show only the countries whose code, name, English name or pinyin contains the typed text.
  function filter(picker, query) {
    var words = fold(query).split(/\s+/).filter(Boolean);
    var shown = 0;
    picker.querySelectorAll("label[data-search]").forEach(function (label) {
      var text = label.getAttribute("data-search") + " " + fold(label.textContent);
      var match = words.every(function (word) { return text.indexOf(word) !== -1; });
      label.hidden = !match;
      if (match) shown += 1;
    });
    picker.querySelectorAll("[data-country-group]").forEach(function (group) { group.hidden = words.length > 0; });
    var none = picker.querySelector("[data-country-none]");
    if (none) none.hidden = shown > 0;
  }

  function labelText(box) {
    return box.parentNode.textContent.replace(/\s+/g, " ").trim();
  }

  function showChosen(picker) {
    var line = picker.querySelector("[data-country-chosen]");
    if (!line) return;
    var names = boxes(picker).filter(function (box) { return box.checked; }).map(labelText);
    line.textContent = names.length
      ? line.getAttribute("data-format").replace("%(countries)s", names.join(picker.getAttribute("data-separator")))
      : line.getAttribute("data-none");
  }

  function firstCurrency(picker) {
    var first = boxes(picker).filter(function (box) { return box.checked; })[0];
    return first ? first.getAttribute("data-currency") || "" : "";
  }

  function currencySelect(picker) {
    var form = picker.closest("form");
    return form && form.querySelector("select[data-follows-country]");
  }

  // The currency follows the first ticked country until the user picks one by hand.
  function followCountry(picker) {
    var select = currencySelect(picker);
    if (!select || select.getAttribute("data-chosen-by-hand") === "true") return;
    var code = firstCurrency(picker);
    if (!code || select.querySelector('option[value="' + code + '"]')) select.value = code;
  }

  function setUp(picker) {
    if (picker.getAttribute("data-ready") === "true") return;
    picker.setAttribute("data-ready", "true");
    var search = picker.querySelector("[data-country-filter]");
    if (search) search.closest("label").hidden = false;
    var select = currencySelect(picker);
    // An edited store whose currency is not its first country's was chosen by hand: keep it.
    if (select && select.value && select.value !== firstCurrency(picker)) {
      select.setAttribute("data-chosen-by-hand", "true");
    }
  }

  function setUpAll(root) {
    (root || document).querySelectorAll("[data-country-picker]").forEach(setUp);
  }

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-country-filter]")) {
      filter(target.closest("[data-country-picker]"), target.value);
    }
  });

  document.addEventListener("keydown", function (event) {
    // Enter in the filter must not submit the dialog's form; Escape clears the filter first.
    var target = event.target;
    if (!(target.matches && target.matches("[data-country-filter]"))) return;
    if (event.key === "Enter") {
      event.preventDefault();
    } else if (event.key === "Escape" && target.value) {
      event.preventDefault();
      event.stopPropagation();
      target.value = "";
      filter(target.closest("[data-country-picker]"), "");
    }
  }, true);

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.matches) return;
    if (target.matches("[data-country-picker] input[name=countries]")) {
      var picker = target.closest("[data-country-picker]");
      showChosen(picker);
      followCountry(picker);
    } else if (target.matches("select[data-follows-country]")) {
      target.setAttribute("data-chosen-by-hand", target.value ? "true" : "false");
    }
  });

  document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  document.addEventListener("htmx:load", function (event) { setUpAll(event.target); });
  if (document.readyState !== "loading") setUpAll(document);
})();
