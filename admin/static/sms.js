// The SMS form (sms/_send_form.html): a template fills the text box; the exact text that goes
// out (variables filled, 【signature】 first) and its SMS count come from /sms/preview as one
// types. Listens on the document, so forms put in later (a screen pop) work too.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch || window.dialfunnelSms) { return; }
  window.dialfunnelSms = true;
  var counterText = script.dataset.counter;
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var timers = new WeakMap();

  function refresh(form) {
    var counter = form.querySelector(".sms-counter"), shown = form.querySelector(".sms-preview");
    var data = new FormData(form);
    data.set("csrf_token", token);
    fetch(form.dataset.previewUrl, {method: "POST", body: data, credentials: "same-origin",
                                    headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (p) {
        if (p.error) { shown.textContent = p.message || ""; counter.textContent = ""; return; }
        shown.textContent = p.text;
        counter.textContent = counterText.replace("{length}", p.length)
          .replace("{segments}", p.segments).replace("{per}", p.per_segment);
      });
  }

  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form.sms-form");
    if (!form || !event.target.classList.contains("sms-body")) { return; }
    clearTimeout(timers.get(form));
    timers.set(form, setTimeout(function () { refresh(form); }, 250));
  });
  document.addEventListener("change", function (event) {
    var picker = event.target;
    var form = picker.closest && picker.closest("form.sms-form");
    if (!form || !picker.classList.contains("sms-template")) { return; }
    var option = picker.options[picker.selectedIndex];
    if (option.dataset.body) { form.querySelector(".sms-body").value = option.dataset.body; }
    refresh(form);
  });
  document.querySelectorAll("form.sms-form .sms-body").forEach(function (body) {
    if (body.value) { refresh(body.closest("form.sms-form")); }
  });
})();
