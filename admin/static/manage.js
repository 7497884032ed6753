// Administration pages: check upload size before sending (confirm.js asks before destructive buttons).
(function () {
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) { return; }
    var limit = parseInt(input.dataset.maxBytes, 10);
    var file = input.files && input.files[0];
    input.setCustomValidity(file && file.size > limit ? input.dataset.tooLarge : "");
    input.reportValidity();
  });
})();

// The prompts page: while the prompts are generated, reload when the job has moved on.
(function () {
  var box = document.getElementById("prompt-generate");
  if (!box || box.dataset.state !== "running") { return; }
  var timer = setInterval(function () {
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        var bar = document.getElementById("generate-bar");
        if (bar && job.total) {
          bar.style.width = Math.round(100 * job.done / job.total) + "%";
          bar.textContent = job.done + " / " + job.total;
        }
        if (job.state !== "running") { clearInterval(timer); window.location.reload(); }
      });
  }, 1000);
})();
