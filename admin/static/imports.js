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
