// Carers waiting at the door for the family's approval (the home's check-in policy).
// "Let NAME in" opens the ordinary unlock dialog: the same fresh code, the same signed
// command. A notification's link (?approval=ID) only brings the family here.
//
//   const approvals = new Approvals(home, unlocker, timeZone);  approvals.load();

import { api } from "./api.js";
import { $, clock, el } from "./ui.js";

export class Approvals {
  constructor(home, unlocker, timeZone) {
    this.home = home;
    this.unlocker = unlocker;
    this.timeZone = timeZone;
    this.asked = 0;
    this.wanted = new URLSearchParams(location.search).get("approval");
    document.addEventListener("doorstep:approved", () => this.load());
  }

  /** Read the waiting carers: on opening, on each check-in notice, after a reconnection. */
  async load() {
    // Each notice reads again: an answer to an older read (one on its way when the notice
    // came) never overwrites a newer one.
    const asked = ++this.asked;
    const items = await api(`/api/homes/${encodeURIComponent(this.home)}/check-in-approvals`);
    if (asked !== this.asked) return;
    $("#approvals").hidden = items.length === 0;
    $("#approval-list").replaceChildren(...items.map((a) => {
      const who = a.name || "A carer";
      const button = el("button", { type: "button", class: "button", id: `approve-${a.approval_id}`,
        text: `Let ${who} in` });
      button.addEventListener("click", () => this.unlocker.open({ approval: a.approval_id }));
      return el("li", { class: "approval" },
        el("p", {}, el("strong", { text: who }), a.agency ? ` (${a.agency})` : "",
          ` checked in at ${clock(a.requested_at, this.timeZone).slice(0, 5)}`),
        button);
    }));
    const wanted = this.wanted && document.getElementById(`approve-${this.wanted}`);
    if (wanted) {
      this.wanted = null;
      wanted.scrollIntoView({ block: "center" });
      wanted.focus();
    }
  }
}
