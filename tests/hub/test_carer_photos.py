"""Carers' photos: stored only with consent, re-encoded clean, withdrawn, erased, audited."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from hub.audit import AuditAction, entries, person_ref, service_ref
from hub.carer_photos import (
    ConsentMissing,
    NotACarerHere,
    PhotoConsent,
    delete_for_person,
    delete_photo,
    photo_ids_of_home,
    photo_of,
    photos_of_carer,
    put_photo,
)
from hub.erasure import erase_person_data
from hub.photo_image import MAX_SIDE_PX, NotAnImage, PhotoTooLarge, header_size, reencode
from hub.storage import Database, add_membership, create_person
from hub.storage.models_carer_photos import CarerPhoto, PhotoConsentBy
from hub.storage.models_registry import Role
from hub.storage.snapshot_files import SnapshotFiles
from hub.visits import expected_at
from tests.fixtures.database import T0, add_device

CARER = PhotoConsentBy.CARER
OWNER = PhotoConsentBy.FAMILY_OWNER
YES = PhotoConsent(consent=True)
STATEMENT = "Sam agreed in person at the home on 3 March 2026"


def photo(width: int = 800, height: int = 600, ext: str = ".jpg") -> bytes:
    """A real picture (a gradient: something JPEG must really encode)."""
    row = np.linspace(0, 255, width, dtype=np.uint8)
    image = np.dstack([np.tile(row, (height, 1))] * 3)
    ok, out = cv2.imencode(ext, image)
    assert ok
    return out.tobytes()


def with_exif(jpeg: bytes) -> bytes:
    """The JPEG with an APP1 Exif segment (camera maker, a GPS-like note) after SOI."""
    payload = b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + b"CameraMaker GPS 51.5N 0.1W"
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    crc = struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + crc


@pytest.fixture
def home(database: Database) -> dict[str, str]:
    home_id, _device = add_device(database)
    other, _ = add_device(database)
    with database.session() as s:
        people = {
            name: create_person(s, display_name=name.title(), at=T0).id
            for name in ("sam", "olive", "far")
        }
        add_membership(s, person_id=people["sam"], home_id=home_id, role=Role.CARER, at=T0)
        add_membership(s, person_id=people["olive"], home_id=home_id, role=Role.FAMILY_OWNER, at=T0)
        add_membership(s, person_id=people["far"], home_id=other, role=Role.CARER, at=T0)
    return {"home": home_id, "other": other, **people}


def test_reencode_strips_metadata_and_shrinks() -> None:
    original = with_exif(photo(1600, 1200))
    assert b"CameraMaker" in original
    jpeg, width, height = reencode(original)
    assert (width, height) == (MAX_SIDE_PX, 384)
    assert jpeg[:2] == b"\xff\xd8"
    assert b"CameraMaker" not in jpeg
    assert b"Exif" not in jpeg
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (384, 512, 3)


def test_png_is_accepted_and_small_pictures_keep_their_size() -> None:
    jpeg, width, height = reencode(photo(200, 100, ".png"))
    assert (width, height) == (200, 100)
    assert jpeg[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    "data",
    [b"GIF89a" + b"\x00" * 100, b"hello, not a picture", b"\xff\xd8\xff" + b"\x00" * 50],
)
def test_not_a_jpeg_or_png_is_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage, match=r"JPEG or PNG|damaged|could not be read"):
        reencode(data)


def test_too_big_a_file_or_a_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(PhotoTooLarge, match="limit"):
        reencode(b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024 + 1))
    bomb = png_header_only(60_000, 60_000)
    assert header_size(bomb) == (60_000, 60_000)
    with pytest.raises(PhotoTooLarge, match="60000x60000"):
        reencode(bomb)


def test_no_consent_no_photo(database: Database, home: dict[str, str]) -> None:
    with database.session() as s, pytest.raises(ConsentMissing, match="no consent, no photo"):
        put_photo(s, home["home"], home["sam"], photo(), PhotoConsent(consent=False),
                  consent_by=CARER, by=home["sam"], at=T0)  # fmt: skip
    with database.session() as s, pytest.raises(ConsentMissing, match="how the carer consented"):
        put_photo(s, home["home"], home["sam"], photo(), PhotoConsent(consent=True, statement="ok"),
                  consent_by=OWNER, by=home["olive"], at=T0)  # fmt: skip
    with database.session() as s, pytest.raises(ConsentMissing, match="only the carer"):
        put_photo(s, home["home"], home["sam"], photo(), YES,
                  consent_by=CARER, by=home["olive"], at=T0)  # fmt: skip
    with database.read_session() as s:
        assert s.scalar(select(func.count()).select_from(CarerPhoto)) == 0
        assert not [e for e in entries(s) if e.action == AuditAction.CARER_PHOTO_ADDED]


def test_only_a_carer_of_the_home_can_have_a_photo_there(
    database: Database, home: dict[str, str]
) -> None:
    for person in ("far", "olive"):
        with database.session() as s, pytest.raises(NotACarerHere, match="not a carer"):
            put_photo(s, home["home"], home[person], photo(), YES,
                      consent_by=CARER, by=home[person], at=T0)  # fmt: skip


def test_put_replace_withdraw_each_audited_without_picture_or_statement(
    database: Database, home: dict[str, str]
) -> None:
    h, sam, olive = home["home"], home["sam"], home["olive"]
    with database.session() as s:
        first = put_photo(s, h, sam, photo(), PhotoConsent(consent=True, statement=STATEMENT),
                          consent_by=OWNER, by=olive, at=T0).id  # fmt: skip
    with database.session() as s:
        second = put_photo(s, h, sam, with_exif(photo(300, 300)), YES,
                           consent_by=CARER, by=sam, at=T0).id  # fmt: skip
    assert first != second  # a new URL with every new picture
    with database.read_session() as s:
        stored = photo_of(s, h, sam)
        assert stored is not None
        assert stored.id == second
        assert (stored.consent_by, stored.recorded_by, stored.recorded_at) == (CARER, sam, T0)
        assert stored.scope == ["ring_screen", "carers_page"]
        assert b"CameraMaker" not in stored.jpeg
        assert photo_ids_of_home(s, h) == {sam: second}
        assert photo_ids_of_home(s, home["other"]) == {}
    with database.session() as s:
        assert delete_photo(s, h, sam, by=sam, at=T0) is True
    with database.session() as s:
        assert delete_photo(s, h, sam, by=sam, at=T0) is False  # nothing left: not audited
        assert photo_of(s, h, sam) is None
    with database.read_session() as s:
        log = [e for e in entries(s) if e.action.startswith("carer_photo")]
    assert [(e.action, e.actor) for e in log] == [
        (AuditAction.CARER_PHOTO_ADDED, person_ref(olive)),
        (AuditAction.CARER_PHOTO_ADDED, person_ref(sam)),
        (AuditAction.CARER_PHOTO_REMOVED, person_ref(sam)),
    ]
    assert log[0].details["consent_by"] == "family_owner"
    assert person_ref(sam) in log[0].subjects
    assert all(STATEMENT not in str(e.details) for e in log)


def test_expected_now_carries_the_photo(database: Database, home: dict[str, str]) -> None:
    from hub.storage.visits import add_window

    with database.session() as s:
        add_window(s, home_id=home["home"], carer_id=home["sam"], agency="Bright Care",
                   weekday=T0.weekday(), on_date=None, start=T0.time(), end=T0.time().replace(
                       hour=10), tolerance_min=0, created_by=home["olive"], at=T0)  # fmt: skip
    with database.read_session() as s:
        [before] = expected_at(s, home["home"], T0)
    assert before.photo_id is None
    with database.session() as s:
        pid = put_photo(s, home["home"], home["sam"], photo(), YES,
                        consent_by=CARER, by=home["sam"], at=T0).id  # fmt: skip
    with database.read_session() as s:
        [after] = expected_at(s, home["home"], T0)
    assert after.photo_id == pid


def test_erasure_deletes_every_photo_of_the_person(
    database: Database, home: dict[str, str], tmp_path: Path
) -> None:
    with database.session() as s:
        add_membership(s, person_id=home["sam"], home_id=home["other"], role=Role.CARER, at=T0)
        for h in (home["home"], home["other"]):
            put_photo(s, h, home["sam"], photo(), YES, consent_by=CARER, by=home["sam"], at=T0)
        put_photo(s, home["other"], home["far"], photo(), YES,
                  consent_by=CARER, by=home["far"], at=T0)  # fmt: skip
    with database.session() as s:
        assert len(photos_of_carer(s, home["sam"])) == 2
    erase_person_data(
        database, SnapshotFiles(tmp_path), home["sam"], by=service_ref("test-admin"), at=T0
    )
    with database.read_session() as s:
        assert photos_of_carer(s, home["sam"]) == []
        assert len(photos_of_carer(s, home["far"])) == 1  # someone else's stays
    with database.session() as s:
        assert delete_for_person(s, home["far"]) == 1
        assert delete_for_person(s, home["far"]) == 0


def test_subject_access_export_holds_the_photos_consent_record(
    database: Database, home: dict[str, str], tmp_path: Path
) -> None:
    import io
    import json
    import zipfile

    from hub.subject_access import export_person

    with database.session() as s:
        put_photo(s, home["home"], home["sam"], photo(), PhotoConsent(consent=True,
                  statement=STATEMENT), consent_by=OWNER, by=home["olive"], at=T0)  # fmt: skip
    out = io.BytesIO()
    export_person(database, SnapshotFiles(tmp_path), home["sam"], out, by=service_ref("t"), at=T0)
    with zipfile.ZipFile(out) as zf:
        [row] = json.loads(zf.read("tables/carer_photos.carer_id.json"))
        picture = zf.read(row["jpeg"]["file"])
    assert row["consent_statement"] == STATEMENT
    assert picture.startswith(b"\xff\xd8\xff")  # the picture itself, as a JPEG file
    assert row["consent_by"] == "family_owner"
