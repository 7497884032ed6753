// Every page: a form, or the button that submits it, with data-confirm asks first.
(function () {
  document.addEventListener("submit", function (e) {
    var asker = e.submitter && e.submitter.dataset.confirm ? e.submitter : e.target;
    var question = asker.dataset ? asker.dataset.confirm : null;
    if (question && !window.confirm(question)) { e.preventDefault(); }
  });
})();
