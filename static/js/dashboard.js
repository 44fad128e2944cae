// The agent's own status, kept live.
"use strict";
(function () {
  const labels = JSON.parse(document.getElementById("labels").textContent);
  let me = JSON.parse(document.getElementById("me").textContent);
  const $ = (id) => document.getElementById(id);

  function syncText(doc) {
    if (doc.sync_state === "failed") return "The phone system refused this change: " + doc.sync_error;
    if (doc.sync_state === "pending") {
      return doc.sync_error ? "Not applied on the phone system yet: " + doc.sync_error
                            : "Waiting for the phone system to confirm…";
    }
    return "Confirmed by the phone system.";
  }

  function render(doc) {
    me = doc;
    $("availability").textContent = labels[doc.availability] + (doc.pause_reason ? " · " + doc.pause_reason : "");
    $("availability").className = "badge av-" + doc.availability;
    $("since").dataset.since = doc.since;
    const sync = $("sync");
    sync.textContent = syncText(doc);
    sync.className = "banner sync-" + doc.sync_state + (doc.sync_error ? " has-error" : "");
    $("presence").textContent = labels[doc.presence];
    $("presence").className = "badge pr-" + doc.presence;
    const details = [];
    if (doc.session_active) details.push(doc.client_type.replace("_", " ") + " session");
    if (doc.ip) details.push(doc.ip + (doc.port ? ":" + doc.port : "") + (doc.transport ? " " + doc.transport : ""));
    if (doc.rtt_ms !== null) details.push(doc.rtt_ms + " ms");
    $("presence-detail").textContent = details.join(" · ");
    const rows = $("queues");
    rows.replaceChildren();
    for (const q of doc.queues) {
      const tr = document.createElement("tr");
      tr.append(
        maydayText("td", q.queue),
        maydayText("td", !q.on_pbx ? "not signed in" : q.paused ? "paused" + (q.reason ? " (" + q.reason + ")" : "") : "ready"),
        maydayText("td", q.in_call ? "in a call" : q.device_state || "—"),
        maydayText("td", String(q.calls_taken)),
        maydayText("td", q.last_call ? new Date(q.last_call).toLocaleTimeString() : "—"),
      );
      rows.append(tr);
    }
    maydayTick();
  }

  function take(docs) {
    const mine = docs.find((d) => d.extension === me.extension);
    if (mine) render(mine);
  }

  render(me);
  maydayLive(take, take, (state) => { $("live").textContent = state; $("live").className = "live-" + state; });
})();
