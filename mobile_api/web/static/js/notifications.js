// Notifications on any page that includes this module (a second <script type="module">):
// - #notify-settings: the "Turn on notifications" button (asks permission, subscribes with
//   the hub's VAPID key, posts the subscription) and one's own preferences form;
// - #notify-failures: the admins' table of deliveries that failed;
// - marks a ring "seen" when the ring screen shows it (ring.js fires "doorstep:ring-shown");
// - #notify-ring: the notification a tap opened (?notification=<key>), with its picture.
// Unlocking never happens from a notification: it only opens the page.

import { api, ApiError, apiPage } from "./api.js";
import { $, el, fail, notify } from "./ui.js";

const LABELS = {
  ring: "Someone rings the doorbell",
  ring_unanswered: "Nobody answered the door",
  ring_escalated: "A ring is passed on to me",
  carer_non_arrival: "A carer has not arrived",
  device_offline: "The doorbell goes offline",
  door_left_unlocked: "The door is left unlocked",
  break_glass: "Emergency access (break-glass) is used",
  checkin: "A carer checks in",
  checkin_approval_request: "A carer asks to be let in",
};
const CHANNELS = { webpush: "On this phone (push)", govuk_sms: "Text message", govuk_email: "Email" };

/** Tell the hub this person has seen the notification ``key`` (their own only). */
export async function markSeen(key, { retry = true } = {}) {
  try {
    await api("/api/notifications/seen", { method: "POST", body: { key }, redirect: false });
  } catch (error) {
    // The page can show a ring before the hub has recorded who it notified: try once more.
    if (retry && error instanceof ApiError && error.status === 404) {
      setTimeout(() => markSeen(key, { retry: false }), 1500);
    }
  }
}

function keyBytes(base64url) {
  const raw = atob(base64url.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function subscribe(status) {
  const say = (text) => { status.textContent = text; };
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    say("This browser cannot receive notifications. On an iPhone, add Doorstep to the home screen first.");
    return;
  }
  let key;
  try {
    key = (await api("/api/push/vapid-key")).application_server_key;
  } catch (error) {
    say(error instanceof ApiError && error.status === 404
      ? "Notifications are not set up on this hub yet: ask your administrator." : error.detail);
    return;
  }
  if ((await Notification.requestPermission()) !== "granted") {
    say("Notifications are blocked. Allow them for this site in the browser's settings.");
    return;
  }
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  await navigator.serviceWorker.ready;
  const subscription = (await registration.pushManager.getSubscription()) ||
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }));
  await api("/api/push/subscriptions", { method: "POST", body: subscription.toJSON() });
  document.body.dataset.push = "subscribed";
  say("Notifications are on for this device.");
}

function checkbox(id, label, checked, disabled = false, hint = null) {
  return el("div", { class: "checkbox" },
    el("input", { type: "checkbox", id, checked, disabled, class: "checkbox-input" }),
    el("label", { for: id, class: "label checkbox-label", text: label }),
    hint ? el("span", { class: "hint", text: ` ${hint}` }) : null);
}

function renderPrefs(form, answer) {
  const p = answer.preferences;
  const safety = new Set(answer.choices.safety_kinds);
  form.replaceChildren(
    el("fieldset", { class: "fieldset" }, el("legend", { text: "Tell me when" }),
      answer.choices.kinds.map((k) => checkbox(`nk-${k}`, LABELS[k] || k, safety.has(k) || !p.muted_kinds.includes(k),
        safety.has(k), safety.has(k) ? "(always: a safety alert)" : null))),
    el("fieldset", { class: "fieldset" }, el("legend", { text: "How" }),
      answer.choices.channels.map((c) => checkbox(`nc-${c}`, CHANNELS[c] || c, !p.off_channels.includes(c)))),
    el("fieldset", { class: "fieldset" }, el("legend", { text: "Quiet hours" }),
      el("p", { class: "hint", text: "Nothing but safety alerts between these times. Leave empty for none." }),
      el("label", { class: "label", for: "nq-start", text: "From" }),
      el("input", { class: "input input-short", type: "time", id: "nq-start", value: p.quiet_start || "" }),
      el("label", { class: "label", for: "nq-end", text: "Until" }),
      el("input", { class: "input input-short", type: "time", id: "nq-end", value: p.quiet_end || "" }),
      checkbox("nq-rings", "Still tell me about rings during quiet hours", p.rings_in_quiet_hours)),
    el("button", { class: "button", type: "submit", id: "notify-save", text: "Save notification settings" }));
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = {
      muted_kinds: answer.choices.kinds.filter((k) => !safety.has(k) && !$(`#nk-${k}`).checked),
      off_channels: answer.choices.channels.filter((c) => !$(`#nc-${c}`).checked),
      quiet_start: $("#nq-start").value || null,
      quiet_end: $("#nq-end").value || null,
      timezone: p.timezone,
      rings_in_quiet_hours: $("#nq-rings").checked,
    };
    try {
      renderPrefs(form, await api("/api/me/notifications", { method: "PUT", body }));
      notify("Notification settings saved.");
    } catch (error) {
      fail(error);
    }
  };
}

