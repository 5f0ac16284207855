// /homes/{home}/audit: the home's audit entries, newest first.

import { api, homeOf, me, rightsIn } from "./api.js";
import { $, chrome, el, fail, homeFromPath, ready, when, words } from "./ui.js";

const home = homeFromPath();

function details(entry) {
  const parts = Object.entries(entry.details || {})
    .filter(([key, value]) => value !== null && value !== "" && key !== "signed_ack")
    .map(([key, value]) => `${words(key)}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  return parts.join("; ");
}

async function main() {
  const who = await me();
  const rights = rightsIn(who, home);
  chrome(rights, home);
  const membership = homeOf(who, home);
  const timeZone = membership ? membership.timezone : undefined;
  const entries = await api(`/api/homes/${encodeURIComponent(home)}/audit?limit=100`);
  $("#loading").hidden = true;
  $("#audit tbody").replaceChildren(...entries.map((e) => el("tr", { dataset: { action: e.action } },
    el("td", { text: e.seq }),
    el("td", {}, el("time", { datetime: e.at, text: when(e.at, timeZone) })),
    el("td", { text: words(e.action) }),
    el("td", { text: e.actor_name || e.actor }),
    el("td", { class: "details", text: details(e) }))));
  $("#audit").hidden = false;
}

main().then(ready, fail);
