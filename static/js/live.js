// Live status from /ws/status/: a snapshot, then numbered changes. Reconnects with backoff (and jitter)
// and starts over from a fresh snapshot after any gap, so a page never shows a state it missed.
"use strict";

function maydayLive(onSnapshot, onChanges, onState) {
  let seq = 0;
  let delay = 1000;
  function open() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/status/");
    ws.onopen = () => { delay = 1000; onState("live"); };
    ws.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "snapshot") {
        seq = msg.seq;
        onSnapshot(msg.agents);
      } else if (msg.seq !== seq + 1) {
        seq = msg.seq;
        ws.send(JSON.stringify({ type: "snapshot" }));
      } else {
        seq = msg.seq;
        onChanges(msg.agents);
      }
    };
    ws.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403) { onState("refused"); return; }
      onState("reconnecting");
      setTimeout(open, delay * (0.5 + Math.random())); // spread out: after a restart, not every board at once
      delay = Math.min(delay * 2, 30000);
    };
  }
  open();
}

function maydayElapsed(since) {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" + pad(m) : m) + ":" + pad(sec);
}

function maydayTick() {
  for (const el of document.querySelectorAll("[data-since]")) el.textContent = maydayElapsed(el.dataset.since);
}
setInterval(maydayTick, 1000);

function maydayText(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}