async function settings(section) {
  const status = el("p", { id: "push-status", role: "status" });
  const button = el("button", { type: "button", class: "button button-secondary", id: "push-subscribe",
    text: "Turn on notifications" });
  button.addEventListener("click", () => subscribe(status).catch((e) => { status.textContent = `Could not turn notifications on: ${e.message || e}`; }));
  const form = el("form", { id: "notify-form", novalidate: true });
  section.append(button, status, form);
  renderPrefs(form, await api("/api/me/notifications"));
  section.hidden = false;
}

function failureRow(r) {
  return el("tr", {},
    el("td", { text: new Date(r.at).toLocaleString("en-GB") }),
    el("td", { text: r.person || r.person_id }),
    el("td", { text: LABELS[r.kind] || r.kind }),
    el("td", { text: CHANNELS[r.channel] || r.channel }),
    el("td", { text: `${r.status} after ${r.attempts} tries` }),
    el("td", { text: r.error || "" }));
}

async function failures(section) {
  // Newest first, a page at a time; older pages come on request.
  let { rows, next } = await apiPage("/api/admin/notifications/failures?limit=100");
  const body = $("#notify-failures tbody");
  body.replaceChildren(...rows.map(failureRow));
  $("#notify-failures-none").hidden = rows.length > 0;
  const more = $("#notify-failures-more");
  more.hidden = !next;
  more.addEventListener("click", async () => {
    more.disabled = true; // one page at a time, however often it is clicked
    try {
      ({ rows, next } = await apiPage(next));
      body.append(...rows.map(failureRow));
      more.hidden = !next;
    } catch (error) {
      fail(error);
    } finally {
      more.disabled = false;
    }
  });
  section.hidden = false;
}

/** Opened from a notification (?notification=<key>): show what it was about, mark it seen. */
async function opened(section, key) {
  const n = await api(`/api/notifications?${new URLSearchParams({ key })}`);
  $("#notify-ring-heading").textContent = n.title;
  $("#notify-ring-body").textContent = n.body;
  // A ring's data.at is its ISO time; alerts carry a local "HH:MM" already.
  const at = String(n.data.at || "");
  $("#notify-ring-when").textContent = at.includes("T") || !at
    ? `At ${new Date(at || n.at).toLocaleTimeString("en-GB")}` : `At ${at}`;
  const img = $("#notify-ring-snapshot");
  if (n.data.snapshot_id) {
    img.src = `/api/snapshots/${encodeURIComponent(n.data.snapshot_id)}`;
    img.decode().then(() => { img.hidden = false; }, () => {}); // no right to see it: no picture
  }
  section.hidden = false;
  section.dataset.key = key;
  await markSeen(key);
}

document.addEventListener("doorstep:ring-shown", (event) => {
  if (event.detail && event.detail.event_id) markSeen(`ring:${event.detail.event_id}`);
});
const tapped = new URLSearchParams(location.search).get("notification");
if (tapped && $("#notify-ring")) opened($("#notify-ring"), tapped).catch(() => {});
const mine = $("#notify-settings");
if (mine) settings(mine).catch(() => {});
const admin = $("#notify-failures-section");
if (admin) failures(admin).catch(() => {}); // not an admin anywhere: the section stays hidden
