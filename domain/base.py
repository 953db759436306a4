"""What every Linli aggregate shares: events that declare their metadata, a lifecycle table,
relations of an actor to it, and `allowed_actions` for representations.

Command methods check (table, guards, arguments) and then record an event whose applier only
assigns state, so replaying old events never re-checks today's rules. The moves of the tables
share three appliers: `Record.Moved` (the status alone), `Record.Reasoned` (with its reason) and
`Record.Cleared` (clearing the last reason).
"""
import dataclasses
import inspect
import keyword
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.actors import Actor, Role
from domain.errors import GuardFailedError, ValidationError
from domain.lifecycle import Lifecycle


def base_relations(actor: Actor) -> set[str]:
    if actor.role is Role.ADMIN:
        return {"admin"}
    if actor.role is Role.SYSTEM:
        return {"system"}
    return set()


class Stamped(Aggregate):
    """An aggregate whose every event declares `meta`: who, why and in answer to what. The engine
    stamps it on each new event before saving (workflows/engine.py); it is None only until then."""

    class Event(Aggregate.Event):
        meta: dict | None = dataclasses.field(default=None, kw_only=True)

        def stamped(self, meta: dict, timestamp: Any) -> Any:
            """This event with its metadata, dated by the context's clock (workflows/engine.py)."""
            return dataclasses.replace(self, meta=meta, timestamp=timestamp)

    class Created(Event, Aggregate.Created):
        pass


class Record(Stamped):
    lifecycle: ClassVar[Lifecycle | None] = None

    class Moved(Stamped.Event):
        """A move of the table that changes the status alone (submitted, confirmed, ...)."""

        status: str

        def apply(self, aggregate: "Record") -> None:
            aggregate.status = self.status

    class Reasoned(Moved):
        """A move that records why (a rejection, a withdrawal, a suspension...)."""

        reason: str | None

        def apply(self, aggregate: "Record") -> None:
            aggregate.status, aggregate.reason = self.status, self.reason

    class Cleared(Moved):
        """A move that leaves the last reason behind (approved, resumed, resubmitted...)."""

        def apply(self, aggregate: "Record") -> None:
            aggregate.status, aggregate.reason = self.status, None

    def relations(self, actor: Actor) -> set[str]:
        """The words of the lifecycle table that describe this actor here (owner, admin, ...)."""
        return base_relations(actor)

    def allowed_actions(self, actor: Actor | None) -> list[str]:
        if actor is None or self.lifecycle is None:
            return []
        return self.lifecycle.allowed(self.status, self.relations(actor))

    def act(self, trigger: str, facts: dict) -> None:
        """Fire a trigger of the table: the one dispatch path of every context. The command method
        gets the facts it names (all of them if it takes **changes); a trigger that is a Python
        keyword (`return`) is a method with a trailing underscore."""
        assert self.lifecycle is not None
        if trigger not in self.lifecycle.roles:
            self._decide(trigger, facts["by"])  # raises: the table has no such trigger
        method = getattr(self, f"{trigger}_" if keyword.iskeyword(trigger) else trigger)
        params = inspect.signature(method).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            facts = {k: v for k, v in facts.items() if k in params}
        method(**facts)

    def _decide(self, trigger: str, by: Actor) -> str:
        assert self.lifecycle is not None
        return self.lifecycle.decide(self.status, trigger, self.relations(by))

    def _guard(self, ok: bool, trigger: str, by: Actor, detail: str) -> None:
        if not ok:
            raise GuardFailedError(self.status, trigger, detail, self.allowed_actions(by))


def require_reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise ValidationError("a reason is required")
    return reason.strip()


def require_rating(rating: int | None) -> int:
    if rating is None or isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationError("rating must be an integer from 1 to 5")
    return rating
