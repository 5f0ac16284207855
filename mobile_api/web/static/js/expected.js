// "Who is expected" on the home page (#expected-now): the carers whose visit is now, and
// whether they have checked in. Read from GET /api/homes/{home}/expected, kept live by
// the stream's "check_in" notices, and read again after the stream reconnects (notices
// sent while it was down are lost). A check-in notice that arrives while a read is on
// its way wins over that read.
//
//   const visits = new ExpectedNow($("#expected-now"), home, timeZone, rights.has("view_events"));
//   await visits.load();   visits.onCheckIn(notice);   visits.expected  // for the ring card

import { api, ApiError } from "./api.js";
import { NoticeTimes } from "./reread.js";
import { renderExpected } from "./ring.js";

export class ExpectedNow {
  constructor(node, home, timeZone, canSee) {
    this.node = node;
    this.home = home;
    this.timeZone = timeZone;
    this.canSee = canSee; // view_events: carers' names are personal data
    this.expected = null; // null: not known
    this.outsideWindows = false;
    this.checkIns = new Map(); // window id -> the check-in time its notice brought
    this.notices = new NoticeTimes(); // by window id
  }

  /** Read who is expected now (the first fill, and each re-read) and show it. */
  async load() {
    const askedAt = Date.now();
    const answer = await this.read();
    this.outsideWindows = answer ? answer.outside_windows : false;
    this.expected = answer ? answer.expected.map((v) => (this.notices.since(v.window_id, askedAt)
      ? { ...v, checked_in_at: this.checkIns.get(v.window_id) } : v)) : null;
    this.render();
  }

  async read() {
    if (!this.canSee) return null;
    try {
      return await api(`/api/homes/${encodeURIComponent(this.home)}/expected`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  /** The stream's "check_in" notice {window_id, at}. */
  async onCheckIn(data) {
    this.notices.heard(data.window_id);
    this.checkIns.set(data.window_id, data.at);
    if (!(this.expected || []).some((v) => v.window_id === data.window_id)) {
      await this.load(); // a visit begun since the last read: the list itself changed
      return;
    }
    this.expected = this.expected.map((v) => (v.window_id === data.window_id ? { ...v, checked_in_at: data.at } : v));
    this.render();
  }

  render() {
    renderExpected(this.node, this.expected, this.timeZone, this.outsideWindows);
  }
}
