"""A simulated doorbell camera: a porch seen from the door, a visitor when someone is there.

Frames are deterministic for a given seed, frame number and clock reading:
the scene and the visitor are drawn once, and each capture only pastes the
visitor (with a little sway and, on some frames, motion or focus blur), adds
sensor noise and stamps the time. A 640x480 frame takes a few milliseconds.

    >>> camera = SimCamera(640, 480, seed=7, visitor=True)
    >>> camera.capture().shape
    (480, 640, 3)
    >>> camera.cut()        # the next capture raises CameraUnavailable
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import cv2
import numpy as np

from .errors import CameraUnavailable, InvalidCameraSettings
from .interfaces import Frame

Clock = Callable[[], datetime]
_NOISE_MARGIN = 16  # one noise field, read at a different offset each frame
_NOISE_SIGMA = 4.0


def _rgb(rng: np.random.Generator, base: tuple[int, int, int], spread: int) -> tuple[int, ...]:
    """A BGR colour near ``base``."""
    return tuple(int(np.clip(c + rng.integers(-spread, spread + 1), 0, 255)) for c in base)


def _draw_scene(w: int, h: int, rng: np.random.Generator) -> Frame:
    """The porch as a doorbell camera sees it: sky, houses across the street, path, walls."""
    img = np.empty((h, w, 3), np.uint8)
    horizon = int(h * 0.42)
    sky_top, sky_low = np.array([225, 190, 150]), np.array([245, 230, 215])  # BGR
    t = np.linspace(0, 1, horizon)[:, None]
    img[:horizon] = (sky_top * (1 - t) + sky_low * t)[:, None, :].astype(np.uint8)
    img[horizon:] = _rgb(rng, (60, 125, 75), 12)  # lawn
    x = 0
    while x < w:  # terraced houses across the street
        hw = int(w * rng.uniform(0.14, 0.24))
        top = int(h * rng.uniform(0.2, 0.3))
        brick = _rgb(rng, (60, 80, 150), 25)
        cv2.rectangle(img, (x, top), (x + hw, horizon), brick, -1)
        roof = np.array([[x - 4, top], [x + hw + 4, top], [x + hw // 2, top - int(h * 0.07)]])
        cv2.fillPoly(img, [roof.astype(np.int32)], _rgb(rng, (70, 70, 80), 10))
        for wx in (x + hw // 5, x + 3 * hw // 5):
            wy = top + int(h * 0.04)
            cv2.rectangle(img, (wx, wy), (wx + hw // 5, wy + int(h * 0.06)), (200, 190, 170), -1)
            cv2.rectangle(img, (wx, wy), (wx + hw // 5, wy + int(h * 0.06)), (240, 240, 240), 2)
        x += hw
    cv2.rectangle(img, (0, horizon), (w, int(h * 0.5)), (120, 125, 128), -1)  # street
    cv2.line(img, (0, int(h * 0.5)), (w, int(h * 0.5)), (170, 175, 180), max(2, h // 120))
    hedge = np.zeros((h, w), np.uint8)  # front hedges, textured
    cv2.rectangle(hedge, (0, int(h * 0.5)), (int(w * 0.3), int(h * 0.62)), 255, -1)
    cv2.rectangle(hedge, (int(w * 0.7), int(h * 0.5)), (w, int(h * 0.62)), 255, -1)
    texture = rng.integers(35, 95, (h, w), dtype=np.uint8)
    texture = cv2.GaussianBlur(texture, (0, 0), 1.5)
    green = cv2.merge([texture // 2, texture + 40, texture // 2])
    img[hedge > 0] = green[hedge > 0]
    path = np.array(
        [[w * 0.42, h * 0.5], [w * 0.58, h * 0.5], [w * 0.85, h], [w * 0.15, h]], np.int32
    )
    cv2.fillPoly(img, [path], _rgb(rng, (150, 170, 185), 10))
    for i in range(1, 8):  # paving joints, closer together towards the street
        f = 0.5 * (i / 8) ** 1.6
        y, half = int(h * (0.5 + f)), w * (0.08 + 0.54 * f)
        cv2.line(img, (int(w / 2 - half), y), (int(w / 2 + half), y), (120, 135, 150), 1)
    wall = _rgb(rng, (160, 175, 190), 10)  # the doorway's own walls framing the view
    cv2.rectangle(img, (0, 0), (int(w * 0.08), h), wall, -1)
    cv2.rectangle(img, (int(w * 0.92), 0), (w, h), wall, -1)
    cv2.rectangle(img, (0, 0), (w, int(h * 0.05)), wall, -1)
    # Lens vignette.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    gain = (1.0 - 0.22 * r).clip(0.55, 1.0)
    return (img * gain[:, :, None]).astype(np.uint8)


def _draw_visitor(w: int, h: int, rng: np.random.Generator) -> tuple[Frame, np.ndarray]:
    """A person from the chest up, close to the door: sprite (BGR) and its mask."""
    sw, sh = int(w * 0.46), int(h * 0.78)
    sprite = np.zeros((sh, sw, 3), np.uint8)
    mask = np.zeros((sh, sw), np.uint8)
    skin = _rgb(
        rng,
        [(120, 160, 220), (90, 130, 190), (60, 90, 140), (45, 65, 100)][int(rng.integers(0, 4))],
        10,
    )
    coat = _rgb(
        rng,
        [(120, 60, 30), (40, 40, 140), (60, 110, 60), (90, 90, 90)][int(rng.integers(0, 4))],
        20,
    )
    hair = _rgb(rng, (30, 40, 60), 25)
    cx, head_r = sw // 2, int(sh * 0.16)
    head_c = (cx, int(sh * 0.25))
    body = np.array(
        [
            [sw * 0.05, sh],
            [sw * 0.12, sh * 0.55],
            [sw * 0.35, sh * 0.45],
            [sw * 0.65, sh * 0.45],
            [sw * 0.88, sh * 0.55],
            [sw * 0.95, sh],
        ],
        np.int32,
    )
    for target, colour in ((sprite, coat), (mask, 255)):
        cv2.fillPoly(target, [body], colour)
    neck = (cx - head_r // 3, int(sh * 0.35)), (cx + head_r // 3, int(sh * 0.48))
    for target, colour in ((sprite, skin), (mask, 255)):
        cv2.rectangle(target, *neck, colour, -1)
        cv2.ellipse(target, head_c, (int(head_r * 0.82), head_r), 0, 0, 360, colour, -1)
    cv2.ellipse(
        sprite,
        (head_c[0], head_c[1] - head_r // 3),
        (int(head_r * 0.86), head_r * 2 // 3),
        0,
        180,
        360,
        hair,
        -1,
    )
    for dx in (-1, 1):  # eyes, mouth
        cv2.circle(
            sprite, (cx + dx * head_r // 3, head_c[1]), max(2, head_r // 10), (40, 30, 30), -1
        )
    cv2.ellipse(
        sprite,
        (cx, head_c[1] + head_r // 2),
        (head_r // 3, head_r // 8),
        0,
        0,
        180,
        (60, 60, 120),
        max(1, head_r // 20),
    )
    badge = (int(sw * 0.62), int(sh * 0.62)), (int(sw * 0.74), int(sh * 0.7))  # a carer's badge
    cv2.rectangle(sprite, *badge, (235, 235, 235), -1)
    cv2.line(sprite, (cx - head_r // 3, int(sh * 0.47)), badge[0], (30, 30, 200), max(1, sw // 120))
    return sprite, mask


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
        self._art: tuple[Frame, Frame, np.ndarray, Frame, Frame] | None = None

    def _drawn(self) -> tuple[Frame, Frame, np.ndarray, Frame, Frame]:
        """Scene, visitor sprite and mask, noise field: drawn on first use (~50 ms)."""
        if self._art is None:
            w, h = self._size
            rng = np.random.default_rng(self.seed)
            scene = _draw_scene(w, h, rng)
            sprite, mask = _draw_visitor(w, h, rng)
            noise = rng.standard_normal((h + _NOISE_MARGIN, w + _NOISE_MARGIN, 3), np.float32)
            noise *= _NOISE_SIGMA
            up = np.clip(noise, 0, 255).astype(np.uint8)
            down = np.clip(-noise, 0, 255).astype(np.uint8)
            self._art = (scene, sprite, mask, up, down)
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
        scene, sprite, mask, noise_up, noise_down = self._drawn()
        rng = np.random.default_rng([self.seed, index])
        frame = scene.copy()
        if visitor:
            sh, sw = mask.shape
            x = (w - sw) // 2 + int(w * 0.04 * np.sin(index * 0.7)) + int(rng.integers(-3, 4))
            y = h - sh + int(rng.integers(0, max(1, h // 60)))
            x0, y0 = max(0, x), max(0, y)
            x1, y1 = min(w, x + sw), min(h, y + sh)
            roi = frame[y0:y1, x0:x1]
            cv2.copyTo(
                sprite[y0 - y : y1 - y, x0 - x : x1 - x],
                mask[y0 - y : y1 - y, x0 - x : x1 - x],
                roi,
            )
            sway = int(rng.choice([0, 0, 5, 9, 15]))  # the visitor moves on some frames
            if sway:
                roi[:] = cv2.blur(roi, (sway, 1))
            focus = int(rng.choice([0, 0, 3, 5]))  # autofocus hunting on the close subject
            if focus:
                frame = cv2.blur(frame, (focus, focus))
        dy, dx = (int(v) for v in rng.integers(0, _NOISE_MARGIN, 2))
        up = noise_up[dy : dy + h, dx : dx + w]
        frame = cv2.subtract(cv2.add(frame, up), noise_down[dy : dy + h, dx : dx + w])
        self._stamp(frame, at)
        return frame

    def _stamp(self, frame: Frame, at: datetime) -> None:
        h = frame.shape[0]
        scale = h / 900
        thickness = max(1, round(h / 300))
        text = f"{at:%Y-%m-%d %H:%M:%S}  {self.label}"
        org = (int(h * 0.12), int(h * 0.045) + 4)
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(frame, text, org, font, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(frame, text, org, font, scale, (255, 255, 255), thickness, cv2.LINE_AA)

    def close(self) -> None:
        with self._lock:
            self._closed = True
