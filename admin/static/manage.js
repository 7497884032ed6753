// Administration pages: confirm before destructive buttons, check upload size before sending.
(function () {
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) { e.preventDefault(); }
  });
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) { return; }
    var limit = parseInt(input.dataset.maxBytes, 10);
    var file = input.files && input.files[0];
    input.setCustomValidity(file && file.size > limit ? input.dataset.tooLarge : "");
    input.reportValidity();
  });
})();
