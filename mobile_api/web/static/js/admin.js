// /admin: homes, devices, people and their roles; partner webhooks (admin_webhooks.js).
// Field names are read defensively (home|id, display_name|name) so the page keeps
// working as the admin API grows.

import { Webhooks } from "./admin_webhooks.js";
import { api, apiPage, me } from "./api.js";
import { $, chrome, clearErrors, el, fail, notify, ready, showErrors, words } from "./ui.js";

const idOf = (x) => x.device ?? x.person_id ?? x.home ?? x.id;
const PAGE = 100;
const MAX_PAGE = 500;
const nameOf = (x) => x.display_name ?? x.name ?? idOf(x);

function options(select, items) {
  select.replaceChildren(...items.map((x) => el("option", { value: idOf(x), text: nameOf(x) })));
}

/** One line per membership, each with its grants and buttons to take them away. */
function roles(person, homeNames) {
  const list = person.memberships ?? [];
  if (!list.length) return el("td", { text: "None" });
  return el("td", {}, el("ul", { class: "list" }, list.map((m) => {
    const where = homeNames.get(m.home) || m.home;
    const who = nameOf(person);
    const base = `/api/admin/homes/${encodeURIComponent(m.home)}`;
    return el("li", {}, `${words(m.role)} – ${where} `,
      el("button", { type: "button", class: "button button-small button-warning",
        text: "Remove", "aria-label": `Remove ${who} as ${words(m.role)} of ${where}`,
        onclick: () => act(() => api(`${base}/members/${encodeURIComponent(person.person_id)}/${m.role}`,
          { method: "DELETE" }), "Role removed.") }),
      (m.grants || []).map((g) => el("span", {}, ` + ${words(g)} `,
        el("button", { type: "button", class: "button button-small button-secondary", text: "Take away",
          "aria-label": `Take away ${words(g)} from ${who} in ${where}`,
          onclick: () => act(() => api(`${base}/grants?${new URLSearchParams({ person_id: person.person_id,
            role: m.role, grant: g })}`, { method: "DELETE" }), "Extra right taken away.") }))));
  })));
}

/** Run an action; with a message, announce it and reload (null: "Show more", no reload). */
async function act(call, done) {
  try {
    clearErrors();
    await call();
    if (done === null) return pickers();
    notify(done);
    await load();
  } catch (error) {
    fail(error);
  }
}

/** A long list (devices, people) shown a page at a time, with a "Show more" button. */
function pagedList(path, tableId, label, render) {
  const state = { rows: [], next: null, homeNames: new Map() };
  const more = el("button", { type: "button", class: "button button-secondary", text: `Show more ${label}`,
    hidden: true, onclick: async () => {
      more.disabled = true; // one page at a time, however often it is clicked
      await act(async () => {
        const { rows, next } = await apiPage(state.next);
        state.rows = state.rows.concat(rows);
        state.next = next;
        show();
      }, null);
      more.disabled = false;
    } });
  $(`#${tableId}`).closest(".table-wrap").after(more);
  function show() {
    $(`#${tableId} tbody`).replaceChildren(...state.rows.map((x) => render(x, state.homeNames)));
    more.hidden = !state.next;
  }
  return {
    state,
    /** Reload from the start, as many rows as were shown (so an action keeps the view). */
    async reload(homeNames) {
      const limit = Math.min(MAX_PAGE, Math.max(PAGE, state.rows.length));
      const { rows, next } = await apiPage(`${path}?limit=${limit}`);
      Object.assign(state, { rows, next, homeNames });
      show();
    },
  };
}

const deviceRow = (d, homeNames) => el("tr", {},
  el("td", {}, el("code", { text: idOf(d) })), el("td", { text: d.name ?? "" }),
  el("td", { text: homeNames.get(d.home ?? d.home_id) || "Not in a home" }),
  el("td", { text: words(d.health ?? "") }));
const personRow = (p, homeNames) => el("tr", {}, el("td", { text: nameOf(p) }), roles(p, homeNames));
let lists = null;
let webhooks = null;

async function load() {
  lists ??= {
    devices: pagedList("/api/admin/devices", "devices", "devices", deviceRow),
    people: pagedList("/api/admin/people", "people", "people", personRow),
  };
  const homes = await api("/api/admin/homes");
  const homeNames = new Map(homes.map((h) => [idOf(h), nameOf(h)]));
  await Promise.all([lists.devices.reload(homeNames), lists.people.reload(homeNames),
    webhooks.load(homes)]);
  $("#homes tbody").replaceChildren(...homes.map((h) => el("tr", {},
    el("td", {}, el("a", { href: `/homes/${encodeURIComponent(idOf(h))}`, text: nameOf(h) })),
    el("td", { text: h.timezone }), el("td", {}, el("code", { text: idOf(h) })))));
  options($("#device-home"), homes);
  options($("#member-home"), homes);
  pickers();
}

/** The device and person pickers offer what the lists show (more after "Show more"). */
function pickers() {
  for (const [id, list] of [["#device-pick", lists.devices], ["#member-person", lists.people]]) {
    const picked = $(id).value;
    options($(id), list.state.rows);
    if (picked && list.state.rows.some((x) => idOf(x) === picked)) $(id).value = picked;
  }
}

function form(id, action) {
  $(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter;
    if (button) button.disabled = true;
    try {
      clearErrors();
      const done = await action(button);
      if (done) notify(done);
      await load();
    } catch (error) {
      fail(error);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

async function main() {
  await me();
  chrome(new Set(), null);
  form("#home-form", async () => {
    const name = $("#home-name").value.trim();
    const timezone = $("#home-tz").value.trim();
    if (!name) return showErrors([{ field: "home-name", text: "Enter the home's name" }]);
    await api("/api/admin/homes", { method: "POST", body: { name, timezone } });
    $("#home-name").value = "";
    return `Home “${name}” added.`;
  });
  form("#device-form", async () => {
    const device = $("#device-pick").value;
    const home = $("#device-home").value;
    await api(`/api/admin/devices/${encodeURIComponent(device)}/home`, { method: "POST", body: { home } });
    return "Device moved.";
  });
  form("#member-form", async (submitter) => {
    const person_id = $("#member-person").value;
    const home = $("#member-home").value;
    const role = $("#member-role").value;
    const base = `/api/admin/homes/${encodeURIComponent(home)}`;
    if (submitter && submitter.value === "grant") {
      const grant = $("#member-grant").value;
      if (!grant) return showErrors([{ field: "member-grant", text: "Choose the extra right to give" }]);
      await api(`${base}/grants`, { method: "POST", body: { person_id, role, grant } });
      return "Extra right given.";
    }
    await api(`${base}/members`, { method: "POST", body: { person_id, role } });
    return "Role given.";
  });
  webhooks = new Webhooks(act);
  form("#webhook-form", () => webhooks.submit());
  await load();
}

main().then(ready, fail);
