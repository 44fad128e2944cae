// The supervisors' board: one tile per agent, live. Search, filters and sort narrow and order the tiles;
// the counts and alerts always speak of the whole team.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const labels = JSON.parse($("labels").textContent);
  const limits = JSON.parse($("break-limits").textContent); // reason -> allowed minutes
  const agents = new Map(JSON.parse($("agents").textContent).map((d) => [d.extension, d]));
  const tiles = new Map();
  const board = $("board");
  const controls = { search: $("search"), queue: $("filter-queue"), status: $("filter-status"), sort: $("sort") };
  const compact = $("compact");
  const params = new URLSearchParams(location.search);
  for (const [key, el] of Object.entries(controls)) if (params.get(key)) el.value = params.get(key);
  compact.checked = params.get("compact") === "1";
  board.classList.toggle("compact", compact.checked);
  const ORDER = { available: 0, on_break: 1, logged_out: 2 };

  function alertsOf(doc) {
    const found = [];
    const limit = doc.availability === "on_break" ? limits[doc.pause_reason] : null;
    if (limit && Date.now() - Date.parse(doc.since) > limit * 60000) found.push("break over " + limit + " min");
    if (doc.availability === "available" && doc.presence === "offline") found.push("available but unreachable");
    if (doc.pbx_down) found.push("phone system " + doc.pbx + " down");
    return found;
  }

  function shown(doc) {
    const words = controls.search.value.trim().toLowerCase();
    if (words && !(doc.full_name.toLowerCase().includes(words) || doc.extension.toLowerCase().includes(words))) return false;
    const queue = controls.queue.value;
    if (queue && !doc.queues.some((q) => doc.pbx + "/" + q.queue === queue)) return false;
    const status = controls.status.value;
    if (status === "offline") return doc.presence === "offline";
    if (status === "alert") return alertsOf(doc).length > 0;
    return !status || doc.availability === status;
  }

  function tile(doc) {
    const el = document.createElement("article");
    el.className = "tile av-" + doc.availability + (doc.sync_state !== "applied" ? " sync-" + doc.sync_state : "") + (doc.pbx_down ? " pbx-down" : "");
    el.dataset.extension = doc.extension;
    const presence = maydayText("span", labels[doc.presence], "presence pr-" + doc.presence);
    presence.title = doc.ip ? labels[doc.presence] + " · " + (doc.client_type ? doc.client_type.replace("_", " ") + " · " : "") + doc.ip : labels[doc.presence];
    const head = maydayText("h2", doc.full_name);
    head.append(presence);
    const since = maydayText("p", maydayElapsed(doc.since), "since");
    since.dataset.since = doc.since;
    el.append(
      head,
      maydayText("p", doc.extension + " · " + doc.pbx, "muted who"),
      maydayText("p", labels[doc.availability] + (doc.pause_reason ? " · " + doc.pause_reason : "") + (doc.sync_state === "failed" ? " (refused)" : ""), "state"),
      since,
    );
    if (doc.queues.some((q) => q.in_call)) el.append(maydayText("p", "On a call", "call"));
    if (doc.sync_state !== "applied") {
      const sync = maydayText("p", doc.sync_state === "failed" ? "Refused by the phone system" : doc.sync_error ? "Phone system not reachable" : "Waiting for the phone system", "sync");
      sync.title = doc.sync_error || maydaySync(doc);
      el.append(sync);
    }
    if (doc.queues.length) el.append(maydayText("p", doc.queues.map((q) => q.queue + (q.paused ? " (paused)" : "")).join(", "), "queues muted"));
    el.append(maydayText("p", "", "alert-line"));
    mark(el, doc);
    return el;
  }

  function mark(el, doc) {
    const found = alertsOf(doc);
    el.classList.toggle("has-alert", found.length > 0);
    el.querySelector(".alert-line").textContent = found.join(" · ");
  }

  function sorter() {
    const byExtension = (a, b) => a.extension.localeCompare(b.extension, undefined, { numeric: true });
    switch (controls.sort.value) {
      case "name": return (a, b) => a.full_name.localeCompare(b.full_name) || byExtension(a, b);
      case "state": return (a, b) => ORDER[a.availability] - ORDER[b.availability] || byExtension(a, b);
      case "time": return (a, b) => Date.parse(a.since) - Date.parse(b.since) || byExtension(a, b);
      default: return byExtension;
    }
  }

  function summarize() {
    const n = { available: 0, on_break: 0, logged_out: 0, offline: 0, alerts: 0 };
    const kinds = new Map();
    for (const doc of agents.values()) {
      n[doc.availability] += 1;
      if (doc.presence === "offline") n.offline += 1;
      const found = alertsOf(doc);
      if (found.length) n.alerts += 1;
      for (const a of found) kinds.set(a, (kinds.get(a) || 0) + 1);
    }
    for (const key in n) $("count-" + key).textContent = n[key];
    $("alerts").textContent = [...kinds].map(([a, count]) => (count > 1 ? count + " × " : "") + a).join(" · ");
    $("total").textContent = agents.size;
  }

  let arranging = 0;
  function arrange() { // at most once a frame, however many changes arrived
    if (!arranging) arranging = requestAnimationFrame(() => { arranging = 0; arrangeNow(); });
  }
  function arrangeNow() {
    const docs = [...agents.values()].sort(sorter());
    let count = 0;
    const ordered = docs.map((doc) => {
      const el = tiles.get(doc.extension);
      el.hidden = !shown(doc);
      if (!el.hidden) count += 1;
      return el;
    });
    board.replaceChildren(...ordered);
    $("shown").textContent = count;
    summarize();
  }

  function put(doc) {
    agents.set(doc.extension, doc);
    const el = tile(doc);
    const old = tiles.get(doc.extension);
    tiles.set(doc.extension, el);
    if (old) old.replaceWith(el);
    el.hidden = !shown(doc);
  }

  function snapshot(docs) {
    agents.clear();
    tiles.clear();
    for (const doc of docs) put(doc);
    arrangeNow();
  }

  function refilter() {
    const url = new URL(location.href);
    for (const [key, el] of Object.entries(controls)) {
      if (el.value && !(key === "sort" && el.value === "extension")) url.searchParams.set(key, el.value);
      else url.searchParams.delete(key);
    }
    if (compact.checked) url.searchParams.set("compact", "1"); else url.searchParams.delete("compact");
    board.classList.toggle("compact", compact.checked);
    history.replaceState(null, "", url);
    arrangeNow();
  }

  for (const el of Object.values(controls)) el.addEventListener(el.type === "search" ? "input" : "change", refilter);
  compact.addEventListener("change", refilter);
  setInterval(() => { // a break runs over its allowed time with no event: look every few seconds
    for (const doc of agents.values()) if (doc.availability === "on_break") mark(tiles.get(doc.extension), doc);
    summarize();
  }, 5000);
  snapshot([...agents.values()]);
  maydayLive(snapshot, (docs) => { for (const doc of docs) put(doc); arrange(); }, (state) => maydayShowLive($("live"), state));
})();
