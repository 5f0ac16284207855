// The ring card: who rang, when, their snapshot and who is expected now. Pushes the
// {kind:"ring"} timing mark once the card is visible with its snapshot decoded.
//
//   const card = new RingCard({ timeZone, snapshots: true });
//   card.show(ringNotice, now());          card.onSnapshot(snapshotNotice);
//   (ringNotice.picture, a data: URL, is shown at once; else snapshot_id is fetched)

import { mark, now } from "./marks.js";
import { keepUnchanged } from "./reread.js";
import { $, clock, el } from "./ui.js";

function hhmm(value, timeZone) {
  if (!value) return "";
  return String(value).includes("T") ? clock(value, timeZone).slice(0, 5) : String(value).slice(0, 5);
}

/** Render /expected items into a container (ring: the ring card's wording). A re-render
 * keeps the nodes of unchanged items, so the card's live region announces only a change. */
export function renderExpected(node, expected, timeZone, outsideWindows = false, ring = false) {
  if (!expected || expected.length === 0) {
    const none = ring ? "No one is expected now: this ring is outside every visit window."
      : "No one is expected at the moment.";
    keepUnchanged(node, [el("p", { class: "expected-none", text: outsideWindows || expected
      ? none : "Who is expected is not known." })]);
    return;
  }
  const shown = node.children[1];
  const list = shown && shown.matches("ul.list") ? shown : el("ul", { class: "list" });
  keepUnchanged(node, [el("p", { class: "expected-title", text: "Expected now:" }), list]);
  keepUnchanged(list, expected.map((v) => el("li", {},
    // issue 9: the carer's photo, only where they consented for this home
    v.photo_url ? el("img", { class: "carer-photo", src: v.photo_url, width: 64,
      alt: `Photo of ${v.name || "the carer"}` }) : "",
    el("strong", { text: v.name || "A carer" }),
    v.agency ? ` (${v.agency})` : "",
    `, ${hhmm(v.start, timeZone)}–${hhmm(v.end, timeZone)}`,
    v.checked_in_at
      ? el("span", { class: "tag tag-green", text: `checked in at ${hhmm(v.checked_in_at, timeZone)}` })
      : el("span", { class: "tag tag-grey", text: "not checked in" }),
  )));
}

export class RingCard {
  constructor({ timeZone, snapshots }) {
    this.timeZone = timeZone;
    this.snapshots = snapshots;
    this.ring = null;
    this.prefetched = new Map(); // snapshot id -> Promise<object URL | null>
    this.inline = false; // rings have come with their picture: prefetching is wasted
    $("#ring-dismiss").addEventListener("click", () => this.hide());
  }

  hide() {
    $("#ring-card").hidden = true;
    this.ring = null;
  }

  /** notice: SSE "ring" data; sseAt: when the page received it. */
  show(notice, sseAt, expected) {
    const ring = { ...notice, sseAt, marked: false };
    this.ring = ring;
    const time = $("#ring-time");
    time.dateTime = notice.at;
    time.textContent = clock(notice.at, this.timeZone);
    const img = $("#ring-snapshot");
    img.hidden = true;
    img.removeAttribute("src");
    $("#ring-no-snapshot").hidden = this.snapshots;
    // Its own copies: check-ins mark the card's items, not the page's list it came from.
    const list = notice.expected ?? expected;
    ring.expected = list ? list.map((v) => ({ ...v })) : list;
    $("#expected").replaceChildren(); // a new ring: its list is news, announced whole
    renderExpected($("#expected"), ring.expected, this.timeZone, Array.isArray(notice.expected), true);
    $("#ring-card").hidden = false;
    // notifications.js marks the ring's notification "seen" (issue 12).
    document.dispatchEvent(new CustomEvent("doorstep:ring-shown", { detail: { event_id: notice.event_id } }));
    if (!this.snapshots) {
      this.mark(ring, false);
    } else if (notice.picture) {
      // The hub sent the picture with the ring: no second request (and no prefetch next time).
      this.inline = true;
      this.picture(ring, notice.snapshot_id, notice.picture);
    } else if (notice.snapshot_id) {
      this.picture(ring, notice.snapshot_id);
    }
    return ring;
  }

  /** A carer checked in after the ring: show it next to the snapshot. data: the
   * "check_in" notice, or a re-read item's check-in ({window_id, starts_at, at}: its
   * visit must be the ring's, not the same window on another day). */
  onCheckIn(data) {
    const ring = this.ring;
    const item = ring && (ring.expected || []).find((v) => v.window_id === data.window_id
      && (!data.starts_at || v.starts_at === data.starts_at));
    if (!item || item.checked_in_at === data.at) return;
    item.checked_in_at = data.at;
    renderExpected($("#expected"), ring.expected, this.timeZone, true, true);
  }

  /** Who is expected, read again (the stream reconnected): check-ins whose notices were lost. */
  onExpected(expected) {
    for (const v of expected || []) {
      if (v.checked_in_at) this.onCheckIn({ window_id: v.window_id, starts_at: v.starts_at, at: v.checked_in_at });
    }
  }

  /** A snapshot notice may bring the ring's picture after the ring itself. */
  onSnapshot(data) {
    const ring = this.ring;
    if (ring && !ring.snapshot_id && data.event_id === ring.event_id && data.snapshot_id) {
      ring.snapshot_id = data.snapshot_id;
      this.picture(ring, data.snapshot_id);
    } else if (data.reason === "ring" && data.snapshot_id) {
      this.prefetch(data.snapshot_id);
    }
  }

  /** The door sends the picture before the ring: fetch it now so the card shows at once. */
  prefetch(snapshotId) {
    if (!this.snapshots || this.inline || this.prefetched.has(snapshotId)) return;
    const url = fetch(`/api/snapshots/${encodeURIComponent(snapshotId)}`, { credentials: "same-origin" })
      .then((response) => (response.ok ? response.blob() : null))
      .then((blob) => (blob ? URL.createObjectURL(blob) : null))
      .catch(() => null);
    this.prefetched.set(snapshotId, url);
    while (this.prefetched.size > 4) {
      const [oldest, old] = this.prefetched.entries().next().value;
      this.prefetched.delete(oldest);
      old.then((u) => u && setTimeout(() => URL.revokeObjectURL(u), 60000));
    }
  }

  async picture(ring, snapshotId, inlined = null) {
    const img = $("#ring-snapshot");
    const ready = inlined || (this.prefetched.has(snapshotId) ? await this.prefetched.get(snapshotId) : null);
    if (this.ring !== ring) return;
    img.src = ready || `/api/snapshots/${encodeURIComponent(snapshotId)}`;
    try {
      await img.decode();
    } catch {
      if (this.ring === ring) $("#ring-no-snapshot").hidden = false;
      return;
    }
    if (this.ring !== ring) return;
    img.hidden = false;
    this.mark(ring, true);
  }

  mark(ring, snapshot) {
    if (ring.marked) return;
    ring.marked = true;
    mark({ kind: "ring", device: ring.device, event_id: ring.event_id, sse_at: ring.sseAt,
      shown_at: now(), snapshot });
  }
}
