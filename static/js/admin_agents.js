// The admin's agent list: availability (with the pause reason), presence and phone-system state follow /ws/status/.
"use strict";
document.addEventListener("DOMContentLoaded", function () { // admin scripts load in the head
  const labels = document.getElementById("labels");
  if (!labels || !document.querySelector("[data-live]")) return; // the list, not an agent's form
  const label = JSON.parse(labels.textContent);
  const text = {
    availability: (d) => label[d.availability] + (d.pause_reason ? " · " + d.pause_reason : ""),
    presence: (d) => label[d.presence] + (d.ip ? " (" + (d.client_type || d.ip) + ")" : ""),
    sync: (d) => label[d.sync_state] + (d.sync_error ? " (see why)" : ""),
  };
  function show(docs) {
    for (const doc of docs) {
      for (const el of document.querySelectorAll('[data-agent="' + CSS.escape(doc.extension) + '"]')) {
        el.textContent = text[el.dataset.live](doc);
        if (el.dataset.live === "sync") el.title = doc.sync_error; // the PBX's own words, for supervisors
      }
    }
  }
  maydayLive(show, show, () => {});
});
