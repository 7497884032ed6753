// The SMS form (sms/_send_form.html): a template fills the text box; the exact text that goes
// out (variables filled, 【signature】 first) and its SMS count come from /sms/preview as one types.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) { return; }
  var counterText = script.dataset.counter;
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function wire(form) {
    if (form.dataset.smsWired) { return; }
    form.dataset.smsWired = "1";
    var body = form.querySelector(".sms-body"), picker = form.querySelector(".sms-template");
    var counter = form.querySelector(".sms-counter"), shown = form.querySelector(".sms-preview");
    if (!body) { return; }
    var timer = null;
    function refresh() {
      var data = new FormData(form);
      data.set("csrf_token", token);
      fetch(form.dataset.previewUrl, {method: "POST", body: data, credentials: "same-origin",
                                      headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (p.error) { shown.textContent = p.message; counter.textContent = ""; return; }
          shown.textContent = p.text;
          counter.textContent = counterText.replace("{length}", p.length)
            .replace("{segments}", p.segments).replace("{per}", p.per_segment);
        });
    }
    body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 250); });
    if (picker) {
      picker.addEventListener("change", function () {
        var option = picker.options[picker.selectedIndex];
        if (option.dataset.body) { body.value = option.dataset.body; refresh(); }
      });
    }
  }
  document.querySelectorAll("form.sms-form").forEach(wire);
})();
