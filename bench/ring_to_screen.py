"""From the door to the family's screen, timed inside a real browser, with the MQTT floor
measured in the same run.

- ring: finger on the simulated bell (epoch ms taken in Python just before the press)
  -> the ring card is visible in headless Chromium with its snapshot decoded (the page's
  ``window.__doorstepMarks`` "ring" entry, ``shown_at``); a family member's ring notice
  carries the picture inline, so ``picture_fetch`` is null unless the page had to fetch it;
- unlock: the Unlock dialog is confirmed with a fresh authenticator code (the page's
  ``clicked_at``) -> step-up, command signed and sent, relay energised on the simulated
  board, signed acknowledgement back -> "unlocked — relocking in N s" shown (``shown_at``;
  N is the hold time the door's acknowledgement reports).

Breakdowns (all from the same press or confirm) come from a subscriber of the bench's own
on the broker (when the ring, the command and the acknowledgement crossed it), the hub's
notice bus (when the hub had stored the ring, sent and heard back about the command), the
board's relay history and the page's Resource Timing (when the unlock POST was answered).

    $ .venv/bin/python -m bench.ring_to_screen --trials 100
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Page, sync_playwright

from bench._floor import measure_floor, percentiles
from bench._stack import Stack, running_stack
from hub.bus import Subscription
from protocol import DoorbellRang, decode
from protocol.mqtt import LinkSettings, MqttLink
from protocol.topics import PREFIX, TopicKind, topic_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    # Straight to IPv4 loopback, where uvicorn listens: no ::1 attempt first.
    "--host-resolver-rules=MAP localhost 127.0.0.1",
]
TARGETS = {"ring_p95_ms": 20, "unlock_p95_ms": 20}
MARKS = "window.__doorstepMarks"


def epoch_ms() -> float:
    return time.time() * 1000


class BusClock:
    """When the hub posted each notice we care about, in epoch ms (a thread of its own)."""

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub
        self.seen: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-bus", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            notice = self.sub.get(timeout=0.2)
            if notice is None:
                continue
            at = epoch_ms()
            if notice.kind == "ring":
                self.seen.setdefault(("ring", notice.data.get("event_id", "")), at)
            elif notice.kind == "command":
                key = (f"command:{notice.data.get('status')}", notice.data.get("command_id", ""))
                self.seen.setdefault(key, at)

    @contextmanager
    def running(self) -> Iterator[BusClock]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(2)
            self.sub.close()


class WireClock:
    """When the door's ring events and acknowledgements crossed the broker (epoch ms), seen
    by a subscriber of our own: splits the device's share from the hub's."""

    def __init__(self, stack: Stack) -> None:
        self.rings: dict[str, float] = {}
        self.commands: list[float] = []
        self.acks: list[float] = []
        self.link = MqttLink(
            LinkSettings(stack.broker_host, stack.broker_port, "bench-wire", clean_start=True)
        )
        self.link.subscribe(f"{PREFIX}/{stack.device}/event/+", self._on_event)
        self.link.subscribe(topic_for(TopicKind.ACK, stack.device), self._on_ack)
        self.link.subscribe(topic_for(TopicKind.COMMAND, stack.device), self._on_command)

    def _on_event(self, topic: str, payload: bytes, _props: object) -> None:
        at = epoch_ms()
        message = decode(topic, payload).message
        if isinstance(message, DoorbellRang):
            self.rings[message.id] = at

    def _on_ack(self, _topic: str, _payload: bytes, _props: object) -> None:
        self.acks.append(epoch_ms())

    def _on_command(self, _topic: str, _payload: bytes, _props: object) -> None:
        self.commands.append(epoch_ms())

    def first_ack_after(self, at: float) -> float | None:
        return next((t for t in self.acks if t >= at), None)

    def first_command_after(self, at: float) -> float | None:
        return next((t for t in self.commands if t >= at), None)

    @contextmanager
    def running(self) -> Iterator[WireClock]:
        self.link.start()
        if not self.link.wait_subscribed():
            raise TimeoutError("the bench's own MQTT subscriber got no SUBACK")
        try:
            yield self
        finally:
            self.link.stop()


def page_clock_offset(page: Page, rounds: int = 30) -> dict[str, float]:
    """Page epoch ms (timeOrigin + now) minus Python epoch ms, from the tightest round trip."""
    best: tuple[float, float] | None = None
    for _ in range(rounds):
        before = epoch_ms()
        inside = page.evaluate("performance.timeOrigin + performance.now()")
        after = epoch_ms()
        sample = (after - before, inside - (before + after) / 2)
        if best is None or sample[0] < best[0]:
            best = sample
    assert best is not None
    return {"offset_ms": round(best[1], 3), "uncertainty_ms": round(best[0] / 2, 3)}


def wait_for_mark(page: Page, kind: str, count: int, timeout_ms: float = 10_000) -> dict[str, Any]:
    """The next mark of ``kind`` once there are more than ``count`` of them."""
    page.wait_for_function(
        f"([k, n]) => {MARKS}.filter((m) => m.kind === k).length > n",
        arg=[kind, count],
        timeout=timeout_ms,
    )
    return page.evaluate(f"(k) => {MARKS}.filter((m) => m.kind === k).at(-1)", kind)


# Resource Timing of the newest request whose URL ends with ``suffix``, in epoch ms.
RESOURCE = """(suffix) => {
  const e = performance.getEntriesByType("resource").filter((r) => r.name.endsWith(suffix)).at(-1);
  if (!e) return null;
  const t = (v) => performance.timeOrigin + v;
  return { start: t(e.startTime), first_byte: t(e.responseStart), end: t(e.responseEnd) };
}"""


def resource(page: Page, suffix: str) -> dict[str, float] | None:
    return page.evaluate(RESOURCE, suffix)


def marks_of(page: Page, kind: str) -> int:
    return int(page.evaluate(f"(k) => {MARKS}.filter((m) => m.kind === k).length", kind))


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.base_url}/login?next=/homes/{stack.home}")
    page.fill("#username", stack.username)
    page.fill("#password", stack.password)
    page.fill("#totp", stack.totp_code())
    page.click("#login")
    page.wait_for_url(f"**/homes/{stack.home}", timeout=15_000)
    page.wait_for_selector('body[data-stream="open"]', state="attached", timeout=15_000)
    page.wait_for_selector("#door-summary", state="visible", timeout=15_000)


def ring_trials(
    page: Page,
    stack: Stack,
    clocks: tuple[BusClock, WireClock],
    offset: float,
    trials: int,
    warmup: int,
) -> dict[str, list[float]]:
    bus, wire = clocks
    out: dict[str, list[float]] = {
        k: []
        for k in ("shown", "on_wire", "hub_stored", "sse_in_page", "picture", "fetch", "decode")
    }
    with_picture = 0
    for i in range(warmup + trials):
        page.evaluate("performance.clearResourceTimings()")
        count = marks_of(page, "ring")
        pressed = epoch_ms()
        stack.board.ring()
        m = wait_for_mark(page, "ring", count)
        with_picture += bool(m.get("snapshot"))
        if i >= warmup:
            out["shown"].append(m["shown_at"] - offset - pressed)
            out["sse_in_page"].append(m["sse_at"] - offset - pressed)
            out["picture"].append(m["shown_at"] - m["sse_at"])
            if m["event_id"] in wire.rings:
                out["on_wire"].append(wire.rings[m["event_id"]] - pressed)
            stored = bus.seen.get(("ring", m["event_id"]))
            if stored is not None:
                out["hub_stored"].append(stored - pressed)
            fetched = resource(page, page.evaluate("document.querySelector('#ring-snapshot').src"))
            if fetched is not None:
                out["fetch"].append(fetched["end"] - fetched["start"])
                out["decode"].append(m["shown_at"] - fetched["end"])
        time.sleep(0.05)  # let the card settle; the agent's cooldown is 0
    if with_picture != warmup + trials:
        raise RuntimeError(f"only {with_picture} rings were shown with their picture")
    return out


def unlock_trials(
    page: Page,
    stack: Stack,
    clocks: tuple[BusClock, WireClock],
    offset: float,
    trials: int,
    warmup: int,
) -> tuple[dict[str, list[float]], dict[str, int]]:
    bus, wire = clocks
    out: dict[str, list[float]] = {
        k: []
        for k in (
            "shown",
            "unlock_post",
            "command_on_wire",
            "relay",
            "ack_to_shown",
            "hub_sent",
            "hub_acked",
            "ack_on_wire",
            "acked_to_shown",
        )
    }
    texts: dict[str, int] = {}
    by_poll = 0
    mono_to_epoch_ms = (time.time() - time.monotonic()) * 1000
    page.wait_for_selector("#unlock", state="visible", timeout=10_000)  # after a ring
    for i in range(warmup + trials):
        deadline = time.monotonic() + 10
        while not stack.door_settled():
            if time.monotonic() > deadline:
                raise TimeoutError(f"unlock {i}: the door did not re-lock within 10 s")
            time.sleep(0.01)
        page.evaluate("performance.clearResourceTimings()")
        count = marks_of(page, "unlock")
        page.click("#unlock")
        page.fill("#step-up-code", stack.totp_code())
        relay_before = len(stack.board.relay_changes)
        page.click("#unlock-confirm")
        m = wait_for_mark(page, "unlock", count)
        texts[m["text"]] = texts.get(m["text"], 0) + 1
        if i < warmup:
            continue
        clicked = m["clicked_at"] - offset
        out["shown"].append(m["shown_at"] - m["clicked_at"])
        sent = bus.seen.get(("command:sent", m["command_id"]))
        if sent is not None:
            out["hub_sent"].append(sent - clicked)
        acked = bus.seen.get(("command:acknowledged", m["command_id"]))
        if acked is not None:
            out["acked_to_shown"].append(m["shown_at"] - offset - acked)
        # The code travels with the unlock POST (one request steps up and unlocks).
        post = resource(page, "/unlock")
        if post is not None:
            out["unlock_post"].append(post["end"] - m["clicked_at"])
        command_on_wire = wire.first_command_after(clicked)
        if command_on_wire is not None:
            out["command_on_wire"].append(command_on_wire - clicked)
        # The page also polls the command every 250 ms: did a poll, not the stream, settle it?
        polled = resource(page, f"/api/commands/{m['command_id']}")
        if polled is not None and 0 <= m["shown_at"] - polled["end"] < 5:
            by_poll += 1
        energised = next((t for t, on in stack.board.relay_changes[relay_before:] if on), None)
        if energised is not None:
            relay_at = energised * 1000 + mono_to_epoch_ms
            out["relay"].append(relay_at - clicked)
            out["ack_to_shown"].append(m["shown_at"] - offset - relay_at)
            if acked is not None:
                out["hub_acked"].append(acked - relay_at)
            ack_on_wire = wire.first_ack_after(relay_at)
            if ack_on_wire is not None:
                out["ack_on_wire"].append(ack_on_wire - relay_at)
    return out, {"texts_shown": texts, "settled_by_poll_not_stream": by_poll}


def summarise(samples: dict[str, list[float]]) -> dict[str, Any]:
    return {name: percentiles(values) for name, values in samples.items() if len(values) >= 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--floor-trials", type=int, default=300)
    parser.add_argument(
        "--door-in-process",
        action="store_true",
        help="run the door's agent inside the bench process (it shares the hub's and the "
        "web app's interpreter); by default it has a process of its own, as on a Pi",
    )
    args = parser.parse_args()
    floor = measure_floor(trials=args.floor_trials)
    plain = floor["results"]["plain"]  # type: ignore[index]
    with running_stack(door_process=not args.door_in_process) as stack, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            sign_in(page, stack)
            offset = page_clock_offset(page)
            with (
                BusClock(stack.hub.bus.subscribe()).running() as bus,
                WireClock(stack).running() as wire,
            ):
                at = offset["offset_ms"]
                ring = ring_trials(page, stack, (bus, wire), at, args.trials, args.warmup)
                unlock, texts = unlock_trials(
                    page, stack, (bus, wire), at, args.trials, args.warmup
                )
        finally:
            browser.close()
    ring_s, unlock_s = summarise(ring), summarise(unlock)
    result = {
        "benchmark": "ring_to_screen",
        "trials": args.trials,
        "door": "in the bench process" if args.door_in_process else "its own process",
        "warmup": args.warmup,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "floor_plain_64B": plain["64B"],
        "floor_plain_60KB": plain["60KB"],
        "page_clock": offset,
        "ring": {
            "press_to_card_with_picture_shown": ring_s.get("shown"),
            "press_to_ring_event_on_the_broker": ring_s.get("on_wire"),
            "press_to_hub_stored_and_posted": ring_s.get("hub_stored"),
            "press_to_sse_in_page": ring_s.get("sse_in_page"),
            "sse_to_picture_decoded_and_shown": ring_s.get("picture"),
            "picture_fetch": ring_s.get("fetch"),
            "picture_fetched_to_decoded_and_shown": ring_s.get("decode"),
        },
        "unlock": {
            "confirm_to_acknowledgement_shown": unlock_s.get("shown"),
            "confirm_to_unlock_post_answered": unlock_s.get("unlock_post"),
            "confirm_to_command_on_the_broker": unlock_s.get("command_on_wire"),
            "confirm_to_relay_energised": unlock_s.get("relay"),
            "relay_energised_to_acknowledgement_shown": unlock_s.get("ack_to_shown"),
            "relay_energised_to_ack_on_the_broker": unlock_s.get("ack_on_wire"),
            "relay_energised_to_hub_posted_acknowledged": unlock_s.get("hub_acked"),
            "hub_posted_acknowledged_to_shown": unlock_s.get("acked_to_shown"),
            "confirm_to_hub_marked_sent_after_puback": unlock_s.get("hub_sent"),
            **texts,
        },
        "ratio_ring_p95_to_floor_60KB_p95": round(
            ring_s["shown"]["p95_ms"] / plain["60KB"]["p95_ms"], 2
        ),
        "ratio_unlock_p95_to_floor_64B_p95": round(
            unlock_s["shown"]["p95_ms"] / plain["64B"]["p95_ms"], 2
        ),
        "targets": TARGETS,
        "ring_target_met": ring_s["shown"]["p95_ms"] <= TARGETS["ring_p95_ms"],
        "unlock_target_met": unlock_s["shown"]["p95_ms"] <= TARGETS["unlock_p95_ms"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
