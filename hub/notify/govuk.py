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
    ) -> None:
        if len(api_key) < 74:
            raise NotifyConfigError(
                "GOV.UK Notify API key looks wrong: copy the whole key from Notify's "
                "'API integration' page (name-serviceid-secret)"
            )
        self.name = f"govuk_{medium}"
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
        personalisation = personalisation_of(message)
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
        return Receipt(Outcome.SENT, f"notify id {answer.get('id')}")


def personalisation_of(message: Message) -> dict[str, str]:
    """Template placeholders: every value a plain string (Notify substitutes text)."""
    out: dict[str, str] = {"title": message.title, "body": message.body, "url": message.url}
    for key, value in message.data.items():
        if isinstance(value, str | int | float):
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
