// The agent's call bar (admin/console/templates/console/_call_bar.html): the state and the
// current call stay live (a `call_bar` event on the page's stream, app.js: a control ran, the
// call log saw the agent's call answered or ended; or a `screen_pop` makes it ask /call-bar
// again; a slow timer catches what no event says, such as the agent's dialer state),
// the controls POST to /call-bar/<action> with the page's CSRF token, and the keyboard
// shortcuts listed in the bar's "?" help drive them.
(function () {
  var bar = document.getElementById("call-bar");
  if (!bar || !window.fetch) { return; }
  var REFRESH_MS = 30000;
  var shown = null;       // the last state from the server
  var loadedAt = Date.now();
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var message = document.getElementById("call-bar-message");
  var help = document.getElementById("call-bar-help");
  var helpToggle = document.getElementById("call-bar-help-toggle");

  function say(text, bad) {
    message.textContent = text || "";
    message.className = bad ? "text-danger" : "text-muted";
  }

  function clock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    return (h ? h + ":" : "") + (m < 10 && h ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  function tick() {
    var call = document.getElementById("call-bar-call");
    var timer = document.getElementById("call-bar-timer");
    if (!timer || call.dataset.seconds === "") { return; }
    var seconds = parseInt(call.dataset.seconds, 10) + Math.floor((Date.now() - loadedAt) / 1000);
    timer.textContent = clock(seconds);
  }

  function badge(text, kind) {
    var b = document.createElement("span");
    b.className = "badge ms-1 text-bg-" + kind;
    b.textContent = text;
    return b;
  }

  function render(state) {
    shown = state;
    loadedAt = Date.now();
    var agent = state.agent;
    var label = document.getElementById("call-bar-state");
    label.dataset.state = agent.state;
    label.textContent = agent.label + (agent.reason_label ? " · " + agent.reason_label : "");
    var box = document.getElementById("call-bar-call");
    box.textContent = "";
    var call = state.call;
    box.dataset.callId = call ? call.id : "";
    box.dataset.seconds = call ? call.seconds : "";
    if (!call) {
      var none = document.createElement("span");
      none.className = "text-muted";
      none.textContent = bar.dataset.noCall;
      box.appendChild(none);
    } else {
      var parts = [["span", "text-muted", call.direction_label], ["strong", "call-bar-number", call.number || ""]];
      parts.forEach(function (p) {
        var el = document.createElement(p[0]);
        el.className = p[1];
        el.textContent = p[2];
        box.appendChild(el);
        box.appendChild(document.createTextNode(" "));
      });
      if (call.customer) {
        var a = document.createElement("a");
        a.href = call.customer.url;
        a.textContent = call.customer.name;
        box.appendChild(a);
        box.appendChild(document.createTextNode(" "));
      }
      if (call.campaign) {
        var c = document.createElement("span");
        c.className = "text-muted";
        c.textContent = call.campaign + " ";
        box.appendChild(c);
      }
      var timer = document.createElement("span");
      timer.className = "font-monospace";
      timer.id = "call-bar-timer";
      box.appendChild(timer);
      if (call.held) { box.appendChild(badge(bar.dataset.held, "warning")); }
      if (call.muted) { box.appendChild(badge(bar.dataset.muted, "warning")); }
      if (call.consulting) { box.appendChild(badge(bar.dataset.consulting, "info")); }
    }
    renderParties(call);
    bar.querySelectorAll("button[data-action]").forEach(function (btn) {
      btn.disabled = state.actions.indexOf(btn.dataset.action) < 0;
    });
    tick();
  }

  // a three-way call: who is in the room, each other party with its drop button
  function renderParties(call) {
    var box = document.getElementById("call-bar-parties");
    box.textContent = "";
    if (!call || !call.in_room) { return; }
    call.parties.forEach(function (p) {
      var chip = document.createElement("span");
      chip.className = "badge text-bg-light border call-bar-party";
      chip.dataset.leg = p.leg;
      chip.textContent = p.label;
      if (!p.me) {
        var drop = document.createElement("button");
        drop.type = "button";
        drop.className = "btn btn-link btn-sm p-0 ms-1";
        drop.dataset.action = "drop_party";
        drop.dataset.leg = p.leg;
        drop.textContent = bar.dataset.drop;
        chip.appendChild(drop);
      }
      box.appendChild(chip);
    });
  }

  function refresh() {
    return fetch(bar.dataset.stateUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state) { render(state); } })
      .catch(function () {});
  }

  function run(action, leg) {
    var btn = bar.querySelector('button[data-action="' + action + '"]' + (leg ? '[data-leg="' + leg + '"]' : ""));
    if (!btn || btn.disabled) { return; }
    var body = {};
    if (leg) { body.leg = leg; }
    if (["blind_transfer", "attended_transfer", "conference", "add_party"].indexOf(action) >= 0) {
      body.kind = bar.querySelector('#call-bar-transfer [name="kind"]').value;
      body.target = bar.querySelector('#call-bar-transfer [name="target"]').value;
    }
    btn.disabled = true;
    fetch(bar.dataset.actionUrl.replace("ACTION", action), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      say(res.ok ? bar.dataset.queued : res.data.message || res.data.error, !res.ok);
      return refresh();
    }).catch(function () { btn.disabled = false; });
  }

  bar.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("button[data-action]");
    if (btn) { run(btn.dataset.action, btn.dataset.leg); }
  });

  // the transfer picker: colleagues and queues as suggestions for the chosen kind
  var targets = null;
  function suggest() {
    var kind = bar.querySelector('#call-bar-transfer [name="kind"]').value;
    var list = document.getElementById("call-bar-targets");
    list.textContent = "";
    if (!targets) { return; }
    var values = kind === "queue" ? targets.queues
      : kind === "user" ? targets.colleagues.map(function (u) { return u.name; })
      : kind === "extension" ? targets.colleagues.map(function (u) { return u.extension; }) : [];
    values.forEach(function (v) {
      var o = document.createElement("option");
      o.value = v;
      list.appendChild(o);
    });
  }
  var input = bar.querySelector('#call-bar-transfer [name="target"]');
  input.addEventListener("focus", function () {
    if (targets) { suggest(); return; }
    fetch(bar.dataset.targetsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { targets = data; suggest(); })
      .catch(function () {});
  });
  bar.querySelector('#call-bar-transfer [name="kind"]').addEventListener("change", suggest);

  function toggleHelp() {
    help.hidden = !help.hidden;
    helpToggle.setAttribute("aria-expanded", String(!help.hidden));
  }
  helpToggle.addEventListener("click", toggleHelp);

  function clickFirst(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); }
    return !!el;
  }

  var SHORTCUTS = {
    a: function () { return clickFirst(".screen-pop .pop-new-record") || clickFirst(".screen-pop a[href]"); },
    h: function () { run("hangup"); return true; },
    o: function () { run(shown && shown.call && shown.call.held ? "resume" : "hold"); return true; },
    m: function () { run(shown && shown.call && shown.call.muted ? "unmute" : "mute"); return true; },
    n: function () { return clickFirst("#preview-next"); },
    s: function () {
      var form = document.getElementById("record-form");
      if (!form) { return false; }
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      return true;
    }
  };

  document.addEventListener("keydown", function (e) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable;
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      var fn = SHORTCUTS[(e.key || "").toLowerCase()] || SHORTCUTS[(e.code || "").replace("Key", "").toLowerCase()];
      if (fn && fn()) { e.preventDefault(); }
    } else if (e.key === "?" && !typing) {
      toggleHelp();
      e.preventDefault();
    }
  });

  document.addEventListener("dialfunnel:stream", function (e) {
    var source = e.detail;
    source.addEventListener("call_bar", function (ev) {
      var data = JSON.parse(ev.data);
      if (data.state === "failed") { say(bar.dataset.failed.replace("REASON", data.reason || ""), true); }
      else if (data.state === "done") { say(""); }
      refresh();
    });
    source.addEventListener("screen_pop", function () { setTimeout(refresh, 300); });
  });

  setInterval(tick, 1000);
  setInterval(function () { if (!document.hidden) { refresh(); } }, REFRESH_MS);
  shown = null;
  refresh();
})();
