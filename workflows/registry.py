"""The registry context: grids, organisations, members and departments."""
from uuid import UUID

from domain.actors import Actor, Role
from domain.errors import ForbiddenError, NotFoundError, ValidationError
from domain.readers import member_reader
from domain.registry import Department, Grid, Member, Organisation
from workflows.clock import Clock, SystemClock
from workflows.context import Context
from workflows.engine import Engine, Meta, Outcome, Unit, load

KINDS = {"grid": Grid, "organisation": Organisation, "member": Member, "department": Department}


class Registry(Context):
    name = "registry"

    def __init__(self, env=None, *, clock: Clock | None = None):
        super().__init__(env)
        self.clock = clock or SystemClock()
        self.engine = Engine(self)
        self.verified_claims = None  # member id -> its verified claims: api/wiring.py installs the query

    def register(self, meta: Meta, what: str, aggregate_id: UUID, **fields) -> Outcome:
        """Register a grid, organisation, member or department; a repeated id returns the first."""
        if meta.actor.role is not Role.ADMIN:
            raise ForbiddenError("only the platform operator registers")
        cls = KINDS[what]

        def command(unit: Unit):
            existing = unit.find(aggregate_id, cls)
            if existing is not None:
                return existing
            self._check_references(unit, fields)
            return unit.add(cls.register(aggregate_id, **fields))

        return self.engine.execute(meta, command)

    def erase(self, meta: Meta, member_id: UUID | str) -> Outcome[Member]:
        """Record that a member is forgotten (the operator only; the reason goes in `meta`).
        Erasing an erased member again records nothing and returns the member as it is."""
        if meta.actor.role is not Role.ADMIN:
            raise ForbiddenError("only the platform operator erases a member")
        if not meta.reason or not meta.reason.strip():
            raise ValidationError("a reason is required")

        def command(unit: Unit):
            try:
                member = unit.get(member_id, Member)
            except ValueError:
                raise NotFoundError(f"no member {member_id}") from None
            member.erase()
            return member

        return self.engine.execute(meta, command)

    def _check_references(self, unit: Unit, fields: dict) -> None:
        for name, cls in (("grid_id", Grid), ("organisation_id", Organisation)):
            if name in fields:
                try:
                    unit.get(fields[name], cls)
                except (NotFoundError, ValueError):
                    raise ValidationError(f"{name} names no registered {cls.__name__.lower()}") from None

    def read(self, kind: str, record_id: str, actor: Actor | None):
        """A registered record; a member's is read only by the member, its organisation and staff."""
        record = self.find(record_id, kind)
        if record is None:
            raise NotFoundError(f"no {kind} {record_id}")
        if kind == "member" and actor is not None:
            member_reader(record, actor)
        return record

    def service_record(self, member_id: str, actor: Actor) -> dict:
        """A member's verified claims and their hours (志愿服务记录)."""
        self.read("member", member_id, actor)
        rows = self.verified_claims(member_id)
        return {"member_id": member_id, "total_hours": sum(r["hours"] for r in rows), "items": rows}

    def organisation_for(self, actor: Actor, organisation_id: str | None, grid_id: str | None) -> str:
        """Whose demand or venue this is: the caller's own organisation, or the one the operator
        names; it and the grid must be registered."""
        organisation_id = organisation_id if actor.role is Role.ADMIN else actor.id
        self.require("organisation", organisation_id, "organisation_id names no registered organisation")
        self.require("grid", grid_id, "grid_id names no registered grid")
        return organisation_id

    def require(self, kind: str, aggregate_id: str | None, message: str) -> None:
        """A reference another context's command makes: ValidationError(message) unless registered."""
        if not aggregate_id or self.find(aggregate_id, kind) is None:
            raise ValidationError(message)

    def find(self, aggregate_id: UUID | str, kind: str):
        """The registered aggregate of this kind, or None."""
        try:
            return load(self, aggregate_id, KINDS[kind])
        except NotFoundError:
            return None
