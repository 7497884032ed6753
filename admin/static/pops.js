// Screen pops (来电弹屏): a `screen_pop` event on the page's live stream (app.js) loads the
// caller's panel from the server and shows it at the top right, newest first. The panel's
// title says which way the call goes (来电 / 去电, the campaign of a dialer call); so does the
// fallback's when the panel cannot be loaded (data-title / data-outbound-title).
// Loaded before app.js, which announces its EventSource with the `dialfunnel:stream` event.
(function () {
  var script = document.currentScript;
  if (!script || !script.dataset.popUrl || !window.fetch) { return; }
  var MAX_POPS = 3;
  var box = null;

  function container() {
    if (box) { return box; }
    box = document.createElement("div");
    box.id = "screen-pops";
    box.setAttribute("aria-live", "polite");
    box.style.cssText = "position:fixed;top:4.5rem;right:1rem;width:min(440px,calc(100vw - 2rem));" +
      "max-height:calc(100vh - 5.5rem);overflow-y:auto;z-index:1090;display:flex;flex-direction:column;gap:.5rem";
    document.body.appendChild(box);
    return box;
  }

  function urlFor(id) { return script.dataset.popUrl.replace(/0$/, String(id)); }

  function fallback(id, data) {
    // The panel could not be loaded: say who calls and link the full page.
    var card = document.createElement("div");
    card.className = "card shadow-lg border-primary pop-card";
    var body = document.createElement("div");
    body.className = "card-body p-2 small";
    var call = (data && data.call) || {};
    var title = call.direction === "outbound" ? (script.dataset.outboundTitle || script.dataset.title)
      : script.dataset.title;
    var campaign = data && data.campaign && data.campaign.name;
    body.textContent = title + (campaign ? " · " + campaign : "") + " " + (call.number || "") + " ";
    var link = document.createElement("a");
    link.href = urlFor(id);
    link.textContent = script.dataset.openLabel || "Open";
    body.appendChild(link);
    card.appendChild(body);
    return card;
  }

  function place(id, node, receivedAt) {
    var wrap = document.createElement("div");
    wrap.className = "screen-pop";
    wrap.dataset.eventId = id;
    wrap.dataset.receivedAt = String(receivedAt);
    wrap.appendChild(node);
    var c = container();
    c.insertBefore(wrap, c.firstChild);
    while (c.children.length > MAX_POPS) { c.removeChild(c.lastChild); }
    wrap.dataset.shownAt = String(Date.now());
    document.dispatchEvent(new CustomEvent("dialfunnel:pop", { detail: wrap }));
  }

  function show(id, data, receivedAt) {
    if (document.querySelector('.screen-pop[data-event-id="' + id + '"]')) { return; }
    fetch(urlFor(id), { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.text(); })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;  // our own server's template, escaped by Jinja
        place(id, holder.firstElementChild || holder, receivedAt);
      })
      .catch(function () { place(id, fallback(id, data), receivedAt); });
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-pop-close]");
    if (btn) {
      var pop = btn.closest(".screen-pop");
      if (pop) { pop.remove(); }
    }
  });

  document.addEventListener("dialfunnel:stream", function (e) {
    var source = e.detail;
    // Lets a page (and the browser tests) know when pops can arrive.
    source.addEventListener("open", function () { document.documentElement.dataset.liveStream = "open"; });
    source.addEventListener("error", function () { document.documentElement.dataset.liveStream = "closed"; });
    source.addEventListener("screen_pop", function (ev) {
      var data = null;
      try { data = JSON.parse(ev.data); } catch (err) { data = null; }
      show(ev.lastEventId, data, Date.now());
    });
  });
})();
