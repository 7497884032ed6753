// Click-to-call (点击拨号): a .dial-button posts which number (customer + field) to /calls/dial,
// then a live box follows the call: ringing, talking with a running timer, a hang-up button; at
// the end the wrap-up page opens. Refusals are shown as they come. Each move of the call is a
// "call_request" event on the page's event stream (app.js): the box asks /calls/dial/<id> then;
// it also asks every 2 s in case the stream is down. Load it before app.js.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) { return; }
  var data = script.dataset;
  var box = null, timer = null, poll = null, current = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text) { e.textContent = text; }
    return e;
  }

  function showBox() {
    if (box) { return box; }
    box = el("div", "card shadow position-fixed bottom-0 start-0 m-3 dial-box");
    box.style.zIndex = 1080;
    box.style.minWidth = "16rem";
    box.id = "dial-box";
    var body = el("div", "card-body p-2 small");
    var head = el("div", "d-flex align-items-center gap-2");
    box.label = el("strong", "me-auto dial-state");
    box.clock = el("span", "font-monospace dial-timer");
    box.close = el("button", "btn-close");
    box.close.type = "button";
    box.close.setAttribute("aria-label", data.closeLabel);
    box.close.addEventListener("click", function () { if (!current) { hide(); } });
    head.append(box.label, box.clock, box.close);
    box.message = el("div", "text-danger dial-message");
    box.hangup = el("button", "btn btn-sm btn-danger mt-1 dial-hangup", data.hangupLabel);
    box.hangup.type = "button";
    box.hangup.addEventListener("click", hangUp);
    body.append(head, box.message, box.hangup);
    box.append(body);
    document.body.append(box);
    return box;
  }

  function hide() {
    if (box) { box.remove(); box = null; }
    clearInterval(timer); clearInterval(poll); timer = poll = null;
  }

  function send(url, form) {
    return fetch(url, {method: form ? "POST" : "GET", body: form, credentials: "same-origin",
                       headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); });
  }

  function formWith(fields) {
    var form = new FormData();
    form.append("csrf_token", data.csrf);
    Object.keys(fields).forEach(function (k) { form.append(k, fields[k]); });
    return form;
  }

  function tick(since) {
    var s = Math.max(0, Math.floor((Date.now() - since) / 1000));
    box.clock.textContent = Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
  }

  function show(status) {
    showBox();
    if (status.error) {
      current = null;
      box.label.textContent = data.refusedLabel;
      box.message.textContent = status.message || status.error;
      box.hangup.hidden = true;
      return;
    }
    box.dataset.state = status.state;
    box.label.textContent = status.label;
    box.message.textContent = status.message || "";
    var live = status.state !== "ended" && status.state !== "failed";
    box.hangup.hidden = !live;
    if (status.state === "talking" && !timer) {
      var since = status.answered_at ? Date.parse(status.answered_at) : Date.now();
      tick(since);
      timer = setInterval(function () { tick(since); }, 1000);
    }
    if (!live) {
      current = null;
      clearInterval(timer); clearInterval(poll); timer = poll = null;
      if (status.wrap_up_url) { window.location.assign(status.wrap_up_url); }
    }
  }

  function refresh() {
    if (current) { send(data.dialUrl + "/" + current).then(show).catch(function () {}); }
  }

  function follow(id) {
    current = id;
    clearInterval(poll);
    poll = setInterval(refresh, 2000);
  }

  document.addEventListener("dialfunnel:stream", function (e) {
    e.detail.addEventListener("call_request", function (m) {
      if (current && JSON.parse(m.data).id === current) {
        if (box) { box.dataset.stream = "seen"; }
        refresh();
      }
    });
  });

  function hangUp() {
    if (!current) { return; }
    send(data.dialUrl + "/" + current + "/hangup", formWith({})).then(show);
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest(".dial-button");
    if (!button) { return; }
    e.preventDefault();
    if (current) { return; }
    clearInterval(timer); timer = null;
    send(data.dialUrl, formWith({customer_id: button.dataset.dialCustomer,
                                 target: button.dataset.dialTarget}))
      .then(function (status) {
        show(status);
        if (!status.error) { follow(status.id); }
      });
  });
})();
