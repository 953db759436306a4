"""Who acts: an actor is a role and the subject the caller's token is bound to."""
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    ORG = "org"
    MEMBER = "member"
    DEPT = "dept"
    AUDITOR = "auditor"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


SYSTEM = Actor("system", Role.SYSTEM)
