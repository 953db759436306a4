"""Forgetting a member (PIPL's right to deletion) without rewriting history.

The order matters: the registry records the erasure first (it refuses anyone but the operator
and an unknown member, and says who erased whom, when and why); then the member's key goes,
which makes every sealed field of theirs decode as 已删除 (projections/people.py); then their
tokens are revoked (a forgotten member acts no more, so nothing new of theirs is kept) and stored
replies naming them are dropped; then the read models apply the erasure, and old row versions
are cleared where the database allows. Each step is idempotent,
so an erasure interrupted halfway is finished by running it again.
"""
from uuid import UUID

from api.wiring import Linli
from domain.actors import Role
from domain.registry import Member
from workflows.engine import Meta, Outcome

# where an erasure leaves old row versions behind: VACUUM (PostgreSQL, as the tables' owner; the API
# role's is skipped with a warning, autovacuum follows) or the log emptied into the file (SQLite)
ERASED_ROWS = ("person_keys", "claims", "bookings", "idempotency")


def erase_member(system: Linli, meta: Meta, member_id: UUID | str) -> Outcome[Member]:
    outcome = system.registry.erase(meta, member_id)
    person = str(outcome.value.id)
    system.people.erase(person)
    system.tokens.revoke_subject(Role.MEMBER, person, "member erased", system.clock.now())
    system.idempotency.forget_replies_naming(person)
    system.project()
    system.db.vacuum(ERASED_ROWS)
    return outcome
