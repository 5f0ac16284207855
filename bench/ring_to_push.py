"""From the door to a push request leaving the hub, with the MQTT floor measured in the same run.

- ring: finger on the simulated bell (epoch ms taken just before the press) -> the edge
  agent publishes through a private Mosquitto -> the real hub stores the ring and posts it
  -> the NotifyWorker routes it (recipients, preferences, rate limit, claim in SQLite),
  encrypts (RFC 8291), signs VAPID and POSTs -> a local push endpoint on 127.0.0.1 has the
  request (``received``, epoch ms when its handler starts). The endpoint then checks the
  VAPID signature and decrypts the payload, outside the timed span; every one must pass.
- breakdown: press -> ring event on the broker (our own subscriber), press -> hub posted
  the ring on its notice bus, and bus -> push received (the notification layer's share).

The bench member has one push subscription. Each trial is a new ring at the same door, so
the bench lifts the per-person rate limit (3 per 10 minutes by default), which would
otherwise hold back all but the first three.

    $ .venv/bin/python -m bench.ring_to_push --trials 100
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import http_ece
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bench._floor import measure_floor, percentiles
from bench._stack import running_stack
from bench.ring_to_screen import BusClock, WireClock, epoch_ms
from hub.notify import VAPID_KEY_FILE, NotifyWorker, VapidKeys, WebPushChannel
from hub.notify.ratelimit import RateLimit
from hub.notify.store import save_subscription
from hub.notify.vapid import b64url, b64url_decode
from hub.storage import members_of
from protocol import utcnow

SUBJECT = "mailto:bench@doorstep.example"


class PushEndpoint:
    """A push service on loopback: notes when each request arrives, then checks it."""

    def __init__(self, vapid_public: bytes) -> None:
        self.vapid = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), vapid_public)
        self.key = ec.generate_private_key(ec.SECP256R1())  # the "browser's" ECDH key
        self.auth = os.urandom(16)
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.problems: list[str] = []
        self.cond = threading.Condition()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = epoch_ms()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payload = endpoint.check(self.headers.get("Authorization", ""), body)
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with endpoint.cond:
                    endpoint.received.append((at, payload))
                    endpoint.cond.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push/bench"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def p256dh(self) -> str:
        raw = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return b64url(raw)

    def check(self, authorization: str, body: bytes) -> dict[str, Any]:
        try:
            params = dict(p.split("=", 1) for p in authorization.split(" ", 1)[1].split(","))
            head, claims, sig = params["t"].split(".")
            raw = b64url_decode(sig)
            der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
            self.vapid.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
            plain = http_ece.decrypt(
                body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
            )
            return dict(json.loads(plain))
        except Exception as exc:  # recorded: the run fails if any request was wrong
            self.problems.append(f"{type(exc).__name__}: {exc}")
            return {}

    def wait_count(self, count: int, timeout: float = 10) -> tuple[float, dict[str, Any]]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.received) > count, timeout):
                raise TimeoutError(f"push {count + 1} did not arrive within {timeout} s")
            return self.received[count]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
    samples: dict[str, list[float]] = {
        "received": [],
        "on_wire": [],
        "hub_posted": [],
        "notify": [],
    }
    with tempfile.TemporaryDirectory(prefix="doorstep-bench-push-") as keys_dir:
        keys = VapidKeys.load_or_create(Path(keys_dir) / VAPID_KEY_FILE)
        endpoint = PushEndpoint(keys.public_bytes)
        try:
            with running_stack(door_process=not args.door_in_process) as stack:
                db = stack.hub.db
                with db.session() as s:
                    (member,) = members_of(s, stack.home)
                    save_subscription(
                        s,
                        person_id=member.person_id,
                        endpoint=endpoint.url,
                        p256dh=endpoint.p256dh(),
                        auth=b64url(endpoint.auth),
                        at=utcnow(),
                    )
                channel = WebPushChannel(db, keys, subject=SUBJECT)
                worker = NotifyWorker(
                    db, stack.hub.bus, [channel], rate_limit=RateLimit(10**9, 1.0)
                )
                worker.start()
                try:
                    with (
                        BusClock(stack.hub.bus.subscribe()).running() as bus,
                        WireClock(stack).running() as wire,
                    ):
                        for i in range(args.warmup + args.trials):
                            pressed = epoch_ms()
                            stack.board.ring()
                            at, payload = endpoint.wait_count(i)
                            if i < args.warmup:
                                continue
                            event = payload.get("data", {}).get("event_id", "")
                            samples["received"].append(at - pressed)
                            if event in wire.rings:
                                samples["on_wire"].append(wire.rings[event] - pressed)
                            posted = bus.seen.get(("ring", event))
                            if posted is not None:
                                samples["hub_posted"].append(posted - pressed)
                                samples["notify"].append(at - posted)
                            time.sleep(0.05)  # the agent's cooldown is 0; let the door settle
                    worker.wait_idle(10)
                finally:
                    worker.stop()
        finally:
            endpoint.close()
    if endpoint.problems:
        raise RuntimeError(f"push requests failed their checks: {endpoint.problems[:3]}")
    if len(endpoint.received) != args.warmup + args.trials:
        raise RuntimeError(f"{len(endpoint.received)} pushes for {args.warmup + args.trials} rings")
    got = {k: percentiles(v) for k, v in samples.items() if len(v) >= 2}
    result = {
        "benchmark": "ring_to_push",
        "trials": args.trials,
        "door": "in the bench process" if args.door_in_process else "its own process",
        "warmup": args.warmup,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "floor_plain_64B": plain["64B"],
        "ring": {
            "press_to_push_request_received": got.get("received"),
            "press_to_ring_event_on_the_broker": got.get("on_wire"),
            "press_to_hub_posted_ring": got.get("hub_posted"),
            "hub_posted_to_push_request_received": got.get("notify"),
        },
        "ratio_push_p50_to_floor_64B_p50": round(
            got["received"]["p50_ms"] / plain["64B"]["p50_ms"], 2
        ),
        "ratio_push_p95_to_floor_64B_p95": round(
            got["received"]["p95_ms"] / plain["64B"]["p95_ms"], 2
        ),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
