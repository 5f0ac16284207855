// /homes/{home}/audit: the home's audit entries, newest first.

import { apiPage, homeOf, me, rightsIn } from "./api.js";
import { $, chrome, el, fail, homeFromPath, ready, when, words } from "./ui.js";

const home = homeFromPath();

function details(entry) {
  const parts = Object.entries(entry.details || {})
    .filter(([key, value]) => value !== null && value !== "" && key !== "signed_ack")
    .map(([key, value]) => `${words(key)}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  return parts.join("; ");
}

function row(e, timeZone) {
  return el("tr", { dataset: { action: e.action } },
    el("td", { text: e.seq }),
    el("td", {}, el("time", { datetime: e.at, text: when(e.at, timeZone) })),
    el("td", { text: words(e.action) }),
    el("td", { text: e.actor_name || e.actor }),
    el("td", { class: "details", text: details(e) }));
}

async function main() {
  const who = await me();
  const rights = rightsIn(who, home);
  chrome(rights, home);
  const membership = homeOf(who, home);
  const timeZone = membership ? membership.timezone : undefined;
  // The API answers newest first, a page at a time; older pages come on request.
  let { rows: entries, next } = await apiPage(`/api/homes/${encodeURIComponent(home)}/audit?limit=100`);
  $("#loading").hidden = true;
  const body = $("#audit tbody");
  body.replaceChildren(...entries.map((e) => row(e, timeZone)));
  $("#audit").hidden = false;
  const older = $("#older");
  older.hidden = !next;
  older.addEventListener("click", async () => {
    older.disabled = true; // one page at a time, however often it is clicked
    try {
      ({ rows: entries, next } = await apiPage(next));
      body.append(...entries.map((e) => row(e, timeZone)));
      $("#older-status").textContent = `${entries.length} older ${entries.length === 1 ? "entry" : "entries"} shown`;
      older.hidden = !next;
    } catch (error) {
      fail(error);
    } finally {
      older.disabled = false;
    }
  });
}

main().then(ready, fail);
