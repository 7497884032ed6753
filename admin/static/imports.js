// Import page: when a workbook is chosen, ask the server for its visible sheets and offer
// the choice when there are several (imports.sheets).
(function () {
  var choice = document.getElementById("sheet-choice");
  var file = document.getElementById("file");
  if (!choice || !file) { return; }
  var select = document.getElementById("sheet");
  var form = document.getElementById("import-form");
  file.addEventListener("change", function () {
    select.innerHTML = "";
    choice.classList.add("d-none");
    if (!file.files.length) { return; }
    var data = new FormData();
    data.append("csrf_token", form.elements["csrf_token"].value);
    data.append("file", file.files[0]);
    fetch(choice.dataset.url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (found) {
        if (!found || found.sheets.length < 2) { return; }
        found.sheets.forEach(function (name) {
          var option = document.createElement("option");
          option.value = name;
          option.textContent = name;
          option.selected = name === found["default"];
          select.appendChild(option);
        });
        choice.classList.remove("d-none");
      })
      .catch(function () {});
  });
})();

// Import job page: poll the job's JSON every 500 ms and move the progress bar; reload the
// page when the job has finished so that the server renders the result report.
(function () {
  var box = document.getElementById("import-progress");
  if (!box || !box.dataset.poll) { return; }
  var url = box.dataset.poll;
  function set(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }
  function show(job) {
    var bar = document.getElementById("job-bar");
    bar.style.width = job.percent + "%";
    bar.textContent = job.percent + "%";
    bar.parentNode.setAttribute("aria-valuenow", job.percent);
    set("job-status", job.status_label);
    set("job-processed", job.processed_rows);
    set("job-total", job.total_rows || "?");
    set("job-imported", job.imported);
    set("job-duplicates", job.duplicates);
    set("job-rejected", job.rejected);
    if (job.error) {
      var error = document.getElementById("job-error");
      error.textContent = job.error;
      error.classList.remove("d-none");
    }
  }
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (job.finished) { window.location.reload(); } else { setTimeout(poll, 500); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 500);
})();
