// The admin page's "Partner webhooks": the subscriptions this admin may see, a form to
// add one, and per row "Rotate secret" and "Delete", each behind a confirmation dialog.
// Only the admin API of mobile_api/routes/webhooks.py is used; the event types to
// choose from come from it too (the hub's catalogue), never from a copy here. A signing
// secret comes in the answer to a creation or a rotation only, so it is shown once, in
// a panel the admin hides when the partner has it; it is never kept anywhere else.
//
//   import { Webhooks } from "./admin_webhooks.js";
//   const hooks = new Webhooks(act);  // act(call, done): admin.js's run-notify-reload
//   await hooks.load(homes);          // on every reload of the page
//   form("#webhook-form", () => hooks.submit());

import { ApiError, api } from "./api.js";
import { $, el, showErrors, when } from "./ui.js";

const BASE = "/api/admin/webhooks";

const typeId = (type) => `webhook-type-${type.replaceAll(".", "-")}`;
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** Which field a refusal from the API is about (its messages name the field). */
function fieldOf(error) {
  const text = (error.detail || "").toLowerCase();
  if (error.status === 403) return "webhook-home";
  if (text.includes("event type") || text.startsWith("event_types")) return "webhook-types";
  if (text.startsWith("partner")) return "webhook-partner";
  if (/url|https|webhook host/.test(text)) return "webhook-url";
  return null;
}

export class Webhooks {
  constructor(act) {
    this.act = act;
    this.homeNames = new Map();
    this.labels = null; // event type -> its description, from the hub's catalogue
    this.pending = null; // what the open dialog would do on "confirm"
    const dialog = $("#webhook-dialog");
    dialog.addEventListener("close", () => {
      const run = this.pending;
      this.pending = null;
      if (dialog.returnValue === "confirm" && run) run();
    });
    $("#webhook-secret-done").addEventListener("click", () => this.hideSecret());
    $("#webhook-secret-copy").addEventListener("click", () => this.copySecret());
  }

  /** Reload the list (and the homes picker), keeping what the admin picked. */
  async load(homes) {
    this.homeNames = new Map(homes.map((h) => [h.home ?? h.id, h.name ?? h.home ?? h.id]));
    const picker = $("#webhook-home");
    const picked = picker.value;
    picker.replaceChildren(el("option", { value: "", text: "All homes (now and later)" }),
      ...homes.map((h) => el("option", { value: h.home ?? h.id, text: h.name ?? h.home ?? h.id })));
    if ([...picker.options].some((o) => o.value === picked)) picker.value = picked;
    const [subs] = await Promise.all([api(BASE), this.labels ? null : this.loadTypes()]);
    $("#webhooks tbody").replaceChildren(...subs.map((sub) => this.row(sub)));
    $("#webhooks-none").hidden = subs.length > 0;
    $("#webhooks").closest(".table-wrap").hidden = subs.length === 0;
  }

  /** The event type checkboxes, once: the hub's catalogue is the one list of types. */
  async loadTypes() {
    const types = await api(`${BASE}/event-types`);
    this.labels = new Map(types.map((t) => [t.id, t.description]));
    $("#webhook-type-list").replaceChildren(...types.map(({ id, description }) =>
      el("div", { class: "checkbox" },
        el("input", { type: "checkbox", id: typeId(id), value: id, name: "webhook-type" }),
        el("label", { for: typeId(id), class: "checkbox-label", text: description }))));
  }

  label(type) {
    return this.labels?.get(type) ?? type;
  }

  row(sub) {
    const who = `${sub.partner} (${sub.url})`;
    const grace = sub.previous_secret_until && new Date(sub.previous_secret_until) > new Date()
      ? sub.previous_secret_until : null;
    return el("tr", { dataset: { webhook: sub.id } },
      el("td", { class: "details" }, el("strong", { text: sub.partner }), el("br"),
        el("code", { text: sub.url })),
      el("td", {}, el("ul", { class: "list" }, sub.event_types.map((t) => el("li", { text: this.label(t) })))),
      el("td", { text: sub.home ? this.homeNames.get(sub.home) || sub.home : "All homes" }),
      el("td", {},
        el("p", { text: `Added ${when(sub.created_at)}` }),
        grace ? el("p", {}, el("strong", { class: "tag tag-degraded", text: "Secret rotated" }),
          ` The old secret also signs until ${when(grace)}.`) : null,
        sub.dead_letters
          ? el("p", {}, el("strong", { class: "tag tag-red", text: "Failing" }),
            ` ${plural(sub.dead_letters, "delivery", "deliveries")} gave up, the latest ${when(sub.last_dead_at)}.`)
          : el("p", { text: "No failed deliveries." })),
      el("td", {},
        el("button", { type: "button", class: "button button-small button-secondary", text: "Rotate secret",
          "aria-label": `Rotate the secret of ${who}`, onclick: () => this.ask("rotate", sub) }), " ",
        el("button", { type: "button", class: "button button-small button-warning", text: "Delete",
          "aria-label": `Delete the webhook to ${who}`, onclick: () => this.ask("delete", sub) })));
  }

