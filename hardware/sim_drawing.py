"""numpy-only drawing for the simulated camera: shapes, box blur, hashed noise, a 5x7 font.

The simulated camera runs inside the edge agent's process, so it may not bring OpenCV
(about 35 MB resident) or even ``numpy.random`` (about 6 MB): shapes are masks over a
pixel grid, blur is a running sum, and randomness for whole images is a 32-bit integer
hash of the pixel index (deterministic for a seed, on every platform).

    >>> img = np.zeros((48, 64, 3), np.uint8)
    >>> fill_rect(img, (4, 4), (20, 10), (255, 255, 255))
    >>> int(img[5, 5, 0]), int(img[30, 30, 0])
    (255, 0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Colour = tuple[int, ...] | int
Point = tuple[float, float]


def fill_rect(img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], colour: Colour) -> None:
    """A filled rectangle with corners ``p0`` and ``p1`` (x, y), both included."""
    (x0, y0), (x1, y1) = p0, p1
    img[max(0, min(y0, y1)) : max(y0, y1) + 1, max(0, min(x0, x1)) : max(x0, x1) + 1] = colour


def outline_rect(
    img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], colour: Colour, thickness: int
) -> None:
    (x0, y0), (x1, y1) = p0, p1
    t = thickness // 2
    fill_rect(img, (x0 - t, y0 - t), (x1 + t, y0 + t), colour)
    fill_rect(img, (x0 - t, y1 - t), (x1 + t, y1 + t), colour)
    fill_rect(img, (x0 - t, y0 - t), (x0 + t, y1 + t), colour)
    fill_rect(img, (x1 - t, y0 - t), (x1 + t, y1 + t), colour)


def _grid(img: np.ndarray, box: tuple[float, float, float, float]):
    """Pixel centres (x, y) of the part of ``img`` inside ``box``, and that part's slices."""
    h, w = img.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2])) + 1), min(h, int(np.ceil(box[3])) + 1)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    return xx.astype(np.float32), yy.astype(np.float32), (slice(y0, y1), slice(x0, x1))


def _paint(img: np.ndarray, where: tuple[slice, slice], mask: np.ndarray, colour: Colour) -> None:
    if mask.size:
        img[where][mask] = colour


def fill_convex(img: np.ndarray, points: Sequence[Point], colour: Colour) -> None:
    """A filled convex polygon: the pixels on the inner side of every edge."""
    pts = np.asarray(points, np.float32)
    xx, yy, where = _grid(img, (*pts.min(0), *pts.max(0)))
    inside = np.ones(np.broadcast_shapes(xx.shape, yy.shape), bool)
    (ax, ay), (bx, by), (cx, cy) = pts[:3]
    turn = float(np.sign((bx - ax) * (cy - by) - (by - ay) * (cx - bx))) or 1.0
    for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, 0), strict=True):
        inside &= turn * ((bx - ax) * (yy - ay) - (by - ay) * (xx - ax)) >= -0.5
    _paint(img, where, inside, colour)


