"""SMS and email through GOV.UK Notify, with its official client.

Each message kind maps to a template made in Notify's admin site; the template's
placeholders are filled from the message (``home``, ``door``, ``at``, ``url``...).
The person's phone number or email comes from their contact details at send time,
so an erased person is never written to, and no delivery row holds the address.

    sms = GovNotifyChannel(db, api_key, medium="sms",
                           templates={"ring_unanswered": "<template id>"})
    sms.send(message)     # Receipt(Outcome.SENT) on 201
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from sqlalchemy.orm import Session

from ..storage.database import Database
from ..storage.models_registry import Person
from .channel import Message, NotifyConfigError, Outcome, Receipt

NOTIFY_BASE_URL = "https://api.notifications.service.gov.uk"
# Which contact detail each medium uses.
CONTACT_FIELD = {"sms": "phone", "email": "email"}
# The placeholders each kind's template may use; every one is always sent (empty when
# unknown) because Notify refuses a message that leaves a placeholder unfilled.
COMMON_FIELDS = ("title", "body", "url", "home", "at")
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "ring_unanswered": (*COMMON_FIELDS, "door"),
    "carer_non_arrival": (*COMMON_FIELDS, "carer", "agency", "window"),
    "device_offline": (*COMMON_FIELDS, "door"),
    "door_left_unlocked": (*COMMON_FIELDS, "door"),
    "break_glass": (*COMMON_FIELDS, "officer", "reason"),
}
# Notify's statuses (GET /v2/notifications/{id}) that end a message's journey.
DELIVERED_STATUSES = frozenset({"delivered"})
FAILED_STATUSES = frozenset({"permanent-failure", "temporary-failure", "technical-failure"})


class GovNotifyChannel:
    def __init__(
        self,
        db: Database,
        api_key: str,
        *,
        medium: Literal["sms", "email"],
        templates: Mapping[str, str],
        base_url: str = NOTIFY_BASE_URL,
        timeout_s: float = 10.0,
        public_url: str = "",
    ) -> None:
        if len(api_key) < 74:
            raise NotifyConfigError(
                "GOV.UK Notify API key looks wrong: copy the whole key from Notify's "
                "'API integration' page (name-serviceid-secret)"
            )
        unknown = sorted(set(templates) - set(TEMPLATE_FIELDS))
        if unknown:
            raise NotifyConfigError(
                f"GOV.UK Notify {medium} templates for unknown kinds {unknown}: "
                f"templates exist for {', '.join(TEMPLATE_FIELDS)}"
            )
        self.name = f"govuk_{medium}"
        self._public_url = public_url.rstrip("/")
        self.kinds = frozenset(templates)
        self._db = db
        self._medium = medium
        self._templates = dict(templates)
        self._client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout_s)

    def targets(self, session: Session, person_id: str) -> list[str]:
        person = session.get(Person, person_id)
        field = CONTACT_FIELD[self._medium]
        return [field] if person is not None and (person.contact or {}).get(field) else []

    def forget(self, session: Session, target: str) -> None:
        pass  # an address Notify refuses stays with the person: an admin must correct it

    def send(self, message: Message) -> Receipt:
        template = self._templates.get(message.kind)
        if template is None:
            return Receipt(Outcome.FAILED, f"no {self._medium} template for {message.kind!r}")
        with self._db.read_session() as s:
            person = s.get(Person, message.person_id)
            address = (person.contact or {}).get(message.target) if person else None
        if not address:
            return Receipt(Outcome.GONE, f"person has no {message.target} any more")
        personalisation = personalisation_of(message, self._public_url)
        try:
            if self._medium == "sms":
                answer = self._client.send_sms_notification(
                    phone_number=address,
                    template_id=template,
                    personalisation=personalisation,
                    reference=message.key,
                )
            else:
                answer = self._client.send_email_notification(
                    email_address=address,
                    template_id=template,
                    personalisation=personalisation,
                    reference=message.key,
                )
        except APIError as exc:
            return _receipt_for(exc)
        ref = answer.get("id")
        return Receipt(Outcome.SENT, f"notify id {ref}", ref=str(ref) if ref else None)

    def report(self, ref: str) -> tuple[str, str] | None:
        """Notify's word on a sent message: ("delivered" | "failed", status) or None yet."""
        try:
            answer = self._client.get_notification_by_id(ref)
        except APIError as exc:
            if exc.status_code == 404:  # Notify keeps messages 7 days: nothing more to learn
                return ("failed", "Notify no longer knows this message")
            return None
        status = str(answer.get("status", ""))
        if status in DELIVERED_STATUSES:
            return ("delivered", status)
        if status in FAILED_STATUSES:
            return ("failed", f"Notify: {status}")
        return None  # created, sending, pending, sent (abroad): ask again later


def personalisation_of(message: Message, public_url: str = "") -> dict[str, str]:
    """Template placeholders: every value a plain string (Notify substitutes text).

    ``url`` is made absolute with the deployment's public address, so a text message
    holds a link a phone can open."""
    out: dict[str, str] = dict.fromkeys(TEMPLATE_FIELDS.get(message.kind, COMMON_FIELDS), "")
    out.update(title=message.title, body=message.body, url=public_url + message.url)
    for key, value in message.data.items():
        if isinstance(value, bool):
            out[key] = "yes" if value else "no"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
    return out


def _receipt_for(exc: APIError) -> Receipt:
    code = exc.status_code
    detail = f"HTTP {code}: {_messages(exc.message)}"
    # 429: rate or daily limit; 5xx (and 503 for a request that never got an answer).
    if code == 429 or code >= 500:
        return Receipt(Outcome.RETRY, detail)
    # 400 (bad number, template, personalisation) and 403 (key, clock) need a person.
    return Receipt(Outcome.FAILED, detail)


def _messages(message: Any) -> str:
    if isinstance(message, list):
        return "; ".join(f"{m.get('error')}: {m.get('message')}" for m in message)
    return str(message)
