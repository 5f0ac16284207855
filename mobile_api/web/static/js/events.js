// /homes/{home}/events: what happened at the door, newest first, with the ring's
// picture when this person may see pictures (the API leaves snapshot ids out otherwise).

import { api, homeOf, me, rightsIn } from "./api.js";
import { $, chrome, el, fail, homeFromPath, ready, when, words } from "./ui.js";

const home = homeFromPath();

const WHAT = {
  ring: () => "The doorbell rang",
  door_opened: () => "The door was opened",
  door_closed: () => "The door was closed",
  lock_changed: (p) => `The lock was ${p.state === "engaged" ? "locked" : p.state === "released" ? "unlocked" : words(p.state)}${p.cause ? ` (${words(p.cause)})` : ""}`,
  privacy_changed: (p) => (p.privacy ? "The camera was paused" : "The camera was turned back on"),
  tamper: (p) => `Tamper: ${words(p.reason)}`,
};

function describe(event) {
  const known = WHAT[event.kind];
  return known ? known(event.payload || {}) : words(event.kind);
}

async function main() {
  const who = await me();
  const rights = rightsIn(who, home);
  chrome(rights, home);
  const membership = homeOf(who, home);
  const events = await api(`/api/homes/${encodeURIComponent(home)}/events?limit=200`);
  $("#loading").hidden = true;
  if (!events.length) {
    $("#empty").hidden = false;
    return;
  }
  const timeZone = membership ? membership.timezone : undefined;
  const rows = events.slice().reverse().map((e) => {
    const snapshot = e.payload && e.payload.snapshot_id;
    return el("tr", {},
      el("td", {}, el("time", { datetime: e.received_at, text: when(e.received_at, timeZone) })),
      el("td", { text: describe(e) }),
      el("td", {}, snapshot
        ? el("a", { href: `/api/snapshots/${encodeURIComponent(snapshot)}` },
          el("img", { class: "thumb", loading: "lazy", src: `/api/snapshots/${encodeURIComponent(snapshot)}`,
            alt: `Picture when the bell rang, ${when(e.received_at, timeZone)}` }))
        : el("span", { class: "hint", text: "–" })));
  });
  $("#events tbody").replaceChildren(...rows);
  $("#events").hidden = false;
}

main().then(ready, fail);
