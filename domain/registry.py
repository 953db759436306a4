"""The registry context: grids, organisations, members and departments (all event-sourced)."""
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Record
from domain.errors import ValidationError

GRID_TYPES = ("小区型", "街区型", "单元型", "单位型", "商圈型")
ORGANISATION_KINDS = ("非公企业", "社会组织", "党组织", "社区", "机关")
ERASED_STATUS = "erased"
ERASED = "已删除"  # what a forgotten person's data reads as, here and in domain/personal.py


def _text(value: str, field: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required")
    if len(value) > limit:
        raise ValidationError(f"{field} is longer than {limit} characters")
    return value.strip()


class Grid(Record):
    @staticmethod
    def register(id: UUID, code: str, name: str, type: str, district: str) -> "Grid":
        if type not in GRID_TYPES:
            raise ValidationError(f"grid type must be one of {', '.join(GRID_TYPES)}")
        return Grid(id=id, code=_text(code, "code", 64), name=_text(name, "name"), type=type,
                    district=_text(district, "district", 64))

    class Registered(Record.Created):
        code: str
        name: str
        type: str
        district: str

    @event(Registered)
    def __init__(self, id: UUID, code: str, name: str, type: str, district: str):
        self.code, self.name, self.type, self.district = code, name, type, district
        self.status = "active"


class Organisation(Record):
    @staticmethod
    def register(id: UUID, name: str, kind: str, grid_id: str, district: str) -> "Organisation":
        if kind not in ORGANISATION_KINDS:
            raise ValidationError(f"organisation kind must be one of {', '.join(ORGANISATION_KINDS)}")
        return Organisation(id=id, name=_text(name, "name"), kind=kind, grid_id=grid_id,
                            district=_text(district, "district", 64))

    class Registered(Record.Created):
        name: str
        kind: str
        grid_id: str
        district: str

    @event(Registered)
    def __init__(self, id: UUID, name: str, kind: str, grid_id: str, district: str):
        self.name, self.kind, self.grid_id, self.district = name, kind, grid_id, district
        self.status = "active"


class Member(Record):
    @staticmethod
    def register(id: UUID, name: str, organisation_id: str, grid_id: str, flowing: bool) -> "Member":
        return Member(id=id, name=_text(name, "name"), organisation_id=organisation_id, grid_id=grid_id,
                      flowing=bool(flowing))

    class Registered(Record.Created):
        name: str
        organisation_id: str
        grid_id: str
        flowing: bool

    @event(Registered)
    def __init__(self, id: UUID, name: str, organisation_id: str, grid_id: str, flowing: bool):
        self.name, self.organisation_id, self.grid_id, self.flowing = name, organisation_id, grid_id, flowing
        self.status = "active"

    def erase(self) -> None:
        """Forget the member (PIPL): the key of their personal data goes elsewhere (api/erasure.py);
        this records who erased whom, when and why. Erasing twice records nothing more."""
        if self.status != ERASED_STATUS:
            self._erased()

    class Erased(Record.Event):
        pass

    @event(Erased)
    def _erased(self) -> None:
        self.name, self.status = ERASED, ERASED_STATUS


class Department(Record):
    @staticmethod
    def register(id: UUID, code: str, name: str) -> "Department":
        return Department(id=id, code=_text(code, "code", 64), name=_text(name, "name"))

    class Registered(Record.Created):
        code: str
        name: str

    @event(Registered)
    def __init__(self, id: UUID, code: str, name: str):
        self.code, self.name = code, name
        self.status = "active"
