// The SMS pages: the conversation list and one conversation, kept live from /ws/sms/ (messages sent, reported on
// and received, only those this user may see), and the send box's segment count as one types. After the
// connection drops, the lists are read again from the page itself, so nothing missed meanwhile stays missing.
"use strict";

// How many SMS a text takes: the rules of sms/segments.py. GSM-7 (160 septets, 153 a part; the extension table
// takes two) unless a character is not in it, then UCS-2 (70 UTF-16 units, 67 a part; beyond the BMP, two).
// A character, escape pair or surrogate pair never straddles two parts. The alphabets come from the page.
function maydaySegments(text, basic, extension) {
  const limits = { "GSM-7": [160, 153], "UCS-2": [70, 67] };
  const chars = Array.from(text); // code points, as Python reads a str
  let encoding = "GSM-7";
  let widths = chars.map((ch) => (extension.has(ch) ? 2 : 1));
  if (!chars.every((ch) => basic.has(ch) || extension.has(ch))) {
    encoding = "UCS-2";
    widths = chars.map((ch) => (ch.codePointAt(0) > 0xffff ? 2 : 1));
  }
  const [single, part] = limits[encoding];
  const units = widths.reduce((sum, width) => sum + width, 0);
  if (units <= single) {
    return { encoding, units, segments: units ? 1 : 0, per_segment: single, remaining: single - units };
  }
  let segments = 1, used = 0;
  for (const width of widths) {
    if (used + width > part) { segments += 1; used = 0; }
    used += width;
  }
  return { encoding, units, segments, per_segment: part, remaining: part - used };
}

(function () {
  const $ = (id) => document.getElementById(id);
  const page = JSON.parse($("sms-page").textContent);
  const basic = new Set(page.gsm_basic), extension = new Set(page.gsm_extension);
  const failed = new Set(["undelivered", "failed"]);
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const clock = new Intl.DateTimeFormat("en-GB", {
    timeZone: maydayZone || undefined, day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  window.maydaySmsCount = (text) => maydaySegments(text, basic, extension); // for the browser tests

  function words(count) {
    const left = count.remaining + " character" + (count.remaining === 1 ? "" : "s") + " left";
    return count.segments + " SMS, " + left + ", " + count.encoding;
  }

  function stamp(iso) { // as the server writes it: "3 Mar, 14:05" in the call center's zone
    const p = Object.fromEntries(clock.formatToParts(new Date(iso)).map((part) => [part.type, part.value]));
    return p.day + " " + months[p.month - 1] + ", " + p.hour + ":" + p.minute;
  }

  function time(iso) {
    const el = maydayText("time", stamp(iso));
    el.dateTime = iso;
    return el;
  }

  function tick(m) {
    const el = maydayText("span", page.ticks[m.status] || "", "tick tick-" + m.status);
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", m.status_label);
    el.title = m.status_label;
    return el;
  }

  function who(m) {
    return m.agent && m.agent === page.me ? "You" : m.agent || "Sent";
  }

  function bubble(m) {
    const ours = m.direction === "outbound";
    const li = maydayText("li", "", "bubble " + (ours ? "ours" : "theirs"));
    li.dataset.id = m.id;
    li.dataset.created = m.created_at;
    const meta = maydayText("p", "", "meta");
    meta.append(time(m.created_at));
    if (ours) {
      if (page.sees_all) meta.append(" · " + who(m));
      meta.append(" ", tick(m));
    }
    li.append(maydayText("p", m.content, "text"), meta);
    if (m.error || failed.has(m.status)) {
      li.append(maydayText("p", m.error || m.status_label, "sms-error" + (failed.has(m.status) ? "" : " retrying")));
    }
    return li;
  }

  function row(m) {
    const li = maydayText("li", "", "convo");
    li.dataset.customer = m.customer;
    li.dataset.id = m.id;
    li.dataset.created = m.created_at;
    const link = document.createElement("a");
    link.href = "/sms/" + m.customer + "/";
    if (m.customer === page.customer) link.setAttribute("aria-current", "page");
    const head = maydayText("span", "", "convo-head");
    head.append(maydayText("strong", m.customer), " ", time(m.created_at));
    const last = maydayText("span", "", "convo-last");
    if (m.direction === "outbound") last.append(tick(m), " " + who(m) + ": ");
    const chars = Array.from(m.content);
    last.append(chars.length > 90 ? chars.slice(0, 89).join("") + "…" : m.content);
    link.append(head, last);
    li.append(link);
    return li;
  }

  const later = (a, b) => Date.parse(a) > Date.parse(b);

  function intoThread(m) {
    const thread = $("thread");
    if (!thread || m.customer !== page.customer) return;
    const old = thread.querySelector('[data-id="' + m.id + '"]');
    if (old) { old.replaceWith(bubble(m)); return; }
    const next = Array.from(thread.children).find((li) => later(li.dataset.created, m.created_at));
    thread.insertBefore(bubble(m), next || null);
    $("thread-empty").hidden = true;
    if (!next) thread.scrollTop = thread.scrollHeight;
  }

  function intoList(m) {
    const list = $("conversations");
    if (!list) return;
    const old = Array.from(list.children).find((li) => li.dataset.customer === m.customer);
    if (old && old.dataset.id === m.id) { old.replaceWith(row(m)); return; }
    if (old && later(old.dataset.created, m.created_at)) return; // an older message of that conversation
    if (!page.live_list) return; // a later page: the newest conversations are on the first
    if (old) old.remove();
    list.prepend(row(m));
    $("no-conversations").hidden = true;
  }

  async function refresh() { // read the lists again from the page, as the server draws them
    const response = await fetch(location.pathname + location.search, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ["conversations", "no-conversations", "thread", "thread-empty"]) {
      if ($(id) && fresh.getElementById(id)) $(id).replaceWith(fresh.getElementById(id));
    }
    if ($("thread")) $("thread").scrollTop = $("thread").scrollHeight;
  }

  const content = $("content");
  if (content) {
    const count = $("count"), button = $("send-form").querySelector("button[type=submit]");
    const update = () => {
      const c = maydaySegments(content.value, basic, extension);
      count.textContent = words(c);
      count.classList.toggle("error", c.segments > page.max_segments);
    };
    content.addEventListener("input", update);
    update();
    $("send-form").addEventListener("submit", () => { button.disabled = true; }); // the key makes a second one a no-op
    window.addEventListener("pageshow", () => { button.disabled = false; }); // back to a page kept in memory
  }
  if ($("thread")) $("thread").scrollTop = $("thread").scrollHeight;

  let dropped = false;
  maydaySocket("/ws/sms/", (msg) => {
    if (msg.type !== "messages") return;
    for (const m of msg.messages) { intoList(m); intoThread(m); }
  }, (state) => {
    maydayShowLive($("live"), state);
    if (state !== "live") { dropped = true; return; }
    if (dropped) { dropped = false; refresh(); }
  });
})();
