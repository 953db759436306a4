"""Given events, when a command, then events or an error: the rules of the aggregates alone.

`given` replays events into aggregates as the repository would (no store, no application);
`when` fires one trigger through the domain call the application makes; `then` is the new
events, by aggregate, with their fields, or the error raised (and then nothing is emitted).
Every spec names the state the given events leave its subject in and the relation of the actor
to it, and both are checked, so test_coverage.py can trust them when it looks for a spec of
every row of every lifecycle table, allowed and refused.
"""
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.actors import Actor
from domain.errors import ForbiddenError, TransitionNotAllowedError

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in the city
GRACE = timedelta(minutes=15)
NOBODY = "nobody"  # an actor with no relation to the aggregate at all
HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}


def given_event(event_class: type, **fields) -> tuple[type, dict]:
    return event_class, fields


def _aggregate_class(event_class: type) -> type:
    return getattr(sys.modules[event_class.__module__], event_class.__qualname__.split(".")[0])


def replay(history: list[tuple[type, dict]], ids: dict[type, UUID]) -> dict[UUID, object]:
    """The aggregates the events build, by id, in the order they first appear."""
    world: dict[UUID, object] = {}
    versions: dict[UUID, int] = {}
    for n, (event_class, fields) in enumerate(history):
        kind = _aggregate_class(event_class)
        aggregate_id = ids[kind]
        versions[aggregate_id] = versions.get(aggregate_id, 0) + 1
        header = {"originator_id": aggregate_id, "originator_version": versions[aggregate_id],
                  "timestamp": NOW - timedelta(days=30) + timedelta(seconds=n)}
        if versions[aggregate_id] == 1:
            header["originator_topic"] = get_topic(kind)
        world[aggregate_id] = event_class(**header, **fields).mutate(world.get(aggregate_id))
    return world


def emitted(world: dict[UUID, object]) -> dict[str, list[tuple[str, dict]]]:
    """The new events of every aggregate, as {aggregate class: [(event class, fields), ...]}."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for aggregate in world.values():
        for event in aggregate.collect_events():
            fields = {k: v for k, v in vars(event).items() if k not in HIDDEN}
            found.setdefault(type(aggregate).__name__, []).append((type(event).__name__, fields))
    return found


def then(*events: tuple[str, dict]) -> dict[str, list[tuple[str, dict]]]:
    """Expected events written as ("Claim.Confirmed", {...}), grouped like `emitted`."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for name, fields in events:
        kind, event = name.split(".")
        found.setdefault(kind, []).append((event, fields))
    return found


def e(name: str, **fields) -> tuple[str, dict]:
    return name, fields


@dataclass(frozen=True)
class Spec:
    trigger: str
    state: str
    role: str
    given: list
    outcome: dict | type[Exception]
    fields: dict = field(default_factory=dict)
    now: datetime = NOW
    label: str = ""

    @property
    def refused(self) -> bool:
        return isinstance(self.outcome, type)

    def __str__(self) -> str:
        verdict = self.outcome.__name__ if self.refused else "allowed"
        return f"{self.trigger}-{self.state}-{self.role}-{verdict}{'-' + self.label if self.label else ''}"


@dataclass
class Book:
    """The specs of one lifecycle and what it takes to run them."""

    lifecycle: object
    subject: type  # the aggregate whose lifecycle this is
    ids: dict[type, UUID]
    actors: dict[str, Actor]
    histories: dict[str, list]  # how to reach each state
    when: Callable  # (world, subject, trigger, by, now, fields) -> None
    specs: list[Spec] = field(default_factory=list)

    def allowed(self, trigger: str, state: str, role: str, *events, given: list | None = None,
                now: datetime = NOW, label: str = "", **fields) -> None:
        self.specs.append(Spec(trigger, state, role, given if given is not None else self.histories[state],
                               then(*events), fields, now, label))

    def refused(self, trigger: str, state: str, role: str, error: type[Exception], given: list | None = None,
                now: datetime = NOW, label: str = "", **fields) -> None:
        self.specs.append(Spec(trigger, state, role, given if given is not None else self.histories[state],
                               error, fields, now, label))

    def refused_in(self, trigger: str, states: str, role: str, **fields) -> None:
        """Not from these states (a transition the table lacks), whatever is sent."""
        for state in states.split():
            self.refused(trigger, state, role, TransitionNotAllowedError, **fields)

    def refused_for(self, trigger: str, roles: str, state: str, **fields) -> None:
        """Not by these relations, even from a state the row starts from."""
        for role in roles.split():
            self.refused(trigger, state, role, ForbiddenError, **fields)

    def run(self, spec: Spec) -> None:
        world = replay(spec.given, self.ids)
        subject = world[self.ids[self.subject]]
        assert subject.status == spec.state, f"the given events leave the {self.lifecycle.name} {subject.status}"
        by = self.actors[spec.role]
        relations = subject.relations(by)
        assert relations == set() if spec.role == NOBODY else spec.role in relations, (spec.role, relations)
        emitted(world)  # the given events are history, not news
        if spec.refused:
            try:
                self.when(world, subject, spec.trigger, by, spec.now, dict(spec.fields))
            except spec.outcome:
                pass
            else:
                raise AssertionError(f"{spec} was not refused")
            assert emitted(world) == {}, "a refused command emitted events"
            return
        self.when(world, subject, spec.trigger, by, spec.now, dict(spec.fields))
        got = emitted(world)
        assert got == spec.outcome, f"emitted {got}, expected {spec.outcome}"
