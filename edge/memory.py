"""Keeps the agent's resident memory small on glibc (Raspberry Pi OS, Debian).

Two glibc habits cost a long-running, many-threaded agent tens of MB:

- each thread that allocates may get its own malloc arena (up to 8 per core), and
  memory freed in one arena cannot serve another;
- the threshold above which a block gets its own ``mmap`` (given back to the system on
  ``free``) rises to the largest block ever freed (up to 32 MB), so after the first
  camera frame every frame-sized buffer lands in the heap, which rarely shrinks.

``tune_malloc`` caps the arenas and pins the threshold, like the environment variables
``MALLOC_ARENA_MAX`` / ``MALLOC_MMAP_THRESHOLD_`` that the systemd unit also sets (those
take effect before Python starts; this call covers ``doorstep edge`` run by hand).
``release_startup_memory`` hands back what imports and start-up left free inside the
heap (about 1 MB). Elsewhere (musl, macOS) both do nothing.

    >>> tune_malloc()          # doctest: +SKIP
    True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

# mallopt(3) parameter numbers from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 - glibc only: musl and macOS have no mallopt
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def tune_malloc(
    *, arena_max: int = 2, mmap_threshold: int = 128 * 1024, trim_threshold: int = 256 * 1024
) -> bool:
    """Cap malloc arenas and pin the mmap threshold; False where that is not glibc."""
    libc = _libc()
    if libc is None:
        return False
    ok = all(
        libc.mallopt(param, value) == 1
        for param, value in (
            (_M_ARENA_MAX, arena_max),
            (_M_MMAP_THRESHOLD, mmap_threshold),
            (_M_TRIM_THRESHOLD, trim_threshold),
        )
    )
    if not ok:
        log.info("glibc refused a malloc setting; running with its defaults")
    return ok


def release_startup_memory() -> bool:
    """Collect start-up's reference cycles and return free heap pages to the system."""
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)  # frees whole pages anywhere in the heap, not only at its top
    return True
