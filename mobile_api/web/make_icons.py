"""Draw Doorstep's app icons (a door with a bell dot) once; the PNGs are committed.

Run again only to change the design:

    .venv/bin/python mobile_api/web/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
BLACK = (12, 11, 11)  # BGR of #0b0c0c
BLUE = (184, 112, 29)  # #1d70b8
YELLOW = (0, 221, 255)  # #ffdd00
WHITE = (255, 255, 255)


def icon(size: int) -> np.ndarray:
    """Square icon; the door sits inside the maskable safe zone (central 80%)."""
    s = size / 512
    img = np.full((size, size, 3), BLACK, dtype=np.uint8)

    def box(x0: int, y0: int, x1: int, y1: int, colour: tuple[int, int, int]) -> None:
        cv2.rectangle(
            img, (round(x0 * s), round(y0 * s)), (round(x1 * s), round(y1 * s)), colour, -1
        )

    box(0, 462, 512, 512, BLUE)  # the header's blue rule
    box(166, 110, 346, 420, WHITE)  # door frame
    box(186, 130, 326, 420, BLUE)  # door
    cv2.circle(
        img, (round(300 * s), round(280 * s)), round(14 * s), YELLOW, -1, cv2.LINE_AA
    )  # handle
    cv2.circle(
        img, (round(390 * s), round(250 * s)), round(22 * s), YELLOW, -1, cv2.LINE_AA
    )  # bell
    return img


def main() -> None:
    out = HERE / "static" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        cv2.imwrite(str(out / f"icon-{size}.png"), icon(size), [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    main()
