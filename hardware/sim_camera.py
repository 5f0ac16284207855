"""A simulated doorbell camera: a porch seen from the door, a visitor when someone is there.

Frames are deterministic for a given seed, frame number and clock reading:
the scene and the visitor are drawn once, and each capture only pastes the
visitor (with a little sway and, on some frames, motion or focus blur), adds
sensor noise and stamps the time. A 640x480 frame takes a few milliseconds.
numpy only (hardware/sim_drawing.py): it runs inside the edge agent's process.

    >>> camera = SimCamera(640, 480, seed=7, visitor=True)
    >>> camera.capture().shape
    (480, 640, 3)
    >>> camera.cut()        # the next capture raises CameraUnavailable
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime

import numpy as np

from .errors import CameraUnavailable, InvalidCameraSettings
from .interfaces import Frame
from .sim_drawing import (
    abs_noise,
    box_blur,
    draw_text,
    fill_convex,
    fill_ellipse,
    fill_rect,
    hashed_bytes,
    outline_rect,
    thick_line,
)

Clock = Callable[[], datetime]
_NOISE_MARGIN = 16  # one noise field, read at two different offsets each frame
_NOISE_SIGMA = 4.0


def _rgb(rng: random.Random, base: tuple[int, int, int], spread: int) -> tuple[int, ...]:
    """A BGR colour near ``base``."""
    return tuple(min(255, max(0, c + rng.randint(-spread, spread))) for c in base)


def _draw_houses(img: np.ndarray, horizon: int, rng: random.Random) -> None:
    """Terraced houses across the street: brick, a roof, two windows each."""
    h, w = img.shape[:2]
    x = 0
    while x < w:
        hw = int(w * rng.uniform(0.14, 0.24))
        top = int(h * rng.uniform(0.2, 0.3))
        fill_rect(img, (x, top), (x + hw, horizon), _rgb(rng, (60, 80, 150), 25))
        roof = [(x - 4, top), (x + hw + 4, top), (x + hw // 2, top - int(h * 0.07))]
        fill_convex(img, roof, _rgb(rng, (70, 70, 80), 10))
        for wx in (x + hw // 5, x + 3 * hw // 5):
            wy = top + int(h * 0.04)
            corner = (wx + hw // 5, wy + int(h * 0.06))
            fill_rect(img, (wx, wy), corner, (200, 190, 170))
            outline_rect(img, (wx, wy), corner, (240, 240, 240), 2)
        x += hw


def _draw_scene(w: int, h: int, rng: random.Random, seed: int) -> Frame:
    """The porch as a doorbell camera sees it: sky, houses across the street, path, walls."""
    img = np.empty((h, w, 3), np.uint8)
    horizon = int(h * 0.42)
    sky_top, sky_low = np.array([225, 190, 150]), np.array([245, 230, 215])  # BGR
    t = np.linspace(0, 1, horizon)[:, None]
    img[:horizon] = (sky_top * (1 - t) + sky_low * t)[:, None, :].astype(np.uint8)
    img[horizon:] = _rgb(rng, (60, 125, 75), 12)  # lawn
    _draw_houses(img, horizon, rng)
    fill_rect(img, (0, horizon), (w, int(h * 0.5)), (120, 125, 128))  # street
    thick_line(img, (0, int(h * 0.5)), (w, int(h * 0.5)), (170, 175, 180), max(2, h // 120))
    hedge = np.zeros((h, w), np.uint8)  # front hedges, textured
    fill_rect(hedge, (0, int(h * 0.5)), (int(w * 0.3), int(h * 0.62)), 255)
    fill_rect(hedge, (int(w * 0.7), int(h * 0.5)), (w, int(h * 0.62)), 255)
    texture = (35 + hashed_bytes((h, w), seed)[..., 0] % 60).astype(np.uint8)
    texture = box_blur(box_blur(texture, 3, 3), 3, 3)  # about a Gaussian of sigma 1.4
    green = np.stack([texture // 2, texture + 40, texture // 2], axis=-1)
    img[hedge > 0] = green[hedge > 0]
    path = [(w * 0.42, h * 0.5), (w * 0.58, h * 0.5), (w * 0.85, h), (w * 0.15, h)]
    fill_convex(img, path, _rgb(rng, (150, 170, 185), 10))
    for i in range(1, 8):  # paving joints, closer together towards the street
        f = 0.5 * (i / 8) ** 1.6
        y, half = int(h * (0.5 + f)), w * (0.08 + 0.54 * f)
        fill_rect(img, (int(w / 2 - half), y), (int(w / 2 + half), y), (120, 135, 150))
    wall = _rgb(rng, (160, 175, 190), 10)  # the doorway's own walls framing the view
    fill_rect(img, (0, 0), (int(w * 0.08), h), wall)
    fill_rect(img, (int(w * 0.92), 0), (w, h), wall)
    fill_rect(img, (0, 0), (w, int(h * 0.05)), wall)
    # Lens vignette.
    yy, xx = np.ogrid[0:h, 0:w]
    r = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    gain = (1.0 - 0.22 * r).clip(0.55, 1.0).astype(np.float32)
    return (img * gain[:, :, None]).astype(np.uint8)


def _draw_visitor(w: int, h: int, rng: random.Random) -> tuple[Frame, np.ndarray]:
    """A person from the chest up, close to the door: sprite (BGR) and its mask (bool)."""
    sw, sh = int(w * 0.46), int(h * 0.78)
    sprite = np.zeros((sh, sw, 3), np.uint8)
    mask = np.zeros((sh, sw), np.uint8)
    skin = _rgb(
        rng, rng.choice([(120, 160, 220), (90, 130, 190), (60, 90, 140), (45, 65, 100)]), 10
    )
    coat = _rgb(rng, rng.choice([(120, 60, 30), (40, 40, 140), (60, 110, 60), (90, 90, 90)]), 20)
    hair = _rgb(rng, (30, 40, 60), 25)
    cx, head_r = sw // 2, int(sh * 0.16)
    head_c = (cx, int(sh * 0.25))
    body = [
        (sw * 0.05, sh),
        (sw * 0.12, sh * 0.55),
        (sw * 0.35, sh * 0.45),
        (sw * 0.65, sh * 0.45),
        (sw * 0.88, sh * 0.55),
        (sw * 0.95, sh),
    ]
    neck = (cx - head_r // 3, int(sh * 0.35)), (cx + head_r // 3, int(sh * 0.48))
    for target, colour in ((sprite, coat), (mask, 255)):
        fill_convex(target, body, colour)
    for target, colour in ((sprite, skin), (mask, 255)):
        fill_rect(target, *neck, colour)
        fill_ellipse(target, head_c, (int(head_r * 0.82), head_r), colour)
    hair_c = (head_c[0], head_c[1] - head_r // 3)
    fill_ellipse(sprite, hair_c, (int(head_r * 0.86), head_r * 2 // 3), hair, half="upper")
    for dx in (-1, 1):  # eyes, mouth
        eye = max(2, head_r // 10)
        fill_ellipse(sprite, (cx + dx * head_r // 3, head_c[1]), (eye, eye), (40, 30, 30))
    mouth = (cx, head_c[1] + head_r // 2)
    fill_ellipse(sprite, mouth, (head_r // 3, head_r // 8), (60, 60, 120), half="lower", ring=1.0)
    badge = (int(sw * 0.62), int(sh * 0.62)), (int(sw * 0.74), int(sh * 0.7))  # a carer's badge
    fill_rect(sprite, *badge, (235, 235, 235))
    thick_line(
        sprite, (cx - head_r // 3, int(sh * 0.47)), badge[0], (30, 30, 200), max(1, sw // 120)
    )
    return sprite, mask > 0


class SimCamera:
    """A camera that needs no hardware; frames depend only on seed, frame number and clock."""

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        *,
        seed: int = 0,
        visitor: bool = False,
        clock: Clock | None = None,
        label: str = "FRONT DOOR",
    ) -> None:
        if width < 64 or height < 48:
            raise InvalidCameraSettings(
                f"simulated camera size {width}x{height} is too small: use at least 64x48"
            )
        self._size = (width, height)
        self.seed = seed
        self.visitor = visitor
        self.label = label
        self._clock = clock or datetime.now
        self._lock = threading.Lock()
        self._frames = 0
        self._cut = False
        self._closed = False
        self._art: tuple[Frame, Frame, np.ndarray, Frame] | None = None

    def _drawn(self) -> tuple[Frame, Frame, np.ndarray, Frame]:
        """Scene, visitor sprite and mask, noise field: drawn on first use (~100 ms)."""
        if self._art is None:
            w, h = self._size
            rng = random.Random(self.seed)
            scene = _draw_scene(w, h, rng, self.seed)
            sprite, mask = _draw_visitor(w, h, rng)
            # One field of |noise|, added at one offset and taken away at another: zero-mean
            # sensor noise for the memory of one frame.
            noise = abs_noise((h + _NOISE_MARGIN, w + _NOISE_MARGIN, 3), self.seed, _NOISE_SIGMA)
            self._art = (scene, sprite, mask, noise)
        return self._art

    @property
    def resolution(self) -> tuple[int, int]:
        return self._size

    @property
    def frames_captured(self) -> int:
        return self._frames

    def cut(self) -> None:
        """Simulate a lost feed (cable pulled, sensor fault): captures raise until restored."""
        self._cut = True

    def restore(self) -> None:
        self._cut = False

    def capture(self) -> Frame:
        with self._lock:
            if self._closed:
                raise CameraUnavailable("the simulated camera is closed")
            if self._cut:
                raise CameraUnavailable("the simulated camera's feed is cut: call restore()")
            index = self._frames
            self._frames += 1
        return self.render(index, self.visitor, self._clock())

    def render(self, index: int, visitor: bool, at: datetime) -> Frame:
        """Frame number ``index`` of this camera's sequence (pure: same inputs, same frame)."""
        w, h = self._size
        scene, sprite, mask, noise = self._drawn()
        rng = random.Random(self.seed * 1_000_003 + index)
        frame = scene.copy()
        if visitor:
            sh, sw = mask.shape
            x = (w - sw) // 2 + int(w * 0.04 * np.sin(index * 0.7)) + rng.randint(-3, 3)
            y = h - sh + rng.randrange(max(1, h // 60))
            x0, y0 = max(0, x), max(0, y)
            x1, y1 = min(w, x + sw), min(h, y + sh)
            roi = frame[y0:y1, x0:x1]
            part = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
            np.copyto(roi, sprite[part], where=mask[part][:, :, None])
            sway = rng.choice([0, 0, 5, 9, 15])  # the visitor moves on some frames
            if sway:
                roi[:] = box_blur(roi, sway, 1)
            focus = rng.choice([0, 0, 3, 5])  # autofocus hunting on the close subject
            if focus:
                frame = box_blur(frame, focus, focus)
        (uy, ux), (dy, dx) = ((rng.randrange(_NOISE_MARGIN) for _ in "yx") for _ in "ud")
        up = noise[uy : uy + h, ux : ux + w]
        down = noise[dy : dy + h, dx : dx + w]
        # Saturating uint8 arithmetic without widening: add at most the headroom, then
        # take away at most what is there.
        frame += np.minimum(up, 255 - frame)
        frame -= np.minimum(down, frame)
        self._stamp(frame, at)
        return frame

    def _stamp(self, frame: Frame, at: datetime) -> None:
        h = frame.shape[0]
        text = f"{at:%Y-%m-%d %H:%M:%S}  {self.label}"
        draw_text(frame, text, (int(h * 0.12), int(h * 0.045) + 4), h // 480)

    def close(self) -> None:
        with self._lock:
            self._closed = True
