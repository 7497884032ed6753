// Live events for the logged-in user: callback reminders pop up as toasts.
(function () {
  var script = document.currentScript;
  if (!script || !window.EventSource) { return; }
  var container = document.getElementById("toasts");

  function toast(title, text, href) {
    var box = document.createElement("div");
    box.className = "toast show";
    box.setAttribute("role", "alert");
    var head = document.createElement("div");
    head.className = "toast-header";
    var strong = document.createElement("strong");
    strong.className = "me-auto";
    strong.textContent = title;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.addEventListener("click", function () { box.remove(); });
    head.appendChild(strong);
    head.appendChild(close);
    var body = document.createElement("div");
    body.className = "toast-body";
    body.textContent = text + " ";
    if (href) {
      var link = document.createElement("a");
      link.href = href;
      link.textContent = script.dataset.openLabel;
      body.appendChild(link);
    }
    box.appendChild(head);
    box.appendChild(body);
    container.appendChild(box);
  }

  var source = new EventSource(script.dataset.stream);
  source.addEventListener("reminder", function (e) {
    var data = JSON.parse(e.data);
    var href = script.dataset.customerUrl ? script.dataset.customerUrl.replace("0", data.customer_id) : null;
    toast(script.dataset.reminderTitle, data.customer_name + (data.progress ? " · " + data.progress : ""), href);
  });
  // A wallboard alert a manager set (models/dialer/wallboard.py) fired.
  source.addEventListener("alert", function (e) {
    var data = JSON.parse(e.data);
    var kinds = JSON.parse(script.dataset.alertLabels || "{}");
    var value = data.rate !== undefined ? data.rate + "% / " + data.cap + "%"
      : Math.floor(data.seconds / 60) + ":" + ("0" + data.seconds % 60).slice(-2);
    toast(script.dataset.alertTitle, (kinds[data.kind] || data.kind) + ": " + data.subject + " · " + value,
          null);
  });
  document.dispatchEvent(new CustomEvent("dialfunnel:stream", { detail: source }));
})();
