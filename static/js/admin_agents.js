// The admin's agent list: availability, pause reason, presence and phone-system state follow /ws/status/.
"use strict";
document.addEventListener("DOMContentLoaded", function () { // admin scripts load in the head
  const labels = document.getElementById("labels");
  if (!labels || !document.querySelector("[data-live]")) return; // the list, not an agent's form
  const label = JSON.parse(labels.textContent);
  const text = {
    availability: (d) => label[d.availability],
    pause_reason: (d) => d.pause_reason || "-",
    presence: (d) => label[d.presence] + (d.ip ? " (" + (d.client_type || d.ip) + ")" : ""),
    sync: (d) => d.sync_state + (d.sync_error ? ": " + d.sync_error : ""),
  };
  function show(docs) {
    for (const doc of docs) {
      for (const el of document.querySelectorAll('[data-agent="' + CSS.escape(doc.extension) + '"]')) {
        el.textContent = text[el.dataset.live](doc);
      }
    }
  }
  maydayLive(show, show, () => {});
});
