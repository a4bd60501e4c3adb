// gatehouse web UI: live inbox (server-sent events), countdowns and
// decisions without reloading. Plain JS, no dependencies. Pages work
// without it (forms post and redirect); this only makes them live.
"use strict";
(function () {
  function left(ms) {
    if (ms <= 0) return "expired";
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (h >= 48) return Math.floor(h / 24) + "d " + (h % 24) + "h left";
    if (h > 0) return h + "h " + (m % 60) + "m left";
    if (m > 0) return m + "m " + (s % 60) + "s left";
    return s + "s left";
  }

  // Countdowns: every [data-expires] shows the time left, in place of the
  // server's text (which was right when the page was rendered).
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-expires]").forEach(function (el) {
      var ms = Date.parse(el.getAttribute("data-expires")) - now;
      el.textContent = left(ms);
      el.classList.toggle("urgent", ms < 60000);
    });
  }
  tick();
  setInterval(tick, 1000);

  var inbox = document.getElementById("inbox");
  var watch = document.querySelector("[data-watch]");
  var live = document.getElementById("live");
  var announce = document.getElementById("announce");
  var empty = document.getElementById("empty");

  // status is the stream's state; say announces changes to screen readers.
  function status(text) { if (live) live.textContent = text; }
  function say(text) { if (announce) announce.textContent = text; }
  function updateEmpty() { if (inbox && empty) empty.hidden = inbox.querySelector("[data-approval]") !== null; }
  function card(id) { return document.getElementById("ap-" + id); }
  function fromHTML(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim(); // rendered and escaped by the server's html/template
    return t.content.firstElementChild;
  }

  function upsert(it) {
    var old = card(it.id), el = fromHTML(it.html);
    if (!el) return;
    if (old) {
      if (old.contains(document.activeElement)) return; // do not lose a comment being typed
      old.replaceWith(el);
    } else {
      inbox.appendChild(el);
      say("New request " + it.id);
    }
    updateEmpty();
    tick();
  }
  function remove(id, st) {
    var el = card(id);
    if (el) { el.remove(); say("Request " + id + " " + (st || "decided")); }
    updateEmpty();
  }

  var url = (inbox || watch) && (inbox || watch).getAttribute("data-stream");
  if (url && window.EventSource) {
    var es = new EventSource(url);
    es.addEventListener("open", function () { status("Live"); });
    es.addEventListener("error", function () { status("Reconnecting…"); });
    es.addEventListener("sync", function (e) {
      status("Live");
      if (!inbox) return;
      var items = JSON.parse(e.data).items || [], ids = {};
      items.forEach(function (it) { ids[it.id] = true; });
      inbox.querySelectorAll("[data-approval]").forEach(function (el) {
        if (!ids[el.getAttribute("data-approval")]) el.remove();
      });
      items.forEach(function (it) { if (!card(it.id)) upsert(it); });
      updateEmpty();
    });
    es.addEventListener("approval", function (e) {
      var it = JSON.parse(e.data);
      if (inbox) {
        if (it.status === "pending" && it.html) upsert(it); else remove(it.id, it.status);
      }
      if (watch && it.id === watch.getAttribute("data-watch") && it.status !== "pending") location.reload();
    });
  }

  // Decisions: post the form with fetch and update in place.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.matches || !form.matches("form[data-decide]") || !window.fetch) return;
    ev.preventDefault();
    var data = new FormData(form);
    if (ev.submitter && ev.submitter.name) data.set(ev.submitter.name, ev.submitter.value);
    var err = form.querySelector(".form-error");
    function fail(msg) { err.textContent = msg; err.hidden = false; buttons(false); }
    function buttons(off) { form.querySelectorAll("button").forEach(function (b) { b.disabled = off; }); }
    if (data.get("decision") === "deny" && !String(data.get("comment") || "").trim()) {
      fail("A comment is required to deny: the agent is told why.");
      form.querySelector("textarea").focus();
      return;
    }
    err.hidden = true;
    buttons(true);
    fetch(form.action, {
      method: "POST", credentials: "same-origin", body: new URLSearchParams(data),
      headers: { "Accept": "application/json", "X-CSRF-Token": String(data.get("csrf")) }
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok) { fail(body.error || ("The decision failed (" + resp.status + ").")); return; }
        if (watch) { location.reload(); return; }
        var el = form.closest("[data-approval]");
        if (body.status !== "pending") { remove(el.getAttribute("data-approval"), body.status); return; }
        var p = document.createElement("p");
        p.className = "note";
        p.textContent = "Your vote is recorded; more approvals are needed.";
        form.replaceWith(p);
      });
    }).catch(function () { fail("The decision could not be sent. Check the connection and try again."); });
  });
})();
