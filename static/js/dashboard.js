// The agent's own status, kept live: what they are now, the one change they can make from here, and
// whether the phone system has carried it out (in a sentence; the PBX's words are for supervisors).
"use strict";
(function () {
  const labels = JSON.parse(document.getElementById("labels").textContent);
  let me = JSON.parse(document.getElementById("me").textContent);
  const $ = (id) => document.getElementById(id);

  function queueStatus(q) {
    if (!q.on_pbx) return "Not signed in";
    return q.paused ? "Paused" + (q.reason ? " (" + q.reason + ")" : "") : "Ready for calls";
  }

  function offerBreak() { // the break control offers a change: not the break the agent is already on
    const same = me.availability === "on_break" && $("reason").value === me.pause_reason;
    $("break-button").disabled = same;
    $("break-button").textContent = me.availability === "on_break" ? "Change reason" : "Take a break";
  }

  function render(doc) {
    me = doc;
    // A change the phone system refused is not shown as achieved.
    const refused = doc.sync_state === "failed";
    $("availability").textContent = labels[doc.availability] + (doc.pause_reason ? " · " + doc.pause_reason : "") + (refused ? " (not applied)" : "");
    $("availability").className = "badge " + (refused ? "refused" : "av-" + doc.availability);
    $("pbx-down").textContent = doc.pbx_down ? "The phone system is not reachable: the queues below show what it last said." : "";
    document.querySelector(".live-part").classList.toggle("out-of-date", doc.pbx_down);
    $("since").dataset.since = doc.since;
    $("go-form").hidden = doc.availability === "available";
    offerBreak();
    const sync = $("sync");
    sync.textContent = maydaySync(doc);
    sync.className = "banner sync-" + doc.sync_state + (doc.sync_error ? " has-error" : "");
    $("presence").textContent = labels[doc.presence];
    $("presence").className = "badge pr-" + doc.presence;
    const details = [];
    if (doc.session_active) details.push(doc.client_type.replace("_", " ") + " session");
    if (doc.ip) details.push(doc.ip + (doc.port ? ":" + doc.port : "") + (doc.transport ? " " + doc.transport.toUpperCase() : ""));
    if (doc.rtt_ms !== null) details.push("round trip " + doc.rtt_ms + " ms");
    $("presence-detail").textContent = details.join(" · ");
    const rows = $("queues");
    rows.replaceChildren();
    for (const q of doc.queues) {
      const tr = document.createElement("tr");
      tr.append(
        maydayText("td", q.queue),
        maydayText("td", queueStatus(q)),
        maydayText("td", q.in_call ? "On a call" : labels["device_" + q.device_state] || "—"),
        maydayText("td", String(q.calls_taken)),
        maydayText("td", q.last_call ? maydayClock(q.last_call) : "—"),
      );
      const headings = document.querySelectorAll("table.stack thead th");
      tr.querySelectorAll("td").forEach((td, i) => { td.dataset.label = headings[i].textContent; });
      rows.append(tr);
    }
    maydayTick();
  }

  function take(docs) {
    const mine = docs.find((d) => d.extension === me.extension);
    if (mine) render(mine);
  }

  $("reason").addEventListener("change", offerBreak);
  render(me);
  maydayLive(take, take, (state) => maydayShowLive($("live"), state));
})();
