// Customer pages: select-all in lists, confirmations, the live duplicate check, print.
(function () {
  "use strict";

  // Lists: the header checkbox ticks every row.
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll(".row-check").forEach(function (box) { box.checked = all.checked; });
    });
  }

  // Print view.
  var printNow = document.getElementById("print-now");
  if (printNow) { printNow.addEventListener("click", function () { window.print(); }); }

  // Live duplicate check of name, keyword and phone while typing (C4).
  var form = document.getElementById("customer-form");
  if (!form || !form.dataset.duplicatesUrl) { return; }
  var self = form.dataset.customerId || "";
  var timers = {};

  function show(hint, matches) {
    hint.textContent = "";
    matches.forEach(function (match) {
      if (String(match.id) === self) { return; }
      if (hint.childNodes.length) { hint.appendChild(document.createTextNode(" · ")); }
      var label = match.name + " (" + match.stage_label + ")";
      if (match.url) {
        var link = document.createElement("a");
        link.href = match.url;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = label;
        hint.appendChild(link);
      } else {
        hint.appendChild(document.createTextNode(label));
      }
    });
    if (hint.childNodes.length) {
      hint.insertBefore(document.createTextNode((hint.dataset.prefix || "⚠") + " "), hint.firstChild);
    }
  }

  function check(input) {
    var hint = form.querySelector('.duplicate-hint[data-for="' + input.name + '"]');
    var value = input.value.trim();
    if (!hint) { return; }
    if (!value) { hint.textContent = ""; return; }
    var params = new URLSearchParams();
    params.set(input.dataset.duplicateCheck, value);
    fetch(form.dataset.duplicatesUrl + "?" + params.toString(), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    }).then(function (r) { return r.ok ? r.json() : { matches: [] }; })
      .then(function (data) { show(hint, data.matches || []); })
      .catch(function () { hint.textContent = ""; });
  }

  form.querySelectorAll("[data-duplicate-check]").forEach(function (input) {
    if (input.readOnly) { return; }
    input.addEventListener("input", function () {
      clearTimeout(timers[input.name]);
      timers[input.name] = setTimeout(function () { check(input); }, 400);
    });
    input.addEventListener("blur", function () {
      clearTimeout(timers[input.name]);
      check(input);
    });
  });
})();
