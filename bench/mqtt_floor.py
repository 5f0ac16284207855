"""Print the MQTT floor as JSON: bare QoS 1 round trips through private brokers, plain
and mutual-TLS, 64 B and 60 KB, after warm-up.

    $ .venv/bin/python -m bench.mqtt_floor --trials 500
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from bench._floor import measure_floor


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500, help="measured trials per case")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured trials first")
    parser.add_argument(
        "--compare-autosave",
        action="store_true",
        help="also measure without autosave_on_changes (what durability costs)",
    )
    args = parser.parse_args(argv)
    if args.trials < 100:
        parser.error("--trials must be at least 100 for a meaningful p99")
    report = measure_floor(args.trials, args.warmup)
    if args.compare_autosave:
        report["without_autosave"] = measure_floor(args.trials, args.warmup, autosave=False)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
