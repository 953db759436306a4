"""The registry context: grids, organisations, members and departments."""
from uuid import UUID

from domain.actors import Role
from domain.errors import ForbiddenError, NotFoundError, ValidationError
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

    def find(self, aggregate_id: UUID | str, kind: str):
        """The registered aggregate of this kind, or None."""
        try:
            return load(self, aggregate_id, KINDS[kind])
        except NotFoundError:
            return None
