"""Sign-in tokens for one demo account of each role, for the embedded demo store that `make run`
seeds (never for PostgreSQL: a real platform's accounts get tokens from its operator)."""
from api.routes.tokens import issue
from api.seed import Seeder
from api.wiring import Linli
from domain.actors import Role

KINDS = ((Role.ORG, "organisation", "org"), (Role.MEMBER, "member", "member"), (Role.DEPT, "department", "department"))


def demo_accounts(system: Linli, seed: int = 7) -> list[dict]:
    """A fresh one-day token each for admin, an auditor, and the seed's first organisation, member and
    department (those the demo city has)."""
    if system.settings.postgres:
        raise ValueError("demo accounts are for the embedded demo store only")
    ids = Seeder(system, 0.0, seed)
    accounts = [(Role.ADMIN, "admin"), (Role.AUDITOR, "auditor")]
    for role, kind, seeded in KINDS:
        subject = str(ids._id(seeded, 0))
        if system.registry.find(subject, kind) is not None:
            accounts.append((role, subject))
    return [issue(system, role, subject, "console-demo", 1) for role, subject in accounts]