  /** The add form's action (for admin.js's form helper): a message when done. */
  async submit() {
    const partner = $("#webhook-partner").value.trim();
    const url = $("#webhook-url").value.trim();
    const eventTypes = [...document.querySelectorAll("#webhook-type-list input:checked")].map((i) => i.value);
    const home = $("#webhook-home").value || null;
    const errors = [];
    if (!partner) errors.push({ field: "webhook-partner", text: "Enter the partner's name" });
    if (!url) errors.push({ field: "webhook-url", text: "Enter the partner's address" });
    else if (!/^https?:\/\/\S+$/i.test(url)) {
      errors.push({ field: "webhook-url", text: "Enter an address that starts with https://" });
    }
    if (!eventTypes.length) errors.push({ field: "webhook-types", text: "Choose at least one event to send" });
    if (errors.length) return showErrors(errors);
    let answer;
    try {
      answer = await api(BASE, { method: "POST", body: { partner, url, event_types: eventTypes, home } });
    } catch (error) {
      const field = error instanceof ApiError ? fieldOf(error) : null;
      if (!field) throw error;
      return showErrors([{ field, text: error.detail }]);
    }
    for (const id of ["#webhook-partner", "#webhook-url"]) $(id).value = "";
    for (const box of document.querySelectorAll("#webhook-type-list input")) box.checked = false;
    this.showSecret(answer, false);
    return `Webhook to ${answer.partner} added.`;
  }

  /** Confirm a rotation or a deletion in the dialog; "confirm" runs it. */
  ask(kind, sub) {
    const rotate = kind === "rotate";
    $("#webhook-dialog-title").textContent = rotate ? "Rotate the signing secret?" : "Delete this webhook?";
    $("#webhook-dialog-text").textContent = rotate
      ? `${sub.partner} gets a new secret, shown to you once. The old secret also signs requests ` +
        "for a grace period (24 hours unless the hub's operator chose another), so the partner " +
        "can switch without missing any."
      : `The hub stops sending events to ${sub.partner} at ${sub.url}, and drops the deliveries ` +
        "still waiting or failed. This cannot be undone.";
    const confirm = $("#webhook-dialog-confirm");
    confirm.textContent = rotate ? "Rotate secret" : "Delete webhook";
    confirm.className = rotate ? "button" : "button button-warning";
    const path = `${BASE}/${encodeURIComponent(sub.id)}`;
    this.pending = rotate
      ? () => this.act(async () => {
        this.showSecret(await api(`${path}/rotate-secret`, { method: "POST" }), true);
      }, `New secret made for ${sub.partner}.`)
      : () => this.act(async () => {
        await api(path, { method: "DELETE" });
        if (!$("#webhook-secret-panel").hidden && $("#webhook-secret-panel").dataset.webhook === sub.id) {
          this.hideSecret();
        }
        $("#webhooks-heading").focus(); // its row (and the button that had focus) goes
      }, `Webhook to ${sub.partner} deleted.`);
    const dialog = $("#webhook-dialog");
    dialog.returnValue = ""; // Escape closes without confirming
    dialog.showModal();
  }

  /** The secret from a creation or rotation answer, once, with what happens to the old one. */
  showSecret(answer, rotated) {
    const panel = $("#webhook-secret-panel");
    panel.dataset.webhook = answer.id;
    $("#webhook-secret-title").textContent = rotated
      ? `New signing secret for ${answer.partner}` : `Signing secret for ${answer.partner}`;
    $("#webhook-secret").textContent = answer.secret;
    $("#webhook-secret-copied").textContent = "";
    let grace = `${answer.partner} uses it to check that each request comes from this hub.`;
    if (rotated) {
      grace = answer.previous_secret_until
        ? `Grace period: the old secret also signs requests until ${when(answer.previous_secret_until)}, ` +
          `so ${answer.partner} can switch without missing any. After that only the new one works.`
        : `The old secret has stopped working: ${answer.partner} needs the new one now.`;
    }
    $("#webhook-secret-grace").textContent = grace;
    panel.hidden = false;
    panel.focus();
  }

  hideSecret() {
    $("#webhook-secret").textContent = ""; // gone from the page, not just hidden
    $("#webhook-secret-copied").textContent = "";
    $("#webhook-secret-panel").hidden = true;
    $("#webhooks-heading").focus();
  }

  async copySecret() {
    const status = $("#webhook-secret-copied");
    try {
      await navigator.clipboard.writeText($("#webhook-secret").textContent);
      status.textContent = "Copied. Paste it where the partner will get it safely.";
    } catch {
      getSelection().selectAllChildren($("#webhook-secret"));
      status.textContent = "This browser did not let the page copy it: the secret is selected, copy it yourself.";
    }
  }
}
