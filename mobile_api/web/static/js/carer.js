// /carer: the carer's own visits with an "I'm here" button inside each window.

import { api, me } from "./api.js";
import { mountMyPhotos } from "./carer_photo.js";
import { $, chrome, clearErrors, el, fail, notify, ready, registerServiceWorker } from "./ui.js";

const DAYS = ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"];

// What the home's policy did with the check-in (the door's own state is on the door).
const THEN = {
  approval_requested: "The family has been asked to let you in.",
  auto_unlock: "The door is being unlocked for you.",
  auto_unlock_failed: "The door could not be unlocked for you: please ring the bell.",
};

function whenText(v) {
  const day = v.date ? v.date : DAYS[v.weekday] ?? "";
  return `${day}, ${String(v.start).slice(0, 5)}–${String(v.end).slice(0, 5)}`;
}

function checkedIn(at) {
  return `Checked in at ${new Date(at).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })}`;
}

async function checkIn(visit, button, status) {
  button.disabled = true;
  try {
    clearErrors();
    const answer = await api(`/api/visits/${encodeURIComponent(visit.window_id)}/check-in`, { method: "POST" });
    status.textContent = checkedIn(answer.checked_in_at);
    button.hidden = true;
    notify(THEN[answer.then] ?? `The family of ${visit.home_name} now knows you are at the door.`);
  } catch (error) {
    button.disabled = false;
    fail(error);
  }
}

async function main() {
  const who = await me();
  chrome(new Set(), null);
  const visits = await api("/api/my/visits");
  $("#loading").hidden = true;
  $("#empty").hidden = visits.length > 0;
  $("#visits").replaceChildren(...visits.map((v) => {
    const status = el("p", { class: "visit-status", role: "status",
      text: v.checked_in_at ? checkedIn(v.checked_in_at) : v.now ? "Now" : "" });
    const button = el("button", { type: "button", class: "button button-large", id: `here-${v.window_id}`,
      text: "I’m here", hidden: !v.now || Boolean(v.checked_in_at) });
    button.addEventListener("click", () => checkIn(v, button, status));
    return el("li", { class: "visit" }, el("h2", { class: "visit-home", text: v.home_name }),
      el("p", { text: whenText(v) }), status, button);
  }));
  await mountMyPhotos($("#my-photos"), who.person_id); // issue 9: optional photo, with consent
}

main().then(ready, fail);
registerServiceWorker();
