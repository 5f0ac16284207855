"""Inviting someone into a home in a role; the token is shown once, only its hash is kept.

POST /api/homes/{home}/invitations {"role": "carer", "display_name": "Bob"}
    -> 201 {"token": "...", "expires_at": "..."}   the link to send: /invite#<token>

Who may invite whom: family members need invite_family, carers manage_carers,
any other role administer (an admin may invite anyone).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from hub.audit import AuditAction, RefKind, append, person_ref, ref
from hub.policy import Permission, permissions
from hub.storage.accounts import create_invitation
from hub.storage.models_registry import Role

from ..deps import CurrentPerson, HubDep, Now

router = APIRouter(prefix="/api", tags=["invitations"])

# Besides ADMINISTER (which may invite any role), the right that lets one invite a role.
INVITE_RIGHT: dict[Role, Permission] = {
    Role.FAMILY_MEMBER: Permission.INVITE_FAMILY,
    Role.CARER: Permission.MANAGE_CARERS,
}


class NewInvitation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    # Only helps the inviter recognise the invitation; the person chooses their own name.
    display_name: str = Field("", max_length=200)


@router.post("/homes/{home}/invitations", status_code=201)
def invite(
    home: str, body: NewInvitation, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, str]:
    with hub.db.session() as s:
        rights = permissions(s, person, home)
        needed = INVITE_RIGHT.get(body.role)
        if Permission.ADMINISTER not in rights and (needed is None or needed not in rights):
            what = (needed or Permission.ADMINISTER).value.replace("_", " ")
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"inviting a {body.role.value.replace('_', ' ')} needs the right to {what} "
                "in this home: ask the home's family owner",
            )
        invitation, token = create_invitation(
            s, home_id=home, role=body.role, invited_by=person, at=now
        )
        append(
            s,
            AuditAction.INVITATION_CREATED,
            actor=person_ref(person),
            at=now,
            subjects=[ref(RefKind.HOME, home), ref(RefKind.INVITATION, invitation.id)],
            details={"role": body.role.value, "expires_at": invitation.expires_at.isoformat()},
        )
        return {"token": token, "expires_at": invitation.expires_at.isoformat()}
