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
