// /homes/{home}: the family's ring screen. Doors as reported, live rings over
// Server-Sent Events, unlock with step-up, live view.

import { api, homeOf, me, rightsIn, toLogin } from "./api.js";
import { DoorPanel } from "./doorstate.js";
import { now } from "./marks.js";
import { Approvals } from "./approvals.js";
import { EscalationLines } from "./escalation.js";
import { ExpectedNow } from "./expected.js";
import { RingCard } from "./ring.js";
import { Unlocker } from "./unlock.js";
import { $, chrome, clock, fail, homeFromPath, ready, registerServiceWorker } from "./ui.js";

const home = homeFromPath();

async function main() {
  const who = await me();
  const membership = homeOf(who, home);
  const rights = rightsIn(who, home);
  chrome(rights, home);
  if (!membership || !rights.has("view_health")) {
    fail({ detail: "You may not see this home. Ask the home's family owner for access." });
    return;
  }
  const timeZone = membership.timezone;
  $("#title").textContent = `Front door – ${membership.name}`;
  document.title = `${membership.name} – Doorstep`;

  const panel = new DoorPanel();
  const card = new RingCard({ timeZone, snapshots: rights.has("view_snapshots") });
  const unlocker = new Unlocker(() => panel.door(), () => (card.ring ? "answered a ring" : "unlocked from the app"));
  const live = { device: null };
  // Carers waiting for the family's one-tap approval (only people who may unlock).
  const approvals = rights.has("unlock") ? new Approvals(home, unlocker, timeZone) : null;
  const visits = new ExpectedNow($("#expected-now"), home, timeZone, rights.has("view_events"));
  const escalation = new EscalationLines($("#ring-escalation"), timeZone);
  // A ring escalating (a notice, or the page opened on it): its card shows, with the steps.
  const followRing = async (eventId, sseAt) => {
    const desc = rights.has("view_events") ? await escalation.follow(eventId) : null;
    if (!desc || (card.ring && card.ring.event_id === eventId)) return;
    card.show({ event_id: desc.event_id, device: desc.device, home, at: desc.ring_at }, sseAt, visits.expected);
    escalation.render(desc);
  };

  const canUnlock = rights.has("unlock");
  $("#unlock").hidden = !canUnlock;
  $("#unlock-now").hidden = !canUnlock;
  $("#live-view").hidden = !rights.has("live_view");
  $("#ring-live").hidden = !rights.has("live_view");
  $("#unlock").addEventListener("click", () => unlocker.open());
  $("#unlock-now").addEventListener("click", () => unlocker.open());
  $("#live-view").addEventListener("click", () => startLive(panel, live));
  $("#ring-live").addEventListener("click", () => startLive(panel, live));
  $("#live-stop").addEventListener("click", () => stopLive(live));
  // Leaving the page or hiding it (phone locked) ends the live view now, not at its limit.
  addEventListener("pagehide", () => stopLive(live, { quiet: true }));
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopLive(live, { quiet: true });
  });

  const handlers = {
    ring: (data, sseAt) => {
      panel.select(data.device);
      escalation.clear();
      card.show(data, sseAt, visits.expected);
      $("#announce").textContent = `The doorbell rang at ${clock(data.at, timeZone)}.`;
    },
    snapshot: (data) => {
      if (data.reason === "live_view" && data.device === live.device) {
        $("#live-frame").src = `/api/snapshots/${encodeURIComponent(data.snapshot_id)}`;
        $("#live-status").textContent = `Picture from ${clock(data.at, timeZone)}`;
      } else {
        card.onSnapshot(data);
      }
    },
    command: (data) => unlocker.onNotice("command", data),
    escalation: (data, sseAt) => followRing(data.event_id, sseAt).catch(() => {}),
    check_in: (data) => {
      card.onCheckIn(data);
      if (approvals) approvals.load().catch(() => {});
      visits.onCheckIn(data).catch(() => {});
    },
  };
  for (const kind of ["state", "lock", "door", "presence"]) {
    handlers[kind] = (data) => {
      panel.update(kind, data);
      unlocker.onNotice(kind, data);
    };
  }
  // Notices sent while the stream was down are lost: on each reconnection, read the
  // doors, who is expected (and their check-ins) and the waiting carers again, and on
  // each connection the shown ring's escalation (the API refuses a ring this person may
  // not see).
  let connections = 0;
  connect(handlers, () => {
    if (connections++ > 0) {
      panel.reload(home).catch(() => {});
      visits.load().then(() => card.onExpected(visits.expected)).catch(() => {});
      if (approvals) approvals.load().catch(() => {});
    }
    if (card.ring) followRing(card.ring.event_id, now()).catch(() => {});
  });

  const askedAt = Date.now();
  const [doors] = await Promise.all([
    api(`/api/homes/${encodeURIComponent(home)}/doors`),
    visits.load().catch(() => visits.render()),
  ]);
  panel.load(doors, askedAt);
  if (approvals) await approvals.load().catch(() => {});
  const opened = new URLSearchParams(location.search).get("ring");
  if (opened) await followRing(opened, now()).catch(() => {});
}

/** The live stream; body[data-stream] says "open" once notices can arrive, and
 * onReady runs then, on the first connection and after each reconnection. */
function connect(handlers, onReady) {
  const stream = new EventSource("/api/stream");
  // "ready" comes once the hub feeds this stream ("open" only means headers arrived).
  stream.addEventListener("ready", () => {
    document.body.dataset.stream = "open";
    onReady();
  });
  for (const [kind, handler] of Object.entries(handlers)) {
    stream.addEventListener(kind, (event) => {
      const sseAt = now();
      const data = JSON.parse(event.data);
      if (data.home === home) handler(data, sseAt);
    });
  }
  stream.addEventListener("error", () => {
    document.body.dataset.stream = "closed";
    // A lost network: EventSource retries by itself. An ended session (401): it gives
    // up (CLOSED), so ask the API which it was.
    if (stream.readyState === EventSource.CLOSED) {
      api("/api/session").then(() => setTimeout(() => connect(handlers, onReady), 2000)).catch(toLogin);
    }
  });
}

async function startLive(panel, live) {
  const door = panel.door();
  if (!door) return;
  try {
    await api(`/api/doors/${encodeURIComponent(door.device)}/live`, { method: "POST", body: { seconds: 30 } });
    live.device = door.device;
    $("#live").hidden = false;
    $("#live-status").textContent = "Waiting for the camera…";
    $("#live-stop").focus();
  } catch (error) {
    fail(error);
  }
}

async function stopLive(live, { quiet = false } = {}) {
  const device = live.device;
  if (!device) return;
  live.device = null;
  $("#live").hidden = true;
  if (!quiet) $("#live-view").focus();
  // keepalive: the request still goes out while the page is being closed.
  await api(`/api/doors/${encodeURIComponent(device)}/live/stop`, { method: "POST", keepalive: true })
    .catch(quiet ? () => {} : fail);
}

main().then(ready, fail);
registerServiceWorker();
