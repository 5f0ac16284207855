"""Erasure reaches every table: a carer who is an escalation contact, was told of a ring,
is named in a break-glass reason and review, in notifications (text, data, a delivery
error), in a webhook payload and a dead letter's error, in an alert, in someone else's
command reason, and has visit records and a check-in approval. After the erasure no
row of any table (swept generically, from the schema) holds their name, username,
email or phone number; the ids that stay are the pseudonymous references the audit
log also keeps, and ``doorstep audit verify`` still passes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.audit import stored_checkpoints, verify
from hub.erasure import erase_person_data
from hub.erasure_reach import BREAK_GLASS_BODY, ERASED
from hub.storage import Database
from hub.storage import care as care_rows
from hub.storage.commands import create_command, get_command
from hub.storage.models_care import BreakGlass, EscalationPolicy, EscalationStep, RingEscalation
from hub.storage.models_commands import Alert, AlertKind, AlertStatus
from hub.storage.models_notify import DeliveryRow, NotificationRow, RecipientRow
from hub.storage.models_visit_records import (
    ApprovalStatus,
    CheckInApproval,
    VisitRecord,
    VisitStatus,
)
from hub.storage.models_visits import VisitWindow
from hub.storage.models_webhooks import WebhookDelivery, WebhookOutboxRow, WebhookSubscription
from hub.storage.types import Base
from tests.fixtures.database import T0
from tests.hub.test_erasure import audit_verify_cli
from tests.hub.test_subject_access import ADMIN, World, build_world

SAM = ("Sam Carer", "samcarer", "sam@example.org", "07700 900123")
MARGARET = ("Margaret Example",)
OFFICER = "0fficer0-0000-4000-8000-000000000000"


@pytest.fixture
def world(database: Database, tmp_path: Path) -> World:
    w = build_world(database, tmp_path)
    _everywhere(w)
    return w


def _everywhere(w: World) -> None:
    """Put the carer (and the person cared for) in every table that can name them."""
    sam, olive = w.carer, w.owner
    at = T0 + timedelta(hours=1)
    with w.db.session() as s:
        window = s.scalars(select(VisitWindow.id)).one()
        care_rows.save_policy(
            s,
            w.home,
            contacts=[olive, sam],
            step_timeout_s=60,
            include_telecare=False,
            telecare_may_unlock=False,
            by=olive,
            at=at,
        )
        esc = care_rows.start_escalation(
            s,
            event_id="33333333-3333-4333-8333-333333333333",
            home_id=w.home,
            device_id=w.device,
            snapshot_id="22222222-2222-4222-8222-222222222222",
            ring_at=at,
            plan=[{"kind": "person", "to": [sam]}],
            step_timeout_s=60,
            telecare_may_unlock=False,
            first_due_at=at,
        )
        assert esc is not None
        care_rows.add_step(
            s, esc.id, step=1, kind="person", recipients=[sam], notify_key="escalation:x:1", at=at
        )
        care_rows.finish(s, esc.id, status="answered", at=at, answered_by=f"person:{sam}")
        box = care_rows.open_box(
            s,
            home_id=w.home,
            device_id=w.device,
            person_id=OFFICER,
            reason="Sam Carer rang 999: Margaret Example has fallen in the hall",
            at=at,
            expires_at=at + timedelta(minutes=15),
        )
        box.reviewed_by, box.reviewed_at = sam, at
        box.review_note = "Checked with sam@example.org, all fine"
        s.add(
            NotificationRow(
                dedup_key="alert:non-arrival",
                kind="carer_non_arrival",
                home_id=w.home,
                device_id=w.device,
                safety=False,
                title="Sam Carer has not arrived",
                body="Sam Carer (Helping Hands) was expected at Test home and has not arrived.",
                url=f"/homes/{w.home}",
                tag="visit",
                data={"expected": [{"name": "Sam Carer", "phone": "07700 900123"}]},
                created_at=at,
            )
        )
        s.add(
            NotificationRow(
                dedup_key=f"break_glass:{box.id}",
                kind="break_glass",
                home_id=w.home,
                device_id=w.device,
                safety=True,
                title="Emergency access to the door",
                body=f"A telecare officer opened the door in an emergency: {box.reason}",
                url=f"/homes/{w.home}",
                tag="bg",
                data={},
                created_at=at,
            )
        )
        s.flush()
        for key, person in (("alert:non-arrival", olive), ("alert:non-arrival", sam)):
            s.add(
                RecipientRow(
                    dedup_key=key, person_id=person, device_id=w.device, kind="x", created_at=at
                )
            )
            s.add(
                DeliveryRow(
                    dedup_key=key,
                    person_id=person,
                    channel="sms",
                    target="t",
                    status="failed",
                    attempts=1,
                    last_error="Notify: sam@example.org is not a valid phone number",
                    created_at=at,
                    updated_at=at,
                )
            )
        sub = WebhookSubscription(
            id="44444444-4444-4444-8444-444444444444",
            partner="Agency",
            url="https://partner.invalid/hook",
            event_types=["visit.missed"],
            home_id=w.home,
            secret="whsec_x",
            created_at=at,
            created_by=olive,
        )
        outbox = WebhookOutboxRow(
            ce_id="alert-1-visit",
            type="visit.missed",
            subject=w.device,
            home_id=w.home,
            time=at,
            data={"alert_id": 1, "note": "Sam Carer late"},
            created_at=at,
        )
        s.add_all([sub, outbox])
        s.flush()
        s.add(
            WebhookDelivery(
                subscription_id=sub.id,
                outbox_id=outbox.id,
                status="dead",
                attempts=8,
                next_attempt_at=at,
                last_status=400,
                last_error='400 {"error": "unknown carer Sam Carer"}',
                created_at=at,
                updated_at=at,
            )
        )
        s.add(
            Alert(
                kind=AlertKind.CARER_NON_ARRIVAL,
                scope=w.device,
                device_id=w.device,
                home_id=w.home,
                status=AlertStatus.RAISED,
                raised_at=at,
                last_raised_at=at,
                occurrences=1,
                details={"visit_record": 1, "carer_name": "Sam Carer"},
            )
        )
        s.add(
            VisitRecord(
                window_id=window,
                home_id=w.home,
                carer_id=sam,
                agency="Helping Hands",
                planned_start=at,
                planned_end=at + timedelta(minutes=30),
                tolerance_min=10,
                status=VisitStatus.MISSED,
                late=False,
                final=True,
                updated_at=at,
            )
        )
        s.add(
            CheckInApproval(
                id="55555555-5555-4555-8555-555555555555",
                home_id=w.home,
                window_id=window,
                carer_id=sam,
                requested_at=at,
                expires_at=at + timedelta(minutes=30),
                status=ApprovalStatus.APPROVED,
                decided_by=olive,
                decided_at=at,
            )
        )
        create_command(
            s,
            command_id="66666666-6666-4666-8666-666666666666",
            device_id=w.device,
            action="unlock",
            counter=2,
            requested_by=olive,
            reason="letting SAM CARER in",
            at=at,
        )


def every_row(w: World) -> str:
    """Every row of every table of the schema, as one lower-case text."""
    out: list[str] = []
    with w.db.read_session() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).mappings():
                out.append(json.dumps(dict(row), default=str, ensure_ascii=False))
    return "\n".join(out).lower()


def _still_named(w: World, needles: tuple[str, ...]) -> list[str]:
    text = every_row(w)
    return [n for n in needles if n.lower() in text]


def test_the_sweep_sees_the_carer_everywhere_before_erasure(world: World) -> None:
    # The test can fail: before the erasure every needle is found.
    assert _still_named(world, SAM) == list(SAM)
    assert _still_named(world, MARGARET) == list(MARGARET)


def test_erasing_the_carer_reaches_every_table_and_keeps_the_chain(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    w = world
    summary = erase_person_data(w.db, w.files, w.carer, by=ADMIN, at=T0 + timedelta(days=1))
    assert _still_named(w, SAM) == []
    assert summary.reached["escalation_contacts_removed"] == 1
    assert summary.reached["break_glass_reasons_blanked"] == 1

    with w.db.read_session() as s:
        [policy] = s.scalars(select(EscalationPolicy)).all()
        assert policy.contacts == [w.owner], "an erased person can no longer be told"
        # The escalation's history stays, naming the carer only by id (as the audit does).
        [step] = s.scalars(select(EscalationStep)).all()
        assert step.recipients == [w.carer]
        [box] = s.scalars(select(BreakGlass)).all()
        assert (box.person_id, box.reviewed_by) == (OFFICER, w.carer)  # references kept
        assert (box.reason, box.review_note) == ("", "")
        notices = {n.dedup_key: n for n in s.scalars(select(NotificationRow))}
        assert notices["alert:non-arrival"].body.startswith(f"{ERASED} (Helping Hands)")
        assert notices[f"break_glass:{box.id}"].body == BREAK_GLASS_BODY
        assert [r.person_id for r in s.scalars(select(RecipientRow))] == [w.owner]
        assert s.scalars(select(VisitRecord)).all() == []
        assert s.scalars(select(CheckInApproval)).all() == []
        assert get_command(s, "66666666-6666-4666-8666-666666666666").reason == (
            f"letting {ERASED} in"
        )
        [dead] = s.scalars(select(WebhookDelivery)).all()
        assert dead.status == "dead"
        assert ERASED in (dead.last_error or "")
        report = verify(w.db, stored_checkpoints(s), w.key.public_key())
    assert report.ok, report.summary()
    capsys.readouterr()
    assert audit_verify_cli(w, tmp_path, monkeypatch) == 0


def test_erasing_the_person_cared_for_blanks_their_home_s_break_glass(world: World) -> None:
    w = world
    with w.db.session() as s:  # a reason that does not use their name is about them too
        box = s.scalars(select(BreakGlass)).one()
        box.reason = "Mum has fallen, the carer could not get in"
    erase_person_data(w.db, w.files, w.resident, by=ADMIN, at=T0 + timedelta(days=1))
    assert _still_named(w, MARGARET) == []
    with w.db.read_session() as s:
        box = s.scalars(select(BreakGlass)).one()
        assert (box.person_id, box.reason) == (OFFICER, "")
        [esc] = s.scalars(select(RingEscalation)).all()
        assert esc.snapshot_id is None, "the ring's picture went with the other pictures"
        report = verify(w.db, stored_checkpoints(s), w.key.public_key())
    assert report.ok, report.summary()
