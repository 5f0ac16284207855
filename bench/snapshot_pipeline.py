"""Snapshot pipeline cost on this machine: simulated capture -> resize -> JPEG encode,
and the sharpest-of-N burst selection, for 640x480 and 1280x720 cameras.

Prints one JSON object: per camera size, median and p95 in milliseconds of each
stage and of the whole ring snapshot (burst capture + pick sharpest + resize + encode).

    $ .venv/bin/python bench/snapshot_pipeline.py --iterations 200
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2

from hardware.imaging import encode_jpeg, pick_sharpest, resize_to_width
from hardware.sim_camera import SimCamera

SIZES = ((640, 480), (1280, 720))


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 3), "p95_ms": round(p95, 3)}


def timed(fn: Callable[[], Any], iterations: int) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(iterations):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result


def measure(size: tuple[int, int], args: argparse.Namespace) -> dict[str, Any]:
    camera = SimCamera(*size, seed=args.seed, visitor=True)
    camera.capture()  # draws the scene once, as a long-running agent would have
    frame = camera.capture()
    capture_ms, _ = timed(camera.capture, args.iterations)
    resize_ms, small = timed(lambda: resize_to_width(frame, args.max_width), args.iterations)
    encode_full_ms, full_jpeg = timed(
        lambda: encode_jpeg(frame, quality=args.quality), args.iterations
    )
    encode_small_ms, small_jpeg = timed(
        lambda: encode_jpeg(small, quality=args.quality), args.iterations
    )
    burst = [camera.capture() for _ in range(args.burst)]
    select_ms, _ = timed(lambda: pick_sharpest(burst), args.iterations)

    def ring_snapshot() -> bytes:
        frames = [camera.capture() for _ in range(args.burst)]
        _, best = pick_sharpest(frames)
        return encode_jpeg(best, max_width=args.max_width, quality=args.quality)

    pipeline_ms, jpeg = timed(ring_snapshot, max(10, args.iterations // args.burst))
    return {
        "capture": summary(capture_ms),
        "resize": {**summary(resize_ms), "to": list(small.shape[1::-1])},
        "encode_full": {**summary(encode_full_ms), "bytes": len(full_jpeg)},
        "encode_resized": {**summary(encode_small_ms), "bytes": len(small_jpeg)},
        "sharpest_of_n": {**summary(select_ms), "n": args.burst},
        "ring_snapshot": {**summary(pipeline_ms), "bytes": len(jpeg)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200, help="samples per figure")
    parser.add_argument("--burst", type=int, default=5, help="frames in a ring burst")
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality")
    parser.add_argument("--max-width", type=int, default=640, help="snapshot width on the wire")
    parser.add_argument("--seed", type=int, default=1, help="simulated scene seed")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # a Pi Zero 2 W has 4 slow cores; measure one, as the agent uses it
    results = {f"{w}x{h}": measure((w, h), args) for w, h in SIZES}
    report = {
        "benchmark": "snapshot_pipeline",
        "iterations": args.iterations,
        "quality": args.quality,
        "max_width": args.max_width,
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
