// Every page: a select with data-autosubmit submits its form when changed (the pager's size).
(function () {
  document.addEventListener("change", function (e) {
    var target = e.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
    }
  });
})();
