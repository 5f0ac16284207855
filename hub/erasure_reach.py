"""What erasing a person reaches beyond their own row: the care, notification and
webhook tables that kept their name, contact details or free text about them.

The rule (docs/security.md §11 has the table): a row that is *about* the person alone
goes with them (foreign-key cascades, see ``hub.erasure``); a row that is also someone
else's record stays, with the free text blanked and the person kept only as their id,
a pseudonymous reference like the audit log's ``person:<id>`` (nobody's name is
stored with it once the ``people`` row is gone).

- escalation policies: the person leaves the contact list (they can no longer be told);
- ring escalations and their steps: ids only, kept; in a home where the person was cared
  for, the ring's picture reference goes with the pictures;
- break-glass boxes: the officer's reason and the review note are blanked when the
  person is the officer, the reviewer, cared for in that home, or named in them; the
  officer's id stays (the review and the audit need it);
- notifications (title, body, data): the person's name and contact details are replaced
  by ``[erased]``; a blanked break-glass reason also leaves the family's notification;
- webhook outbox payloads, dead letters' errors, alert details, and the reasons other
  people gave for commands ("letting Bea in"): the same replacement.

    with db.session() as s:
        counts = erase_references(s, person_id, needles_of(s, person_id), cared_for=homes)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .storage.models_accounts import Account
from .storage.models_care import BreakGlass, EscalationPolicy, RingEscalation
from .storage.models_commands import Alert, Command
from .storage.models_notify import DeliveryRow, NotificationRow
from .storage.models_registry import Person
from .storage.models_webhooks import WebhookDelivery, WebhookOutboxRow

ERASED = "[erased]"
# JSON columns are scanned here, not in SQL: a LIKE over stored JSON misses escaped
# non-ASCII names ("Zo\u00eb"). Erasure is rare; the rows stream in batches.
BATCH = 500
MIN_NEEDLE = 3  # shorter strings ("Al", "Jo") would blank unrelated words
BREAK_GLASS_BODY = "A telecare officer opened the door in an emergency (the reason was erased)."


def needles_of(session: Session, person_id: str) -> list[str]:
    """The strings that identify the person in free text: their name, username, email
    and contact details. Read before the person's row is deleted."""
    found: list[str] = []
    person = session.get(Person, person_id)
    if person is not None:
        found.append(person.display_name)
        found += _strings(person.contact)
    account = session.scalars(select(Account).where(Account.person_id == person_id)).first()
    if account is not None:
        found += [account.username, account.email or ""]
    clean = {" ".join(s.split()) for s in found}
    # Longest first: "Sam Carer" is replaced whole before "Sam" could split it.
    return sorted((s for s in clean if len(s) >= MIN_NEEDLE), key=len, reverse=True)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


class Redactor:
    """Replaces the person's needles in text and in JSON values (case-insensitive)."""

    def __init__(self, needles: Sequence[str]) -> None:
        self.pattern = (
            re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE) if needles else None
        )

    def names(self, text: str | None) -> bool:
        return bool(text) and self.pattern is not None and self.pattern.search(text) is not None

    def text(self, text: str) -> str:
        return self.pattern.sub(ERASED, text) if self.pattern is not None else text

    def json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value


def erase_references(
    session: Session, person_id: str, needles: Sequence[str], *, cared_for: Iterable[str]
) -> dict[str, int]:
    """Blank what names the person outside their own row; counts per kind of record."""
    homes = sorted(set(cared_for))
    red = Redactor(needles)
    boxes = _blank_break_glass(session, person_id, homes, red)
    return {
        "escalation_contacts_removed": _leave_contact_lists(session, person_id),
        "ring_pictures_unlinked": _unlink_ring_pictures(session, homes),
        "break_glass_reasons_blanked": len(boxes),
        "notifications_blanked": _blank_notifications(session, boxes, red),
        "webhook_payloads_blanked": _blank_webhooks(session, red),
        "alert_details_blanked": _blank_alerts(session, red),
        "command_reasons_redacted": _redact_command_reasons(session, needles, red),
    }


def _leave_contact_lists(s: Session, person_id: str) -> int:
    changed = 0
    for policy in s.scalars(select(EscalationPolicy)):
        if person_id in policy.contacts:  # a JSON list: filtered here, on both backends
            policy.contacts = [p for p in policy.contacts if p != person_id]
            changed += 1
    return changed


def _unlink_ring_pictures(s: Session, homes: list[str]) -> int:
    if not homes:
        return 0
    result = s.execute(
        update(RingEscalation)
        .where(RingEscalation.home_id.in_(homes), RingEscalation.snapshot_id.is_not(None))
        .values(snapshot_id=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _blank_break_glass(s: Session, person_id: str, homes: list[str], red: Redactor) -> list[str]:
    """Ids of the boxes whose free text was blanked."""
    blanked: list[str] = []
    for box in s.scalars(select(BreakGlass)):  # any box's reason may name the person
        whole = box.person_id == person_id or box.home_id in homes
        reason = "" if whole or red.names(box.reason) else box.reason
        note = box.review_note
        if note and (whole or box.reviewed_by == person_id or red.names(note)):
            note = ""
        if (reason, note) != (box.reason, box.review_note):
            box.reason, box.review_note = reason, note
            blanked.append(box.id)
    return blanked


def _blank_notifications(s: Session, boxes: list[str], red: Redactor) -> int:
    changed = 0
    keys = {f"break_glass:{b}" for b in boxes}
    for row in s.scalars(select(NotificationRow).execution_options(yield_per=BATCH)):
        title, body, data = red.text(row.title), red.text(row.body), red.json(row.data)
        if row.dedup_key in keys:
            body = BREAK_GLASS_BODY
        if (title, body, data) != (row.title, row.body, row.data):
            row.title, row.body, row.data = title, body, data
            changed += 1
    if red.pattern is not None:
        changed += _redact_errors(s, DeliveryRow, red)
    return changed


def _blank_webhooks(s: Session, red: Redactor) -> int:
    if red.pattern is None:
        return 0
    return _redact_json(s, WebhookOutboxRow, "data", red) + _redact_errors(s, WebhookDelivery, red)


def _blank_alerts(s: Session, red: Redactor) -> int:
    if red.pattern is None:
        return 0
    return _redact_json(s, Alert, "details", red)


def _redact_json(s: Session, model: Any, column: str, red: Redactor) -> int:
    """The person's strings out of one JSON column of every row; how many rows changed."""
    changed = 0
    for row in s.scalars(select(model).execution_options(yield_per=BATCH)):
        value = red.json(getattr(row, column))
        if value != getattr(row, column):
            setattr(row, column, value)
            changed += 1
    return changed


def _redact_errors(s: Session, model: Any, red: Redactor) -> int:
    """The person's strings out of the rows' ``last_error`` text; how many rows changed."""
    changed = 0
    for row in s.scalars(select(model).where(model.last_error.is_not(None))):
        if red.names(row.last_error):
            row.last_error = red.text(row.last_error or "")
            changed += 1
    return changed


def _redact_command_reasons(s: Session, needles: Sequence[str], red: Redactor) -> int:
    """Others' reasons naming the person ("letting Bea in"); their own are blanked whole
    by ``hub.erasure``. Plain text, so the database narrows the scan first."""
    if not needles:
        return 0
    like = [Command.reason.ilike(f"%{_escape(n)}%", escape="\\") for n in needles]
    changed = 0
    for command in s.scalars(select(Command).where(or_(*like))):
        reason = red.text(command.reason)
        if reason != command.reason:
            command.reason = reason
            changed += 1
    return changed


def _escape(needle: str) -> str:
    return needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
