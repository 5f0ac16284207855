"""Snapshot JPEGs as content-addressed files: ``<root>/ab/cd/<sha256>.jpg``.

Writes are atomic (a temporary file in the same folder, fsync, rename, fsync of
the folder), so a crash leaves either the whole JPEG or nothing. The same bytes
always land on the same path, which makes a repeated write free.

    files = SnapshotFiles(Path("/var/lib/doorstep/hub/snapshots"))
    rel = files.write(jpeg_bytes)            # 'ab/cd/abcd....jpg'
    files.read(sha256) == jpeg_bytes         # True
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from ..errors import InvalidValue, SnapshotFileError

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def relative_path(sha256: str) -> str:
    """Where the JPEG with this SHA-256 lives, relative to the snapshot folder."""
    if not _SHA256_RE.fullmatch(sha256):
        raise InvalidValue(f"{sha256!r} is not a lower-case hex SHA-256")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.jpg"


class SnapshotFiles:
    """The folder of snapshot files. Only this class creates or removes them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / relative_path(sha256)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def write(self, jpeg: bytes, sha256: str | None = None) -> str:
        """Store ``jpeg`` durably; return its relative path. ``sha256`` is checked if given."""
        actual = hashlib.sha256(jpeg).hexdigest()
        if sha256 is not None and sha256 != actual:
            raise InvalidValue(f"JPEG bytes hash to {actual}, not the claimed {sha256}")
        rel = relative_path(actual)
        target = self.root / rel
        if target.is_file() and target.stat().st_size == len(jpeg):
            return rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".jpg")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(jpeg)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(target.parent)
        except OSError as exc:
            raise SnapshotFileError(
                f"cannot write snapshot {target}: {exc.strerror or exc} "
                f"(check that {self.root} exists, is writable and has free space)"
            ) from exc
        return rel

    def read(self, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SnapshotFileError(f"cannot read snapshot {path}: {exc.strerror or exc}") from exc

    def delete(self, sha256: str) -> bool:
        """Remove the file; False if it was not there."""
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise SnapshotFileError(
                f"cannot delete snapshot {path}: {exc.strerror or exc}"
            ) from exc
        _fsync_dir(path.parent)
        return True


def _fsync_dir(folder: Path) -> None:
    # The rename / unlink is only durable once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
