// Live status from /ws/status/: a snapshot, then numbered changes, each carrying an agent's extension and the
// fields that changed (or the whole document). Reconnects with backoff (and jitter) and starts over from a fresh
// snapshot after any gap, so a page never shows a state it missed. The callbacks get whole documents.
// Also the words and times every live page shows the same way.
"use strict";

function maydayLive(onSnapshot, onChanges, onState) {
  let seq = 0;
  const docs = new Map();
  maydaySocket("/ws/status/", (msg, ws) => {
    if (msg.type === "snapshot") {
      seq = msg.seq;
      docs.clear();
      for (const doc of msg.agents) docs.set(doc.extension, doc);
      onSnapshot(msg.agents);
    } else if (msg.seq !== seq + 1 || msg.agents.some((doc) => !docs.has(doc.extension) && !("full_name" in doc))) {
      seq = msg.seq; // a gap, or the changed fields of an agent this page never had whole: start over
      ws.send(JSON.stringify({ type: "snapshot" }));
    } else {
      seq = msg.seq;
      const merged = msg.agents.map((doc) => ({ ...docs.get(doc.extension), ...doc }));
      for (const doc of merged) docs.set(doc.extension, doc);
      onChanges(merged);
    }
  }, onState);
}

// A websocket on this host that comes back by itself: each JSON message to onMessage(msg, ws), the connection's
// state to onState. Refused (4401/4403) is final; any other close reconnects with backoff and jitter.
function maydaySocket(path, onMessage, onState) {
  let delay = 1000;
  function open() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + path);
    ws.onopen = () => { delay = 1000; onState("live"); };
    ws.onmessage = (event) => onMessage(JSON.parse(event.data), ws);
    ws.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403) { onState("refused"); return; }
      onState("reconnecting");
      setTimeout(open, delay * (0.5 + Math.random())); // spread out: after a restart, not every board at once
      delay = Math.min(delay * 2, 30000);
    };
  }
  open();
}

// The page's connection state, said plainly; while not live, since when (what is shown may be out of date).
function maydayShowLive(el, state) {
  const words = { live: "live", reconnecting: "not live, reconnecting", refused: "not live: sign in again" };
  if (state !== "live" && !el.dataset.lost) el.dataset.lost = maydayClock(new Date().toISOString());
  if (state === "live") delete el.dataset.lost;
  el.textContent = (words[state] || state) + (el.dataset.lost ? " since " + el.dataset.lost : "");
  el.className = "live-" + state;
  document.body.classList.toggle("stale", state !== "live");
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

// Times in the call center's zone (MAYDAY_TIME_ZONE), whatever the browser's.
const maydayZone = JSON.parse((document.getElementById("time-zone") || { textContent: "null" }).textContent);
function maydayClock(iso) {
  return new Date(iso).toLocaleTimeString("en-GB", { timeZone: maydayZone || undefined, hour: "2-digit", minute: "2-digit" });
}

// Where a change stands on the phone system, in a short sentence; the PBX's own words go to a tooltip.
function maydaySync(doc) {
  if (doc.sync_state === "failed") return "The phone system refused this change. A supervisor can see why.";
  if (doc.sync_state === "pending") {
    return doc.sync_error ? "The phone system is not reachable; the change will be applied when it is back."
                          : "Waiting for the phone system to confirm…";
  }
  return "Confirmed by the phone system.";
}
