// /telecare: the officer's fleet table (status, last seen, version, alerts) kept
// fresh by health, presence and alert notices; alerts can be acknowledged here.

import { api, me } from "./api.js";
import { $, age, chrome, el, fail, notify, ready, words } from "./ui.js";

const HEALTH = { online: "Online", degraded: "Not heard from lately", offline: "Offline", unknown: "Not yet heard from" };
let homes = new Map();
let reloadTimer = null;

function lastSeen(iso) {
  if (!iso) return "never";
  return age((Date.now() - new Date(iso).getTime()) / 1000);
}

async function acknowledge(alert, button) {
  button.disabled = true;
  try {
    await api(`/api/alerts/${encodeURIComponent(alert.id)}/acknowledge`, { method: "POST" });
    notify(`Alert “${words(alert.kind)}” acknowledged.`);
    await load();
  } catch (error) {
    button.disabled = false;
    fail(error);
  }
}

function alertsCell(device) {
  const open = (device.alerts || []).filter((a) => a.status !== "resolved");
  if (!open.length) return el("td", { text: "None" });
  return el("td", {}, el("ul", { class: "alerts" }, open.map((a) => el("li", {},
    el("strong", { class: "tag tag-red", text: words(a.kind) }),
    a.status === "raised"
      ? el("button", { type: "button", class: "button button-small button-secondary", text: "Acknowledge",
        "aria-label": `Acknowledge ${words(a.kind)} at ${device.name || device.device}`,
        onclick: (event) => acknowledge(a, event.currentTarget) })
      : el("span", { class: "hint", text: ` ${words(a.status)}` })))));
}

async function load() {
  const fleet = await api("/api/fleet");
  $("#loading").hidden = true;
  $("#fleet tbody").replaceChildren(...fleet.map((d) => el("tr", { dataset: { device: d.device, health: d.health } },
    el("td", { text: homes.get(d.home) || d.home }),
    el("th", { scope: "row", text: d.name || d.device }),
    el("td", {}, el("strong", { class: `tag tag-${d.health}`, text: HEALTH[d.health] || words(d.health) })),
    el("td", {}, el("time", { datetime: d.last_seen || "", text: lastSeen(d.last_seen) })),
    el("td", { text: d.software_version || "–" }),
    el("td", { text: words(d.lock) }),
    el("td", { text: words(d.door) }),
    el("td", { text: d.outbox_depth ?? "–" }),
    alertsCell(d))));
  $("#fleet").hidden = false;
}

function soon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => load().catch(fail), 300);
}

async function main() {
  const who = await me();
  chrome(new Set(), null);
  homes = new Map((who.homes || []).map((h) => [h.home, h.name]));
  await load();
  const stream = new EventSource("/api/stream");
  // "ready" comes once the hub feeds this stream ("open" only means headers arrived);
  // after a reconnection, what changed while it was down is read again.
  let connections = 0;
  stream.addEventListener("ready", () => {
    document.body.dataset.stream = "open";
    if (connections++ > 0) soon();
  });
  stream.addEventListener("error", () => { document.body.dataset.stream = "closed"; });
  for (const kind of ["health", "presence", "alert", "state", "outbox_overflow"]) stream.addEventListener(kind, soon);
  setInterval(soon, 30000); // "last seen" ages even when nothing is said
}

main().then(ready, fail);
