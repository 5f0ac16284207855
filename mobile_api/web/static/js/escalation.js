// The ring card's escalation lines: who was told when nobody answered, whether their
// phone got it, and how it ended. The stream's "escalation" notice carries ids only;
// the names and receipts come from GET /api/rings/{event_id}/escalation, read again on
// each notice, on each stream (re)connection (notices sent while it was down are lost),
// and once when the page opens on a ring: /homes/{home}?ring=<event id>.
//
//   const esc = new EscalationLines($("#ring-escalation"), timeZone);
//   const desc = await esc.follow(eventId);   // null: that ring was not escalated
//   esc.clear();                              // a new ring on the card
// The node is a polite live region that stays in the page (never hidden), so screen
// readers announce each new line.

import { api, ApiError } from "./api.js";
import { keepUnchanged } from "./reread.js";
import { clock, el } from "./ui.js";

const RECEIPT = {
  pending: "sending",
  sent: "sent",
  delivered: "delivered",
  seen: "seen",
  failed: "not delivered",
};

function who(names, fallback) {
  if (!names || names.length === 0) return fallback;
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** One line per step taken, in the order they happened (GOV.UK plain wording). */
export function escalationLines(desc, timeZone) {
  const at = (iso) => clock(iso, timeZone).slice(0, 5);
  const lines = [];
  for (const step of desc.steps) {
    let text;
    if (step.kind === "person") {
      text = `No answer yet — escalated to ${who(step.names, "the next person on the list")} `
        + `(step ${step.step} of ${desc.steps_planned}) at ${at(step.at)}`;
    } else if (step.kind === "telecare") {
      text = `Telecare service notified (step ${step.step} of ${desc.steps_planned}) at ${at(step.at)}`;
    } else {
      text = `Nobody answered. Everyone on the list was told at ${at(step.at)}`;
    }
    lines.push({ text, kind: step.kind, receipts: receiptsOf(step) });
  }
  if (desc.status === "answered" && desc.answered_at) {
    const by = desc.answered_by_name ? `Answered by ${desc.answered_by_name}`
      : desc.answered_by === "door" ? "Answered: the door was opened" : "Answered";
    lines.push({ text: `${by} at ${at(desc.answered_at)}`, kind: "answered", receipts: [] });
  }
  return lines;
}

function receiptsOf(step) {
  if (!step.receipts || step.kind !== "person") return [];
  const names = new Map(step.to.map((id, i) => [id, step.names[i]]));
  return Object.entries(step.receipts).map(([id, state]) =>
    `${names.get(id) || "Someone"}: ${RECEIPT[state] || state}`);
}

export class EscalationLines {
  constructor(node, timeZone) {
    this.node = node;
    this.timeZone = timeZone;
    this.eventId = null;
    this.asked = 0; // answers to older requests never overwrite newer ones
  }

  clear() {
    this.eventId = null;
    this.asked += 1;
    this.node.replaceChildren();
  }

  /** Read and show a ring's escalation; null (and nothing shown) when it has none. */
  async follow(eventId) {
    const asked = ++this.asked;
    let desc;
    try {
      desc = await api(`/api/rings/${encodeURIComponent(eventId)}/escalation`);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return null;
      throw error;
    }
    if (asked !== this.asked) return null;
    this.eventId = eventId;
    this.render(desc);
    return desc;
  }

  render(desc) {
    this.node.dataset.status = desc.status;
    // Lines already shown keep their nodes (no flicker, no second announcement); only
    // changed lines are replaced and new ones appended, so a re-read never duplicates.
    const fresh = escalationLines(desc, this.timeZone).map((line) =>
      el("p", { class: `escalation-line escalation-${line.kind}` },
        el("strong", { text: line.text }),
        line.receipts.length
          ? el("span", { class: "escalation-receipts", text: ` (${line.receipts.join(", ")})` }) : null));
    keepUnchanged(this.node, fresh);
  }
}
