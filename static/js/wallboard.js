// The wallboard: one tile per queue, drawn from the page's figures, then kept live from /ws/wallboard/ (a snapshot,
// then all the figures again whenever calls or agents change), reconnecting as live.js does. The longest
// wait counts up here every second, from when that caller entered (live.js ticks every [data-since]).
"use strict";

(function () {
  const wall = document.getElementById("wall");
  const empty = document.getElementById("no-queues");
  const live = document.getElementById("live");

  function figure(value, words, className) {
    const el = maydayText("p", "", "figure" + (className ? " " + className : ""));
    el.append(maydayText("strong", String(value)), maydayText("span", words));
    return el;
  }

  function tile(q) {
    const el = document.createElement("article");
    el.className = "queue-tile" + (q.waiting ? " has-waiting" : "");
    el.dataset.queue = q.id;
    el.append(maydayText("h2", q.name));
    const now = maydayText("div", "", "now");
    const longest = maydayText("p", "", "figure longest");
    const clock = maydayText("strong", "–");
    if (q.waiting_since) clock.dataset.since = q.waiting_since;
    longest.append(clock, maydayText("span", "longest wait"));
    now.append(figure(q.waiting, q.waiting === 1 ? "caller waiting" : "callers waiting", "waiting"), longest);
    const today = maydayText("div", "", "today");
    const level = q.service_level === null ? "–" : Math.round(q.service_level) + "%";
    today.append(figure(q.answered, "answered today"), figure(q.abandoned, "abandoned today"),
                 figure(level, "service level today"));
    const agents = maydayText("div", "", "agents");
    agents.append(figure(q.available, "available", "av-available"), figure(q.on_break, "on break", "av-on_break"),
                  figure(q.on_call, "on a call", "on-call"));
    el.append(now, today, agents);
    return el;
  }

  function show(queues) {
    wall.replaceChildren(...queues.map(tile));
    empty.hidden = queues.length > 0;
    maydayTick();
  }

  show(JSON.parse(document.getElementById("queues").textContent));
  maydaySocket("/ws/wallboard/", (msg) => {
    if (msg.type === "snapshot" || msg.type === "queues") show(msg.queues);
  }, (state) => maydayShowLive(live, state));
})();
