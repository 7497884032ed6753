// A new fax for the user (models/fax/inbox.py pops its customer's operators, or the managers):
// a toast with a link to it. Loaded before app.js, which announces the event stream.
(function () {
  var script = document.currentScript;
  document.addEventListener("dialfunnel:stream", function (e) {
    e.detail.addEventListener("fax", function (msg) {
      var data = JSON.parse(msg.data);
      var container = document.getElementById("toasts");
      if (!container) { return; }
      var box = document.createElement("div");
      box.className = "toast show";
      box.setAttribute("role", "alert");
      var body = document.createElement("div");
      body.className = "toast-body";
      body.textContent = script.dataset.title + ": " + (data.customer || script.dataset.unknown) +
        " · " + data.pages + " " + script.dataset.pages + " ";
      var link = document.createElement("a");
      link.href = script.dataset.faxUrl.replace("/0", "/" + data.fax_id);
      link.textContent = script.dataset.openLabel;
      body.appendChild(link);
      var close = document.createElement("button");
      close.type = "button";
      close.className = "btn-close float-end";
      close.addEventListener("click", function () { box.remove(); });
      body.appendChild(close);
      box.appendChild(body);
      container.appendChild(box);
    });
  });
})();
