// The wallboard follows its server-sent board: a `board` event holds the viewer's whole part,
// each `diff` event the rows that changed (and the keys gone). Timers count in the browser
// from the instants the rows carry, against the server's clock.
(function () {
  var root = document.getElementById("wallboard");
  if (!root) { return; }
  var labels = JSON.parse(root.dataset.labels);
  var board = JSON.parse(root.dataset.initial);
  var offset = 0;   // server clock - browser clock, in ms

  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }
  function percent(v) { return v === null || v === undefined ? "—" : v.toFixed(1) + "%"; }
  function plain(v) { return v === null || v === undefined || v === "" ? "—" : String(v); }
  function since(iso) { return (Date.now() + offset - Date.parse(iso)) / 1000; }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }
  function timer(row, iso, className) {
    var td = cell(row, iso ? duration(since(iso)) : "—", className);
    if (iso) { td.dataset.since = iso; }
    return td;
  }
  function flag(row, item) {
    if (item.alert) {
      row.classList.add("table-danger");
      row.dataset.alert = item.alert;
      row.title = labels.alerts[item.alert] || item.alert;
    }
  }
  function empty(body, columns, text) {
    var row = document.createElement("tr");
    var td = cell(row, text, "text-muted");
    td.colSpan = columns;
    body.appendChild(row);
  }
  function sorted(section, key) {
    return Object.keys(board[section]).map(function (k) { return board[section][k]; })
      .sort(function (a, b) { return String(a[key]).localeCompare(String(b[key])); });
  }

  function drawAgents() {
    var body = document.querySelector("#wallboard-agents tbody");
    body.textContent = "";
    var agents = sorted("agents", "name");
    if (!agents.length) { empty(body, 11, labels.none); }
    agents.forEach(function (a) {
      var row = document.createElement("tr");
      row.id = "agent-" + a.id;
      row.dataset.state = a.state;
      var name = cell(row, a.name);
      if (a.extension) { name.title = a.extension; }
      var state = labels.states[a.state] || a.state;
      if (a.state === "paused" && a.reason) { state += " · " + (labels.reasons[a.reason] || a.reason); }
      cell(row, state, "agent-state");
      timer(row, a.state === "logged_out" ? null : a.since);
      var call = a.call || {};
      cell(row, plain(call.number), "agent-number");
      cell(row, plain(call.customer));
      cell(row, call.direction ? (labels.directions[call.direction] || call.direction) : "—");
      cell(row, plain(call.campaign));
      timer(row, call.answered_at || null);
      cell(row, String(a.today_calls), "text-end");
      cell(row, duration(a.today_talk), "text-end");
      spyButtons(row, a);
      flag(row, a);
      body.appendChild(row);
    });
  }

  // listen / whisper / barge: for an agent on an answered call whom the viewer may supervise
  var spyIds = JSON.parse(root.dataset.spyIds || "[]");
  var token = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  function spyButtons(row, a) {
    var td = cell(row, "");
    if (!a.call || !a.call.answered_at || spyIds.indexOf(Number(a.id)) < 0) { return; }
    td.className = "text-nowrap";
    ["listen", "whisper", "barge"].forEach(function (mode) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "btn btn-outline-secondary btn-sm py-0 me-1 spy-" + mode;
      b.dataset.agent = a.id;
      b.dataset.mode = mode;
      b.textContent = labels.spy[mode];
      td.appendChild(b);
    });
  }
  document.getElementById("wallboard-agents").addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-mode]");
    if (!b) { return; }
    var say = document.getElementById("wallboard-spy-message");
    b.disabled = true;
    fetch(root.dataset.spyUrl.replace("/0/", "/" + b.dataset.agent + "/").replace("MODE", b.dataset.mode), {
      method: "POST", credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": token },
      body: "{}"
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      say.className = "small fw-normal " + (res.ok ? "text-muted" : "text-danger");
      say.textContent = res.ok ? labels.spy_queued : (res.data.message || res.data.error);
      b.disabled = false;
    }).catch(function () { b.disabled = false; });
  });

  function drawQueues() {
    var body = document.querySelector("#wallboard-queues tbody");
    body.textContent = "";
    var queues = sorted("queues", "name");
    if (!queues.length) { empty(body, 6, labels.no_queue); }
    queues.forEach(function (q) {
      var row = document.createElement("tr");
      row.dataset.queue = q.name;
      cell(row, q.name);
      cell(row, String(q.waiting), "text-end");
      timer(row, q.oldest, "text-end");
      cell(row, percent(q.service_level) + " (≤" + q.threshold + "s)", "text-end");
      cell(row, String(q.answered), "text-end");
      cell(row, String(q.abandoned), "text-end");
      flag(row, q);
      body.appendChild(row);
    });
  }

  function drawCampaigns() {
    var body = document.querySelector("#wallboard-campaigns tbody");
    body.textContent = "";
    var campaigns = sorted("campaigns", "name");
    if (!campaigns.length) { empty(body, 4, labels.no_campaign); }
    campaigns.forEach(function (c) {
      var row = document.createElement("tr");
      row.dataset.campaign = c.id;
      cell(row, c.name);
      cell(row, String(c.dial_rate), "text-end");
      var rate = cell(row, percent(c.abandon_rate) + " / " + percent(c.abandon_cap_pct), "text-end");
      if (c.abandon_rate !== null && c.abandon_rate > c.abandon_cap_pct) { rate.classList.add("text-danger", "fw-semibold"); }
      cell(row, String(c.ready), "text-end");
      flag(row, c);
      body.appendChild(row);
    });
  }

  function draw(sections) {
    if (sections.agents) { drawAgents(); }
    if (sections.queues) { drawQueues(); }
    if (sections.campaigns) { drawCampaigns(); }
  }
  function clock(now) { offset = Date.parse(now) - Date.now(); }

  setInterval(function () {
    document.querySelectorAll("#wallboard [data-since]").forEach(function (td) {
      td.textContent = duration(since(td.dataset.since));
    });
  }, 1000);

  clock(board.now);
  draw({agents: true, queues: true, campaigns: true});
  if (!window.EventSource) { return; }
  var live = document.getElementById("wallboard-live");
  var source = new EventSource(root.dataset.stream);
  source.addEventListener("open", function () {
    live.textContent = live.dataset.liveLabel;
    live.className = "badge text-bg-success";
  });
  source.addEventListener("board", function (e) {
    board = JSON.parse(e.data);
    clock(board.now);
    draw({agents: true, queues: true, campaigns: true});
    root.dataset.updated = String(Date.now());
  });
  source.addEventListener("diff", function (e) {
    var change = JSON.parse(e.data);
    clock(change.now);
    ["agents", "queues", "campaigns"].forEach(function (section) {
      var part = change[section];
      if (!part) { return; }
      Object.keys(part.changed).forEach(function (k) { board[section][k] = part.changed[k]; });
      part.gone.forEach(function (k) { delete board[section][k]; });
    });
    draw(change);
    root.dataset.updated = String(Date.now());
  });
})();
