// Unlocking: a <dialog> asks for a fresh authenticator code (step-up), sent with
// the unlock request itself; the command goes out and #unlock-status says only what the device reported:
// "unlocking…" -> "unlocked — relocking in 5 s" (the hold time the door's own answer gives)
// -> "locked", or
// "no answer from the door — state unknown" (never "failed" on a timeout).
//
//   const unlocker = new Unlocker(() => panel.door());   unlocker.open();
//   unlocker.onNotice("command", data);   unlocker.onNotice("lock", data);

import { api, ApiError } from "./api.js";
import { mark, now } from "./marks.js";
import { $, words } from "./ui.js";

export const TEXT = {
  unlocking: "unlocking…",
  unlocked: "unlocked", // when the door's answer says nothing of re-locking (older doors)
  locked: "locked",
  unknown: "no answer from the door — state unknown",
};
/** "unlocked — relocking in N s" with the door's own figure, or plain "unlocked". */
export function unlockedText(relockInS) {
  if (typeof relockInS !== "number" || !Number.isFinite(relockInS) || relockInS < 0) return TEXT.unlocked;
  const seconds = relockInS >= 1 ? Math.round(relockInS) : Math.round(relockInS * 10) / 10;
  return `${TEXT.unlocked} — relocking in ${seconds} s`;
}

const FINAL = new Set(["acknowledged", "rejected", "failed", "unknown"]);
const POLL_MS = 250;

export class Unlocker {
  constructor(currentDoor, reason) {
    this.currentDoor = currentDoor;
    this.reason = reason;
    this.pending = null;
    this.recent = []; // notices seen lately: the device may answer before the POST returns
    this.dialog = $("#unlock-dialog");
    $("#unlock-form").addEventListener("submit", (event) => this.confirm(event));
    $("#unlock-cancel").addEventListener("click", () => this.dialog.close());
  }

  /** approval: a carer's check-in to approve (same code, same command path). */
  open({ approval = null } = {}) {
    const door = this.currentDoor();
    if (!door) return;
    this.approval = approval;
    $("#unlock-door-name").textContent = door.name || "the door";
    this.fieldError("");
    $("#step-up-code").value = "";
    this.dialog.showModal();
    $("#step-up-code").focus();
  }

  fieldError(text) {
    const node = $("#step-up-code-error");
    node.textContent = text ? `Error: ${text}` : "";
    node.hidden = !text;
    node.setAttribute("role", text ? "alert" : "none");
    $("#step-up-code-group").classList.toggle("form-group-error", Boolean(text));
    const input = $("#step-up-code");
    input.classList.toggle("input-error", Boolean(text));
    input.setAttribute("aria-describedby", text ? "step-up-hint step-up-code-error" : "step-up-hint");
  }

  status(text, state) {
    const node = $("#unlock-status");
    node.textContent = text;
    node.dataset.state = state;
  }

  async confirm(event) {
    event.preventDefault();
    const clickedAt = now();
    const door = this.currentDoor();
    const code = $("#step-up-code").value.replace(/\s+/g, "");
    if (!/^[0-9]{6,10}$/.test(code)) return this.fieldError("Enter the 6 digit code from your authenticator app");
    $("#unlock-confirm").disabled = true;
    try {
      // The fresh code travels with the unlock: one round trip steps up and unlocks.
      const answer = this.approval
        ? await api(`/api/check-in-approvals/${encodeURIComponent(this.approval)}/approve`, {
          method: "POST", body: { totp: code }, redirect: false,
        })
        : await api(`/api/doors/${encodeURIComponent(door.device)}/unlock`, {
          method: "POST", body: { reason: this.reason(), totp: code }, redirect: false,
        });
      if (this.approval) document.dispatchEvent(new CustomEvent("doorstep:approved"));
      this.dialog.close();
      this.track(answer.command_id, door.device, clickedAt);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        return this.fieldError("That code did not match: wait for the next code and try again");
      }
      this.dialog.close();
      this.status(`not sent: ${error.detail || error}`, "refused");
    } finally {
      $("#unlock-confirm").disabled = false;
    }
  }

  track(commandId, device, clickedAt) {
    this.pending = { commandId, device, clickedAt, done: false, released: false, relocked: false };
    this.status(TEXT.unlocking, "unlocking");
    for (const { kind, data, at } of this.recent) if (at >= clickedAt) this.apply(kind, data);
    this.poll(this.pending);
  }

  async poll(pending) {
    // SSE usually answers first; polling covers a dropped stream.
    while (!pending.done) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (pending.done) return;
      try {
        const command = await api(`/api/commands/${encodeURIComponent(pending.commandId)}`);
        if (FINAL.has(command.status)) {
          this.settle(pending, command.status, command.reject_reason, "", command.relock_in_s);
        }
      } catch {
        // keep waiting: the stream or the next poll will tell
      }
    }
  }

  settle(pending, status, reason, detail, relockInS = null) {
    if (pending !== this.pending || pending.done) return;
    pending.done = true;
    let text;
    let state = status;
    if (status === "acknowledged") {
      text = unlockedText(relockInS);
      state = "unlocked";
    } else if (status === "unknown") {
      text = TEXT.unknown;
    } else if (status === "rejected") {
      text = `the door refused: ${words(reason) || "no reason given"}`;
    } else {
      text = `the door could not unlock: ${detail || words(reason) || "no reason given"}`;
    }
    this.status(text, state);
    mark({ kind: "unlock", command_id: pending.commandId, clicked_at: pending.clickedAt, shown_at: now(), text });
    if (status === "acknowledged" && pending.relocked) this.status(TEXT.locked, "locked");
  }

  /** SSE notices about commands and the lock. */
  onNotice(kind, data) {
    this.recent.push({ kind, data, at: now() });
    if (this.recent.length > 50) this.recent.shift();
    this.apply(kind, data);
  }

  apply(kind, data) {
    const pending = this.pending;
    if (!pending || data.device !== pending.device) return;
    if (kind === "command" && data.command_id === pending.commandId && FINAL.has(data.status)) {
      this.settle(pending, data.status, data.reason, data.detail, data.relock_in_s);
    } else if (kind === "lock" || kind === "state") {
      const lock = kind === "lock" ? data.state : data.lock;
      if (lock === "released") pending.released = true;
      if (lock === "engaged" && pending.released) {
        pending.relocked = true;
        if (pending.done && $("#unlock-status").dataset.state === "unlocked") this.status(TEXT.locked, "locked");
      }
    }
  }
}
