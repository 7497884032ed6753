// Campaign pages: the live view follows its server-sent figures; the agent's dialer panel
// reloads itself when the dialer changes the agent's state.
(function () {
  function duration(seconds) {
    if (seconds === "" || seconds === null || isNaN(seconds)) { return ""; }
    var s = Math.max(0, Math.floor(seconds));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }
  function percent(v) { return v === null || v === undefined ? "—" : v.toFixed(1) + "%"; }
  function plain(v) { return v === null || v === undefined ? "—" : String(v); }

  // Seconds-in-state counters tick in the browser between updates.
  var shownAt = Date.now();
  function tick() {
    var elapsed = (Date.now() - shownAt) / 1000;
    document.querySelectorAll("[data-seconds]").forEach(function (cell) {
      var base = cell.dataset.seconds;
      cell.textContent = base === "" ? "" : duration(Number(base) + elapsed);
    });
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  var BADGES = {running: "text-bg-success", paused: "text-bg-warning", draft: "text-bg-secondary"};

  function drawStatus(labels, status) {
    var badge = document.getElementById("campaign-status");
    if (!badge || !status || badge.dataset.status === status) { return; }
    Object.keys(BADGES).concat(["text-bg-dark"]).forEach(function (c) { badge.classList.remove(c); });
    badge.classList.add(BADGES[status] || "text-bg-dark");
    badge.textContent = labels.statuses[status] || status;
    badge.dataset.status = status;
  }

  function draw(live, labels, stats) {
    if (stats.campaign) { drawStatus(labels, stats.campaign.status); }
    var idle = document.getElementById("idle-reason");
    if (idle && "idle_text" in stats) {
      idle.textContent = stats.idle_text;
      idle.hidden = !stats.idle_text;
    }
    var rates = ["answer_rate", "abandon_rate_24h", "abandon_rate", "abandon_cap_pct"];
    live.querySelectorAll("[data-stat]").forEach(function (el) {
      var key = el.dataset.stat;
      if (key === "cap_state") {
        el.textContent = stats.over_cap ? labels.over_cap : labels.within_cap;
        el.classList.toggle("text-danger", stats.over_cap);
        el.classList.toggle("fw-semibold", stats.over_cap);
      } else if (key in stats) {
        el.textContent = rates.indexOf(key) >= 0 ? percent(stats[key]) : plain(stats[key]);
      }
    });
    document.getElementById("abandon-card").classList.toggle("border-danger", stats.over_cap);
    live.querySelectorAll("[data-count]").forEach(function (el) {
      el.textContent = stats.agents_by_state[el.dataset.count] || 0;
    });
    var agents = document.getElementById("agents");
    agents.replaceChildren();
    stats.agents.forEach(function (a) {
      var row = document.createElement("tr");
      row.dataset.agent = a.user_id;
      cell(row, a.name);
      var state = cell(row, (labels.states[a.state] || a.state) +
                       (a.reason ? " · " + (labels.reasons[a.reason] || a.reason) : ""));
      state.dataset.state = a.state;
      cell(row, "").dataset.seconds = a.seconds === null ? "" : a.seconds;
      agents.appendChild(row);
    });
    var outcomes = document.getElementById("outcomes");
    outcomes.replaceChildren();
    Object.keys(stats.outcomes).forEach(function (o) {
      var row = document.createElement("tr");
      row.dataset.outcome = o;
      cell(row, labels.outcomes[o] || o);
      cell(row, String(stats.outcomes[o])).className = "text-end";
      var heard = (stats.announced || {})[o] || 0;
      var by = cell(row, heard ? labels.announcement + " " + heard : "");
      by.className = "text-end text-muted small";
      by.dataset.announced = heard;
      by.title = labels.announced;
      outcomes.appendChild(row);
    });
    shownAt = Date.now();
    tick();
    live.dataset.updated = stats.now;
  }

  var live = document.getElementById("live");
  if (live && window.EventSource) {
    var labels = JSON.parse(live.dataset.labels);
    var source = new EventSource(live.dataset.stream);
    source.addEventListener("stats", function (e) { draw(live, labels, JSON.parse(e.data)); });
    source.addEventListener("open", function () { live.dataset.streamState = "open"; });
  }

  var panel = document.getElementById("dialer-panel");
  if (panel && window.EventSource && panel.dataset.stream) {
    var agentSource = new EventSource(panel.dataset.stream);
    agentSource.addEventListener("state", function (e) {
      var s = JSON.parse(e.data);
      var key = [s.state, s.campaign_id, s.reason, s.attempt_id, s.idle].map(function (v) {
        return v === null || v === undefined ? "" : String(v);
      }).join("|");
      var shown = document.getElementById("dialer-state");
      if (shown && shown.dataset.key === key) { return; }
      fetch(panel.dataset.panelUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          panel.innerHTML = html;
          shownAt = Date.now();
          tick();
        });
    });
  }
  tick();
  setInterval(tick, 1000);
})();