def fill_ellipse(
    img: np.ndarray,
    centre: tuple[int, int],
    axes: tuple[int, int],
    colour: Colour,
    *,
    half: str | None = None,
    ring: float | None = None,
) -> None:
    """A filled ellipse; ``half`` "upper"/"lower" keeps one half, ``ring`` only the rim."""
    (cx, cy), (a, b) = centre, (max(1, axes[0]), max(1, axes[1]))
    xx, yy, where = _grid(img, (cx - a - 1, cy - b - 1, cx + a + 1, cy + b + 1))
    r = np.sqrt(((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2)
    mask = r <= 1.0 if ring is None else np.abs(r - 1.0) <= ring / max(a, b)
    if half == "upper":
        mask &= yy <= cy
    elif half == "lower":
        mask &= yy >= cy
    _paint(img, where, mask, colour)


def thick_line(
    img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], colour: Colour, thickness: int
) -> None:
    """A straight line ``thickness`` pixels wide: pixels near the segment."""
    (x0, y0), (x1, y1) = p0, p1
    t = max(1, thickness) / 2
    xx, yy, where = _grid(img, (min(x0, x1) - t, min(y0, y1) - t, max(x0, x1) + t, max(y0, y1) + t))
    dx, dy = x1 - x0, y1 - y0
    length2 = float(dx * dx + dy * dy) or 1.0
    u = np.clip(((xx - x0) * dx + (yy - y0) * dy) / length2, 0.0, 1.0)
    dist2 = (xx - x0 - u * dx) ** 2 + (yy - y0 - u * dy) ** 2
    _paint(img, where, dist2 <= t * t, colour)


def box_blur(img: np.ndarray, kx: int, ky: int) -> np.ndarray:
    """Mean over a ``kx`` x ``ky`` window (edges repeated): k shifted slices summed per axis.

    Summing slices in uint16 is ~10x faster than a running sum (cumsum) in uint32 for the
    small windows the camera uses (3-15 pixels), and gives the same result.
    """
    out = img
    for axis, k in ((1, kx), (0, ky)):
        if k > 1:
            before = k // 2
            pad = [(0, 0)] * img.ndim
            pad[axis] = (before, k - 1 - before)
            padded = np.pad(out, pad, mode="edge")
            n = out.shape[axis]
            index = [slice(None)] * img.ndim
            index[axis] = slice(0, n)
            total = padded[tuple(index)].astype(np.uint16 if k <= 257 else np.uint32)
            for i in range(1, k):
                index[axis] = slice(i, i + n)
                total += padded[tuple(index)]
            total += k // 2
            total //= k
            out = total.astype(np.uint8)
    return out


def hashed_bytes(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Four pseudo-random bytes per element (uint8, last axis 4): a hash of index and seed."""
    x = np.arange(int(np.prod(shape)), dtype=np.uint32)
    x *= np.uint32(0x9E3779B9)
    x += np.uint32((seed * 0x85EBCA6B + 0x27D4EB2F) & 0xFFFFFFFF)
    # "lowbias32" integer hash: every input bit changes about half of the output bits.
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x.view(np.uint8).reshape(*shape, 4)


def abs_noise(shape: tuple[int, ...], seed: int, sigma: float) -> np.ndarray:
    """|Gaussian noise| of standard deviation ``sigma``, as uint8 (sum of 4 uniform bytes)."""
    total = hashed_bytes(shape, seed).sum(axis=-1, dtype=np.int16)
    # Four uniform bytes: mean 510, standard deviation 147.8 (Irwin-Hall), nearly normal.
    scaled = np.abs(total - 510).astype(np.float32)
    scaled *= sigma / 147.8
    return np.rint(scaled).clip(0, 255).astype(np.uint8)


# A 5x7 font: seven rows of five bits (most significant on the left) per character.
_FONT = {
    " ": "00000000000000", "-": "0000001F000000", ":": "000C0C000C0C00",
    ".": "00000000000C0C", "0": "0E11131519110E",
    "1": "040C040404040E", "2": "0E11010204081F",
    "3": "1F02040201110E", "4": "02060A121F0202",
    "5": "1F101E0101110E", "6": "0608101E11110E", "7": "1F010204080808",
    "8": "0E11110E11110E", "9": "0E11110F01020C", "A": "0E1111111F1111",
    "B": "1E11111E11111E", "C": "0E11101010110E", "D": "1C12111111121C",
    "E": "1F10101E10101F", "F": "1F10101E101010", "G": "0E11101711110F",
    "H": "1111111F111111", "I": "0E04040404040E", "J": "0702020202120C",
    "K": "11121418141211", "L": "1010101010101F", "M": "111B1515111111",
    "N": "11111915131111", "O": "0E11111111110E", "P": "1E11111E101010",
    "Q": "0E11111115120D", "R": "1E11111E141211", "S": "0F10100E01011E",
    "T": "1F040404040404", "U": "1111111111110E", "V": "11111111110A04",
    "W": "1111111515150A", "X": "11110A040A1111", "Y": "1111110A040404",
    "Z": "1F01020408101F",
}  # fmt: skip


def _glyph(char: str) -> np.ndarray:
    rows = bytes.fromhex(_FONT.get(char.upper(), _FONT[" "]))
    return np.array([[(row >> (4 - i)) & 1 for i in range(5)] for row in rows], bool)


def draw_text(img: np.ndarray, text: str, org: tuple[int, int], scale: int) -> None:
    """White text with a soft dark shadow; ``org`` is the bottom-left corner (x, y), clipped.

    Edges are softened (as an anti-aliased overlay is): hard black-and-white pixel edges
    would outweigh the whole picture in a Laplacian sharpness score.
    """
    s = max(1, scale)
    glyphs = np.zeros((7, 6 * len(text)), np.uint8)
    for i, char in enumerate(text):
        glyphs[:, 6 * i : 6 * i + 5] = _glyph(char)
    alpha = np.zeros((7 * s + 4, 6 * len(text) * s + 4), np.uint8)
    alpha[2:-2, 2:-2] = glyphs.repeat(s, 0).repeat(s, 1) * 255
    shadow = box_blur(np.roll(alpha, (1, 1), (0, 1)), 3, 3)
    alpha = box_blur(alpha, 2, 2)
    h, w = img.shape[:2]
    x0, y0 = org[0] - 2, org[1] - 7 * s - 2
    ys = slice(max(0, y0), min(h, y0 + alpha.shape[0]))
    xs = slice(max(0, x0), min(w, x0 + alpha.shape[1]))
    if ys.start >= ys.stop or xs.start >= xs.stop:
        return
    part = (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))
    region = img[ys, xs].astype(np.uint16)
    dark = shadow[part][:, :, None].astype(np.uint16)
    light = alpha[part][:, :, None].astype(np.uint16)
    region = region * (255 - dark) // 255
    img[ys, xs] = (region * (255 - light) + 255 * light) // 255
