// The supervisors' board: one tile per agent, live, filtered by queue and status, with counts.
"use strict";
(function () {
  const labels = JSON.parse(document.getElementById("labels").textContent);
  const agents = new Map(JSON.parse(document.getElementById("agents").textContent).map((d) => [d.extension, d]));
  const board = document.getElementById("board");
  const queueFilter = document.getElementById("filter-queue");
  const statusFilter = document.getElementById("filter-status");
  const params = new URLSearchParams(location.search);
  queueFilter.value = params.get("queue") || "";
  statusFilter.value = params.get("status") || "";

  function shown(doc) {
    const queue = queueFilter.value, status = statusFilter.value;
    if (queue && !doc.queues.some((q) => q.queue === queue)) return false;
    if (status === "offline") return doc.presence === "offline";
    return !status || doc.availability === status;
  }

  function tile(doc) {
    const el = document.createElement("article");
    el.className = "tile av-" + doc.availability + " pr-" + doc.presence + (doc.sync_state !== "applied" ? " sync-" + doc.sync_state : "");
    el.dataset.extension = doc.extension;
    el.hidden = !shown(doc);
    const since = maydayText("span", maydayElapsed(doc.since), "since");
    since.dataset.since = doc.since;
    const state = labels[doc.availability] + (doc.pause_reason ? " · " + doc.pause_reason : "");
    el.append(
      maydayText("h2", doc.full_name),
      maydayText("p", doc.extension + " · " + labels[doc.presence] + (doc.ip ? " · " + doc.ip : ""), "muted"),
      maydayText("p", state, "state"),
      since,
    );
    if (doc.sync_state !== "applied") el.append(maydayText("p", doc.sync_state + (doc.sync_error ? ": " + doc.sync_error : ""), "sync"));
    if (doc.queues.some((q) => q.in_call)) el.append(maydayText("p", "in a call", "call"));
    return el;
  }

  function counts() {
    const n = { available: 0, on_break: 0, logged_out: 0, offline: 0 };
    for (const doc of agents.values()) {
      if (!shown(doc)) continue;
      n[doc.availability] += 1;
      if (doc.presence === "offline") n.offline += 1;
    }
    for (const key in n) document.getElementById("count-" + key).textContent = n[key];
  }

  function renderAll() {
    const sorted = [...agents.values()].sort((a, b) => a.extension.localeCompare(b.extension, undefined, { numeric: true }));
    board.replaceChildren(...sorted.map(tile));
    counts();
  }

  function change(docs) {
    for (const doc of docs) {
      const known = agents.has(doc.extension);
      agents.set(doc.extension, doc);
      const old = board.querySelector('[data-extension="' + CSS.escape(doc.extension) + '"]');
      if (known && old) old.replaceWith(tile(doc));
      else return renderAll();
    }
    counts();
  }

  function refilter() {
    const url = new URL(location.href);
    for (const [key, el] of [["queue", queueFilter], ["status", statusFilter]]) {
      if (el.value) url.searchParams.set(key, el.value); else url.searchParams.delete(key);
    }
    history.replaceState(null, "", url);
    renderAll();
  }

  queueFilter.addEventListener("change", refilter);
  statusFilter.addEventListener("change", refilter);
  renderAll();
  maydayLive(
    (docs) => { agents.clear(); for (const d of docs) agents.set(d.extension, d); renderAll(); },
    change,
    (state) => { const el = document.getElementById("live"); el.textContent = state; el.className = "live-" + state; },
  );
})();
