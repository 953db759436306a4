"""Which fields of which events hold personal information, and whose (个人信息, PIPL).

Those fields are stored encrypted under their person's key (projections/people.py); erasing a
person destroys the key, and the fields then read `ERASED` everywhere while the stored bytes,
and so every hash over them, stay as they were. Only members are people here: organisations,
departments and grids are public records.
"""
from collections.abc import Callable

from domain.booking import Booking
from domain.claim import Claim
from domain.registry import ERASED, Member

__all__ = ["ERASED", "PERSONAL", "personal_fields", "personal_reason"]


def _member(role_field: str, id_field: str) -> Callable[[object], str | None]:
    def person(event) -> str | None:
        return str(getattr(event, id_field)) if getattr(event, role_field) == "member" else None
    return person


def acting_member(event) -> str | None:
    """The member who did this (from the event's who-when-why), if a member did."""
    meta = vars(event).get("meta") or {}
    return meta.get("actor_id") if meta.get("actor_role") == "member" else None


# event class -> {field: whose it is (a member id, or None when the field is nobody's)}; besides,
# the reason a member gives for anything (`meta.reason`) is theirs (see `personal_reason`)
PERSONAL: dict[type, dict[str, Callable[[object], str | None]]] = {
    Member.Registered: {"name": lambda event: str(event.originator_id)},
    Claim.Made: {"note": _member("claimant_role", "claimant_id")},
    Booking.Requested: {"purpose": _member("requester_role", "requester_id")},
    Claim.Cancelled: {"reason": acting_member},
    Booking.Cancelled: {"reason": acting_member},
}


def personal_fields(event) -> dict[str, str]:
    """{field: member id} for the personal text this event holds (empty text is nobody's)."""
    found = {}
    for field, whose in PERSONAL.get(type(event), {}).items():
        value, person = vars(event).get(field), whose(event)
        if person and isinstance(value, str) and value:
            found[field] = person
    return found


def personal_reason(event) -> str | None:
    """The member whose reason this event's who-when-why carries, if a member gave one."""
    person = acting_member(event)
    reason = (vars(event).get("meta") or {}).get("reason")
    return person if person and isinstance(reason, str) and reason else None
