"""An officer watching many homes: the fleet and /api/me read the database a fixed
number of times, not once (or more) per home -- at 500 homes each took ~3.7 s
(bench.api_reads) when they did."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from hub.storage import add_membership, create_home, raise_alert, register_device
from hub.storage.models_commands import AlertKind
from hub.storage.models_registry import Role
from protocol import utcnow
from protocol.examples import example_key
from protocol.signing import public_key_pem
from tests.web.conftest import Web
from tests.web.test_auth_and_doors import login

PEM = public_key_pem(example_key().public_key()).decode()


@contextmanager
def statements(web: Web) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_sql(_conn, _cursor, statement: str, *_args) -> None:
        # The request's own reads, not the hub's background jobs on the same engine.
        if threading.current_thread().name.startswith("AnyIO"):
            seen.append(statement)

    event.listen(web.rig.db.engine, "before_cursor_execute", on_sql)
    try:
        yield seen
    finally:
        event.remove(web.rig.db.engine, "before_cursor_execute", on_sql)


def _watch_more_homes(web: Web, count: int, tag: str) -> None:
    now = utcnow()
    with web.rig.db.session() as s:
        for i in range(count):
            home = create_home(s, name=f"Flat {tag}{i}", timezone="Europe/London", at=now).id
            add_membership(
                s, person_id=web.rig.telecare, home_id=home, role=Role.TELECARE_OFFICER, at=now
            )
            door = f"door-{tag}{i:03d}"
            register_device(
                s, device_id=door, name="Front", public_key_pem=PEM, at=now, home_id=home
            )
            raise_alert(s, AlertKind.DEVICE_OFFLINE, at=now, device_id=door)


def _reads(web: Web, client, path: str) -> tuple[int, object]:
    with statements(web) as seen:
        r = client.get(path)
    assert r.status_code == 200, r.text
    return len(seen), r.json()


def test_the_fleet_and_me_read_a_fixed_number_of_times_however_many_homes(web: Web) -> None:
    client, _csrf = login(web, "officer")
    _watch_more_homes(web, 3, "a")
    fleet_few, fleet = _reads(web, client, "/api/fleet")
    me_few, _me = _reads(web, client, "/api/me")
    _watch_more_homes(web, 40, "b")
    fleet_many, fleet = _reads(web, client, "/api/fleet")
    me_many, me = _reads(web, client, "/api/me")
    assert fleet_many <= fleet_few + 1, (fleet_few, fleet_many)
    assert me_many <= me_few + 1, (me_few, me_many)
    # and the answers are whole: every door of every watched home, with its alert
    listed = {d["device"]: d for d in fleet if d["device"].startswith("door-b")}  # type: ignore[union-attr]
    assert len(listed) == 40
    assert all([a["kind"] for a in d["alerts"]] == ["device_offline"] for d in listed.values())
    homes = {h["home"]: h for h in me["homes"]}  # type: ignore[index]
    assert len(homes) >= 44
    assert all("view_health" in h["permissions"] for h in homes.values())
