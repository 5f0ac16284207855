// The door simulator page: buttons POST to this server's control API, and the
// board's state is polled from GET /state and shown as text (with data-state
// attributes for styling and tests). Same origin only; no libraries.
"use strict";

const POLL_MS = 250;
const CUES = {
  idle: "idle (nothing to tell)",
  notifying: "ring received: the family is being told",
  unlocking: "unlocking: come in",
  denied: "not opened",
  fault: "fault: the door needs attention",
};

const $ = (id) => document.getElementById(id);
let last = null;

function show(id, state, text) {
  const el = $(id);
  if (el.dataset.state !== state || el.textContent !== text) {
    el.dataset.state = state;
    el.textContent = text;
  }
}

function describe(s) {
  return {
    "sim-door": s.door_open === null ? ["none", "no door contact"]
      : s.door_open ? ["open", "open"] : ["closed", "closed"],
    "sim-lock": [s.lock_position, s.lock_position === "released" ? "released (door can open)"
      : s.lock_position === "engaged" ? "engaged (locked)" : s.lock_position],
    "sim-relay": s.relay_energised ? ["on", "energised"] : ["off", "off"],
    "sim-lock-agent": [s.lock_state || "unknown", s.lock_state || "unknown"],
    "sim-camera": s.camera_cut ? ["cut", "cut off (no pictures)"] : ["ok", "working"],
    "sim-led": s.led_lit ? ["on", "lit"] : ["off", "off"],
    "sim-buzzer": s.buzzer_sounding ? ["on", "sounding"] : ["off", "quiet"],
    "sim-indicator": [s.indicator, CUES[s.indicator] || s.indicator],
    "sim-link": s.connected ? ["online", "connected"] : ["offline", "not connected"],
  };
}

const LABELS = {
  "sim-door": "Door", "sim-lock": "Bolt", "sim-relay": "Relay", "sim-lock-agent": "Agent's lock",
  "sim-camera": "Camera", "sim-led": "Light", "sim-buzzer": "Buzzer", "sim-indicator": "Cue",
  "sim-link": "Hub link",
};
// Changes worth saying out loud to a screen reader (lights blink too often).
const ANNOUNCE = new Set(["sim-door", "sim-lock", "sim-indicator", "sim-link"]);

function note(text, announce) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  const log = $("log");
  log.prepend(li);
  while (log.children.length > 40) log.lastChild.remove();
  if (announce) $("announce").textContent = text;
}

function render(s) {
  $("device").textContent = s.device || "unknown";
  const now = describe(s);
  for (const [id, [state, text]] of Object.entries(now)) {
    if (last && last[id][0] !== state) note(`${LABELS[id]}: ${text}`, ANNOUNCE.has(id));
    show(id, state, text);
  }
  last = now;
}

function problem(text) {
  const el = $("error");
  el.hidden = !text;
  el.textContent = text || "";
}

async function poll() {
  try {
    const r = await fetch("/state", { cache: "no-store" });
    if (!r.ok) throw new Error(`the simulator answered ${r.status}`);
    render(await r.json());
    problem("");
  } catch (e) {
    problem(`Lost the simulator (${e.message}): is 'doorstep demo' still running?`);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function act(button) {
  button.disabled = true;
  try {
    const r = await fetch(button.dataset.action, { method: "POST" });
    if (!r.ok) throw new Error(`${button.textContent}: the simulator answered ${r.status}`);
    note(`You: ${button.textContent.toLowerCase()}`, false);
    render(await r.json());
  } catch (e) {
    problem(e.message);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("button[data-action]")) {
    b.addEventListener("click", () => act(b));
  }
  poll();
});
