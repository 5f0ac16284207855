// The "door now" panel: lock and door state exactly as the device last reported
// them, with the age of that report ticking on the page (#lock-state, #door-state).
//
//   const panel = new DoorPanel();  panel.load(doorsFromApi);  panel.update(kind, notice);
//   panel.reload(home);   // after the stream reconnects: notices sent meanwhile were lost

import { api } from "./api.js";
import { NoticeTimes } from "./reread.js";
import { $, age, el, words } from "./ui.js";

const LOCK_TEXT = { engaged: "Locked", released: "Unlocked", jammed: "Jammed – needs a visit", unknown: "Unknown" };
const DOOR_TEXT = { open: "Open", closed: "Closed", unknown: "Unknown" };
const HEALTH_TEXT = { online: "Online", degraded: "Not heard from lately", offline: "Offline", unknown: "Not yet heard from" };

export class DoorPanel {
  constructor() {
    this.doors = new Map();
    this.current = null;
    this.notices = new NoticeTimes(); // by device
    setInterval(() => this.tick(), 1000);
  }

  /** rows: GET /api/homes/{home}/doors, asked for at askedAt (Date.now()). */
  load(rows, askedAt = Date.now()) {
    const loadedAt = Date.now();
    for (const row of rows) {
      // A notice that came while the read was on its way is newer than the read's row.
      const known = this.doors.get(row.device);
      if (known && this.notices.since(row.device, askedAt)) continue;
      this.doors.set(row.device, {
        ...row,
        // Ages, not device clocks: the device's clock may be wrong, the age is not.
        reportedAt: row.state_age_s === null ? null : loadedAt - row.state_age_s * 1000,
      });
    }
    if (!this.current && rows.length) {
      // Several doors: show the one heard from most recently; a ring switches to its door.
      const heard = rows.filter((r) => r.state_age_s !== null).sort((a, b) => a.state_age_s - b.state_age_s);
      this.current = (heard[0] || rows[0]).device;
    }
    this.render();
  }

  /** Read every door again (the stream was down: its notices are lost). */
  async reload(home) {
    const askedAt = Date.now();
    this.load(await api(`/api/homes/${encodeURIComponent(home)}/doors`), askedAt);
  }

  select(device) {
    if (this.doors.has(device)) this.current = device;
    this.render();
  }

  door(device = this.current) {
    return this.doors.get(device) || null;
  }

  /** SSE notices: state {lock, door}, lock {state}, door {door}, presence {online, health}. */
  update(kind, data) {
    const door = this.doors.get(data.device);
    if (!door) return false;
    this.notices.heard(data.device);
    if (kind === "state") Object.assign(door, { lock: data.lock, door: data.door });
    if (kind === "state" || kind === "privacy") door.privacy = data.privacy; // the privacy switch
    else if (kind === "lock") door.lock = data.state;
    else if (kind === "door") door.door = data.door;
    else if (kind === "presence") door.health = data.health || (data.online ? "online" : "offline");
    if (["state", "lock", "door"].includes(kind)) door.reportedAt = Date.now();
    if (data.device === this.current) this.render();
    else this.renderOthers();
    return true;
  }

  render() {
    const door = this.door();
    $("#no-doors").hidden = this.doors.size > 0;
    $("#door-summary").hidden = !door;
    if (!door) return;
    $("#door-name").textContent = door.name || door.device;
    for (const [id, value, texts] of [["#lock-state", door.lock, LOCK_TEXT], ["#door-state", door.door, DOOR_TEXT]]) {
      const node = $(id);
      node.dataset.state = value || "unknown";
      node.textContent = texts[value] || words(value);
    }
    $("#door-health").textContent = HEALTH_TEXT[door.health] || words(door.health);
    // The privacy switch as the door reported it: paused means no picture leaves the door.
    const privacy = $("#privacy-state");
    privacy.dataset.state = door.privacy ? "paused" : "on";
    privacy.textContent = door.privacy ? "Paused (privacy switch on)" : "On";
    this.tick();
    this.renderOthers();
  }

  renderOthers() {
    const others = [...this.doors.values()].filter((d) => d.device !== this.current);
    $("#other-doors").replaceChildren(...others.map((d) => el("li", {},
      el("button", { type: "button", class: "link-button", text: `${d.name || d.device}: ${LOCK_TEXT[d.lock] || d.lock}, ${DOOR_TEXT[d.door] || d.door}`,
        onclick: () => this.select(d.device) }))));
  }

  tick() {
    const door = this.door();
    if (!door) return;
    const seconds = door.reportedAt === null ? null : (Date.now() - door.reportedAt) / 1000;
    const text = age(seconds);
    const node = $("#state-age");
    if (node.textContent !== text) node.textContent = text;
    const value = seconds === null ? "" : String(Math.round(seconds));
    for (const id of ["#state-age", "#lock-state", "#door-state"]) $(id).dataset.ageS = value;
  }
}
