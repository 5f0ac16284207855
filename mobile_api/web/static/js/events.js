// /homes/{home}/events: what happened at the door, newest first, with the ring's
// picture when this person may see pictures (the API leaves snapshot ids out otherwise).

import { apiPage, homeOf, me, rightsIn } from "./api.js";
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

function row(e, timeZone) {
  const snapshot = e.payload && e.payload.snapshot_id;
  return el("tr", { "data-event": `${e.device}:${e.seq}` },
    el("td", {}, el("time", { datetime: e.received_at, text: when(e.received_at, timeZone) })),
    el("td", { text: describe(e) }),
    el("td", {}, snapshot
      ? el("a", { href: `/api/snapshots/${encodeURIComponent(snapshot)}` },
        el("img", { class: "thumb", loading: "lazy", src: `/api/snapshots/${encodeURIComponent(snapshot)}`,
          alt: `Picture when the bell rang, ${when(e.received_at, timeZone)}` }))
      : el("span", { class: "hint", text: "–" })));
}

async function main() {
  const who = await me();
  const rights = rightsIn(who, home);
  chrome(rights, home);
  const membership = homeOf(who, home);
  const timeZone = membership ? membership.timezone : undefined;
  // The API answers newest first, a page at a time; older pages come on request.
  let { rows: events, next } = await apiPage(`/api/homes/${encodeURIComponent(home)}/events?limit=100`);
  $("#loading").hidden = true;
  if (!events.length) {
    $("#empty").hidden = false;
    return;
  }
  const body = $("#events tbody");
  body.replaceChildren(...events.map((e) => row(e, timeZone)));
  $("#events").hidden = false;
  const older = $("#older");
  older.hidden = !next;
  older.addEventListener("click", async () => {
    older.disabled = true; // one page at a time, however often it is clicked
    try {
      ({ rows: events, next } = await apiPage(next));
      body.append(...events.map((e) => row(e, timeZone)));
      $("#older-status").textContent = `${events.length} older ${events.length === 1 ? "entry" : "entries"} shown`;
      older.hidden = !next;
    } catch (error) {
      fail(error);
    } finally {
      older.disabled = false;
    }
  });
}

main().then(ready, fail);
