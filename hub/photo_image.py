"""Turn an uploaded picture into the small, clean JPEG the hub keeps of a carer.

Only JPEG and PNG are accepted (checked by their leading bytes, not by what the
client says). The size in the file's header is read *before* decoding, so a small
file that would decode into gigabytes (a "decompression bomb") is refused cheaply.
Decoding applies the EXIF orientation; re-encoding with OpenCV writes no metadata
at all (no EXIF, no GPS, no camera serial), and the longer side is cut to 512 px.

    jpeg, width, height = reencode(uploaded_bytes)     # or raises NotAnImage / PhotoTooLarge
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from .errors import HubError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_SIDE_PX = 512
MAX_SOURCE_PIXELS = 40_000_000  # a 40 MP phone picture is fine; more is not a portrait
JPEG_QUALITY = 85
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
# JPEG start-of-frame markers carry the size (C4, C8 and CC are other segments).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class PhotoError(HubError, ValueError):
    """A carer's photo (or its consent) was refused."""


class PhotoTooLarge(PhotoError):
    """The upload is bigger than the hub accepts."""


class NotAnImage(PhotoError):
    """The upload is not a JPEG or PNG picture the hub can read."""


def reencode(data: bytes) -> tuple[bytes, int, int]:
    """The picture as a metadata-free JPEG of at most ``MAX_SIDE_PX``: (jpeg, width, height)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoTooLarge(
            f"the picture is {len(data) // 1024} KiB; the limit is "
            f"{MAX_UPLOAD_BYTES // 1024} KiB: choose a smaller picture"
        )
    width, height = header_size(data)
    if width * height > MAX_SOURCE_PIXELS:
        raise PhotoTooLarge(f"the picture is {width}x{height} pixels: choose a smaller picture")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise NotAnImage("the picture could not be read: upload a JPEG or PNG photo")
    h, w = image.shape[:2]
    scale = min(1.0, MAX_SIDE_PX / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, out = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise NotAnImage("the picture could not be converted: try another photo")
    h, w = image.shape[:2]
    return out.tobytes(), w, h


def header_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG or JPEG header; ``NotAnImage`` for anything else."""
    if data.startswith(_PNG) and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return _checked(width, height)
    if data.startswith(_JPEG):
        return _checked(*_jpeg_size(data))
    raise NotAnImage("this is not a JPEG or PNG picture: upload a photo (JPEG or PNG)")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if length < 2:
            break
        pos += 2 + length
    raise NotAnImage("the JPEG picture is damaged (no size in its header): try another photo")


def _checked(width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise NotAnImage("the picture has no size: upload a photo (JPEG or PNG)")
    return width, height
