"""Who reads what (DESIGN §6): personal information stays with the parties to it.

A claim is read by its claimant, the demand's organisation, admin and auditors; a booking by its
requester, the venue's organisation, admin and auditors; a service request by its applicant, its
handler, admin and auditors; a member's profile and service record by the member, the member's
organisation, admin and auditors. Anyone else is told there is no such record (404), so ids do
not reveal what exists. Lists show each caller only the rows it may read. The applications
apply these rules (workflows/), for the API, the CLI and the seed alike.
"""
from domain.actors import Actor, Role
from domain.base import Record
from domain.errors import ForbiddenError, NotFoundError
from domain.service_item import PUBLIC_STATES as PUBLIC_ITEM_STATES

STAFF = (Role.ADMIN, Role.AUDITOR)
PARTIES = {"owner", "claimant", "requester", "applicant", "handler"}


def staff(actor: Actor | None) -> bool:
    return actor is not None and actor.role in STAFF


def party(record: Record, actor: Actor, kind: str):
    """`record` if `actor` is staff or a party to it, else NotFoundError."""
    if staff(actor) or record.relations(actor) & PARTIES:
        return record
    raise NotFoundError(f"no {kind} {record.id}")


def member_reader(member, actor: Actor) -> None:
    """The member, the member's organisation, admin and auditors read a member's records."""
    if not (staff(actor) or (actor.role is Role.MEMBER and actor.id == str(member.id))
            or (actor.role is Role.ORG and actor.id == member.organisation_id)):
        raise NotFoundError(f"no member {member.id}")


def reads_all(record: Record, actor: Actor) -> bool:
    """Staff and the record's owner read every row under it (every claim of a demand, every
    booking of a venue); anyone else reads only its own."""
    return staff(actor) or "owner" in record.relations(actor)


def seen_item(item, actor: Actor | None):
    """Drafts and items under review exist only for their provider and staff."""
    if item.status in PUBLIC_ITEM_STATES or staff(actor) or (actor is not None and "provider" in item.relations(actor)):
        return item
    raise NotFoundError(f"no service item {item.id}")


def seen_request(request, actor: Actor):
    """Seen by the applicant, the departments, a handling organisation, the operator and auditors (403
    to others: service requests kept the rule they had, docs/decisions.md)."""
    if staff(actor) or actor.role is Role.DEPT or request.relations(actor) & {"applicant", "handler"}:
        return request
    raise ForbiddenError("service requests are seen by the enterprise, the departments and the operator")
