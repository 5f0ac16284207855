"""Consent records: who consented to what, history kept, reviews due, audited by reference."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from hub.audit import entries
from hub.consent import ConsentInput, consent_json, record_consent
from hub.errors import InvalidValue, UnknownHome, UnknownPerson
from hub.storage import Database, add_membership, create_person
from hub.storage.models_registry import Role
from hub.storage.privacy import consent_history, current_consent, reviews_due
from tests.fixtures.database import T0, add_device


def _input(**changes: Any) -> ConsentInput:
    fields: dict[str, Any] = {
        "basis": "attorney",
        "given_by": "Ann Lee (LPA health and welfare)",
        "scope": ["snapshots", "live_view"],
        "consented_on": date(2026, 3, 1),
        "review_on": date(2027, 3, 1),
    }
    return ConsentInput(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"given_by": None}, "attorney's name"),
        ({"basis": "best_interests", "decided_by": None}, "who made it"),
        ({"review_on": date(2026, 3, 1)}, "review date"),
        ({"scope": []}, "at least 1"),
        ({"scope": ["face_recognition"]}, "snapshots"),
    ],
)
def test_an_incomplete_decision_is_refused_with_what_is_missing(changes, words) -> None:
    with pytest.raises(ValidationError, match=words):
        _input(**changes)


def test_decisions_are_kept_newest_in_force_and_audited_without_names(database: Database) -> None:
    home, _ = add_device(database)
    with database.session() as s:
        owner = create_person(s, display_name="Olive", at=T0).id
        resident = create_person(s, display_name="Margaret", at=T0).id
        first = record_consent(s, home, _input(resident_id=resident), by=owner, at=T0)
        second = record_consent(
            s,
            home,
            _input(
                basis="best_interests",
                given_by=None,
                decided_by="J. Patel, social worker",
                resident_id=resident,
                scope=["visit_records", "snapshots", "snapshots"],
            ),
            by=owner,
            at=T0 + timedelta(days=40),
        )
        first_id, second_id = first.id, second.id
    with database.read_session() as s:
        assert [r.id for r in consent_history(s, home)] == [second_id, first_id]
        current = current_consent(s, home)
        assert current is not None
        assert current.scope == ["snapshots", "visit_records"]
        assert consent_json(current)["decided_by"] == "J. Patel, social worker"
        audited = [e for e in entries(s) if e.action == "consent_recorded"]
    assert len(audited) == 2
    assert audited[-1].details == {
        "basis": "best_interests",
        "scope": ["snapshots", "visit_records"],
        "consented_on": "2026-03-01",
        "review_on": "2027-03-01",
    }
    assert f"consent:{second_id}" in audited[-1].subjects
    assert f"person:{resident}" in audited[-1].subjects
    assert "Patel" not in str(audited[-1])
    assert "Ann Lee" not in str(audited[0])


def test_reviews_due_look_only_at_the_decision_in_force(database: Database) -> None:
    overdue, _ = add_device(database)
    renewed, _ = add_device(database)
    later, _ = add_device(database)
    with database.session() as s:
        by = create_person(s, display_name="Admin", at=T0).id
        record_consent(s, overdue, _input(review_on=date(2026, 6, 1)), by=by, at=T0)
        record_consent(s, renewed, _input(review_on=date(2026, 6, 1)), by=by, at=T0)
        # A newer decision with a later review replaces the one that fell due.
        record_consent(
            s, renewed, _input(review_on=date(2027, 6, 1)), by=by, at=T0 + timedelta(days=1)
        )
        record_consent(s, later, _input(review_on=date(2026, 9, 1)), by=by, at=T0)
    with database.read_session() as s:
        homes = [overdue, renewed, later]
        assert [r.home_id for r in reviews_due(s, homes, on=date(2026, 7, 1))] == [overdue]
        due_soon = reviews_due(s, homes, on=date(2026, 9, 30))
        assert [r.home_id for r in due_soon] == [overdue, later]
        assert reviews_due(s, [renewed], on=date(2026, 9, 30)) == []


def test_consent_for_a_home_that_does_not_exist_is_refused(database: Database) -> None:
    with database.session() as s, pytest.raises(UnknownHome):
        record_consent(s, "no-such-home", _input(), by="someone", at=T0)


def test_the_person_cared_for_must_exist_and_belong_to_this_home_or_none(
    database: Database,
) -> None:
    home, _ = add_device(database)
    elsewhere, _ = add_device(database)
    with database.session() as s:
        by = create_person(s, display_name="Owner", at=T0).id
        stranger = create_person(s, display_name="Someone else", at=T0).id
        add_membership(s, person_id=stranger, home_id=elsewhere, role=Role.FAMILY_MEMBER, at=T0)
        newcomer = create_person(s, display_name="Margaret", at=T0).id
    with database.session() as s, pytest.raises(InvalidValue, match="another home"):
        record_consent(s, home, _input(resident_id=stranger), by=by, at=T0)
    with database.session() as s, pytest.raises(UnknownPerson):
        record_consent(s, home, _input(resident_id="no-such-person"), by=by, at=T0)
    with database.session() as s:
        assert record_consent(s, home, _input(resident_id=newcomer), by=by, at=T0).resident_id
