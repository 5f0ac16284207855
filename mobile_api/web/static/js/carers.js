// /homes/{home}/carers: visit windows (list, add, remove), carers, and invitations
// for a carer or a family member (the link carries the token in its #fragment).

import { api, homeOf, me, rightsIn } from "./api.js";
import { mountOwnerPhotos } from "./carer_photo.js";
import { $, chrome, clearErrors, el, fail, homeFromPath, notify, ready, showErrors, when } from "./ui.js";

const home = homeFromPath();
const base = `/api/homes/${encodeURIComponent(home)}`;
const DAYS = ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"];

function dayText(v) {
  if (v.date) return v.date;
  return DAYS[v.weekday] ?? "–";
}

async function loadVisits(canManage) {
  const visits = await api(`${base}/visits`);
  $("#no-visits").hidden = visits.length > 0;
  $("#visits").hidden = visits.length === 0;
  $("#visits tbody").replaceChildren(...visits.map((v) => el("tr", {},
    el("td", { text: v.name || v.carer }), el("td", { text: v.agency || "–" }),
    el("td", { text: dayText(v) }),
    el("td", { text: `${String(v.start).slice(0, 5)}–${String(v.end).slice(0, 5)} (±${v.tolerance_min} min)` }),
    el("td", {}, canManage
      ? el("button", { type: "button", class: "button button-small button-warning", text: "Remove",
        "aria-label": `Remove ${v.name || "carer"}'s visit on ${dayText(v)} ${v.start}`,
        onclick: () => removeVisit(v, canManage) })
      : ""))));
}

async function removeVisit(v, canManage) {
  try {
    await api(`${base}/visits/${encodeURIComponent(v.window_id)}`, { method: "DELETE" });
    notify("Visit window removed.");
    await loadVisits(canManage);
  } catch (error) {
    fail(error);
  }
}

async function addVisit(event) {
  event.preventDefault();
  const body = {
    carer: $("#carer").value,
    agency: $("#agency").value.trim(),
    weekday: $("#weekday").value === "" ? null : Number($("#weekday").value),
    date: $("#date").value || null,
    start: $("#start").value,
    end: $("#end").value,
    tolerance_min: Number($("#tolerance").value || 0),
  };
  const errors = [];
  if (!body.carer) errors.push({ field: "carer", text: "Choose a carer (invite them first)" });
  if (!body.start) errors.push({ field: "start", text: "Enter when the visit starts" });
  if (!body.end) errors.push({ field: "end", text: "Enter when the visit ends" });
  if (body.start && body.end && body.end <= body.start) {
    errors.push({ field: "end", text: "The visit must end after it starts" });
  }
  if (body.date) body.weekday = null;
  if (body.weekday === null && !body.date) {
    errors.push({ field: "weekday", text: "Choose a day of the week, or a single date" });
  }
  if (errors.length) return showErrors(errors);
  try {
    clearErrors();
    await api(`${base}/visits`, { method: "POST", body });
    notify("Visit window added.");
    await loadVisits(true);
  } catch (error) {
    fail(error);
  }
}

async function invite(event, membership) {
  event.preventDefault();
  const display_name = $("#invite-name").value.trim();
  const role = document.querySelector("input[name=role]:checked").value;
  if (!display_name) return showErrors([{ field: "invite-name", text: "Enter the name of the person you invite" }]);
  try {
    clearErrors();
    const answer = await api(`${base}/invitations`, { method: "POST", body: { role, display_name } });
    const link = `${location.origin}/invite#${answer.token}`;
    $("#invite-link").textContent = link;
    $("#invite-expires").textContent = when(answer.expires_at, membership.timezone);
    $("#invite-result").hidden = false;
    $("#invite-copy").onclick = () => navigator.clipboard.writeText(link).then(() => notify("Link copied."));
  } catch (error) {
    fail(error);
  }
}

async function main() {
  const who = await me();
  const rights = rightsIn(who, home);
  const membership = homeOf(who, home) || {};
  chrome(rights, home);
  const canManage = rights.has("manage_carers");
  const canInviteFamily = rights.has("invite_family") || rights.has("administer");
  $("#add-visit").hidden = !canManage;
  $("#invite").hidden = !(canManage || canInviteFamily);
  $("#role-carer").disabled = !canManage;
  $("#role-family").disabled = !canInviteFamily;
  if (!canManage && canInviteFamily) $("#role-family").checked = true;
  $("#visit-form").addEventListener("submit", addVisit);
  $("#invite-form").addEventListener("submit", (event) => invite(event, membership));
  await loadVisits(canManage);
  if (canManage) {
    const carers = await api(`${base}/carers`);
    $("#carer").replaceChildren(...carers.map((c) => el("option", { value: c.person_id, text: c.name })));
    await mountOwnerPhotos($("#photos"), home, carers); // issue 9: photos with consent
  }
}

main().then(ready, fail);
