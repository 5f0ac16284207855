"""Alerts: raised -> acknowledged -> resolved, never two open per (device, kind)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.errors import InvalidTransition
from hub.storage import (
    AlertKind,
    AlertStatus,
    Database,
    acknowledge_alert,
    open_alert,
    open_alerts,
    raise_alert,
    resolve_alert,
    resolve_open_alert,
)
from tests.fixtures.database import T0, run_threads

K = AlertKind


def test_lifecycle_and_one_open_per_device_and_kind(database: Database, device_id) -> None:
    with database.session() as s:
        first, new = raise_alert(s, K.DEVICE_OFFLINE, at=T0, device_id=device_id)
        again, new_again = raise_alert(
            s, K.DEVICE_OFFLINE, at=T0 + timedelta(minutes=1), device_id=device_id
        )
        assert (new, new_again) == (True, False)
        assert again.id == first.id
        assert again.occurrences == 2
        assert again.last_raised_at == T0 + timedelta(minutes=1)
        other, _ = raise_alert(s, K.LOW_DISK, at=T0, device_id=device_id)
        assert other.id != first.id

        acked = acknowledge_alert(s, first.id, by="person:officer", at=T0 + timedelta(minutes=2))
        assert (acked.status, acked.acknowledged_by) == (AlertStatus.ACKNOWLEDGED, "person:officer")
        # Still open while acknowledged: raising again counts on the same alert.
        assert raise_alert(s, K.DEVICE_OFFLINE, at=T0, device_id=device_id)[0].id == first.id

        done = resolve_alert(s, first.id, at=T0 + timedelta(minutes=3), by=None)
        assert done.status is AlertStatus.RESOLVED
        with pytest.raises(InvalidTransition):
            acknowledge_alert(s, first.id, by="person:officer", at=T0)

        fresh, is_new = raise_alert(
            s, K.DEVICE_OFFLINE, at=T0 + timedelta(hours=1), device_id=device_id
        )
        assert is_new
        assert fresh.id != first.id
        assert {a.kind for a in open_alerts(s, device_id=device_id)} == {
            K.DEVICE_OFFLINE,
            K.LOW_DISK,
        }


def test_hub_and_home_scopes(database: Database) -> None:
    with database.session() as s:
        hub_alert, _ = raise_alert(s, K.AUDIT_CHECKPOINT_OVERDUE, at=T0)
        assert hub_alert.scope == "hub"
        assert open_alert(s, K.AUDIT_CHECKPOINT_OVERDUE, "hub") is not None
        resolved = resolve_open_alert(s, K.AUDIT_CHECKPOINT_OVERDUE, "hub", at=T0)
        assert resolved is not None
        assert resolved.status is AlertStatus.RESOLVED
        assert resolve_open_alert(s, K.AUDIT_CHECKPOINT_OVERDUE, "hub", at=T0) is None


def test_concurrent_raises_open_exactly_one(database: Database, device_id) -> None:
    hubs = [Database(database.url) for _ in range(4)]
    ids: list[int] = []

    def raise_it(i: int) -> None:
        for _ in range(10):
            with hubs[i].session() as s:
                ids.append(raise_alert(s, K.TAMPER, at=T0, device_id=device_id)[0].id)

    errors = run_threads(raise_it, len(hubs))
    for hub in hubs:
        hub.dispose()
    assert errors == []
    assert len(set(ids)) == 1
    with database.read_session() as s:
        (alert,) = open_alerts(s, device_id=device_id)
    assert alert.occurrences == 40
