// "/": sends each person to their page by role (GET /api/me); several roles -> a list.

import { me } from "./api.js";
import { $, chrome, el, fail, ready, registerServiceWorker } from "./ui.js";

const PAGES = {
  family_owner: (h) => [`/homes/${encodeURIComponent(h.home)}`, `Front door of ${h.name}`],
  family_member: (h) => [`/homes/${encodeURIComponent(h.home)}`, `Front door of ${h.name}`],
  carer: () => ["/carer", "My visits"],
  telecare_officer: () => ["/telecare", "Fleet health"],
  admin: () => ["/admin", "Administration"],
};

async function main() {
  const who = await me();
  chrome(new Set(), null);
  const seen = new Map();
  for (const h of who.homes || []) {
    const page = PAGES[h.role];
    if (!page) continue;
    const [href, text] = page(h);
    if (!seen.has(href)) seen.set(href, text);
  }
  if (seen.size === 1) {
    location.replace([...seen.keys()][0]);
    await new Promise(() => {}); // this page is going away: never "ready"
  }
  $("#loading").hidden = true;
  $("#title").textContent = `Hello ${who.display_name}`;
  if (seen.size === 0) {
    $("#choices").replaceWith(el("p", { text: "You have no role in any home yet. Ask the family or your administrator." }));
    return;
  }
  $("#choices").replaceChildren(...[...seen].map(([href, text]) => el("li", {}, el("a", { href, text }))));
}

main().then(ready, fail);
registerServiceWorker();
