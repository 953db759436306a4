"""The one path every command takes: load, decide, let policies react, stamp who/when/why on
every new event, save all touched aggregates in one transaction (shared with the commands that
finish at the same moment: see committer.py), retry a lost race.

Commands are functions of a `Unit` (the aggregates loaded for this attempt). Commands on one
hot aggregate take turns in its lane (lanes.py) and are decided one after another on one unit,
so within a process they never race each other. When another process wrote first
(optimistic concurrency), the commands are decided again on fresh state, so a decision is
always made on what is stored; a bounded number of attempts keeps a hot aggregate from
spinning forever.
"""
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.actors import SYSTEM, Actor
from domain.errors import ConcurrencyError, DomainError, NotFoundError, StaleVersionError
from workflows.after_commit import AfterCommit
from workflows.committer import Committer
from workflows.lanes import Job, Lanes

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)
MAX_ATTEMPTS = 60
MAX_POLICY_STEPS = 10_000


@dataclass(frozen=True)
class Meta:
    """Who, why and in answer to what: stamped on every event a command or policy emits."""

    actor: Actor
    correlation_id: str = field(default_factory=lambda: str(uuid4()))
    causation_id: str | None = None
    reason: str | None = None

    def caused_by(self, event_id: str) -> "Meta":
        return replace(self, actor=SYSTEM, causation_id=event_id, reason=None)

    def as_dict(self) -> dict:
        meta = {"actor_id": self.actor.id, "actor_role": self.actor.role.value,
                "correlation_id": self.correlation_id, "causation_id": self.causation_id or self.correlation_id}
        if self.reason:
            meta["reason"] = self.reason
        return meta


def event_id(event) -> str:
    return f"{event.originator_id}:{event.originator_version}"


@dataclass
class Outcome(Generic[T]):
    value: T
    position: int | None
    events: list


def load(app: Application, aggregate_id: UUID | str, kind: type[A], to_change: bool = False) -> A:
    """The stored aggregate of this kind, or NotFoundError (also for a malformed id). Only a
    command's unit asks `to_change`, and gets its own copy; readers share the cached aggregate
    and must not change it."""
    try:
        aggregate = app.repository.get(aggregate_id if isinstance(aggregate_id, UUID) else UUID(aggregate_id),
                                       deepcopy_from_cache=to_change)
    except (AggregateNotFoundError, ValueError):
        raise NotFoundError(f"no {kind.__name__.lower()} {aggregate_id}") from None
    if not isinstance(aggregate, kind):
        raise NotFoundError(f"no {kind.__name__.lower()} {aggregate_id}")
    return aggregate


class Unit:
    """The aggregates one attempt of a command has loaded or created."""

    def __init__(self, app: Application, meta: Meta):
        self.app, self.meta = app, meta
        self.aggregates: dict[UUID, Aggregate] = {}
        self.touched: dict[UUID, Aggregate] = {}  # by the current command (a batch holds many commands)
        self.known_new: Callable[[UUID], bool] | None = None  # bulk load into an empty store: skip lookups

    def get(self, aggregate_id: UUID | str, kind: type[A]) -> A:
        aggregate_id = aggregate_id if isinstance(aggregate_id, UUID) else UUID(aggregate_id)
        if aggregate_id not in self.aggregates:
            self.aggregates[aggregate_id] = load(self.app, aggregate_id, kind, to_change=True)
        aggregate = self.aggregates[aggregate_id]
        if not isinstance(aggregate, kind):
            raise NotFoundError(f"no {kind.__name__.lower()} {aggregate_id}")
        self.touched[aggregate_id] = aggregate
        return aggregate

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        if aggregate_id not in self.aggregates and self.known_new is not None and self.known_new(aggregate_id):
            return None
        try:
            return self.get(aggregate_id, kind)
        except NotFoundError:
            return None

    def add(self, aggregate: A) -> A:
        self.aggregates[aggregate.id] = self.touched[aggregate.id] = aggregate
        return aggregate

    def stamp(self, meta: Meta) -> list:
        """Put `meta`, and the context's clock as the time, on the events emitted since the last
        stamp and return them in order. The library dates an event by the wall clock when it is
        made; here the injected clock decides (a seeded history, a test's fake time), and the
        aggregate's created/modified times follow its events."""
        new, now = [], None
        for aggregate in self.touched.values():
            pending = aggregate._pending_events
            for n, event in enumerate(pending):
                if event.meta is None:
                    now = now or self.app.clock.now()
                    pending[n] = event.stamped(meta.as_dict(), now)
                    if event.originator_version == aggregate.INITIAL_VERSION:
                        aggregate._created_on = now
                    aggregate._modified_on = now
                    new.append(pending[n])
        return new


def check_version(aggregate: Aggregate, if_match: int | None) -> None:
    if if_match is not None and aggregate.version != if_match:
        raise StaleVersionError(if_match, aggregate.version)


Policy = Callable[[Unit, object], None]


class Engine:
    def __init__(self, app: Application, policies: Sequence[Policy] = ()):
        self.app, self.policies = app, tuple(policies)
        self.after_commit = AfterCommit()  # the wiring installs the process's shared hooks
        self.committer = Committer(app)
        self.lanes = Lanes(self._decide_and_save)
        self._batch: Unit | None = None
        self._batch_size = 0
        self._saved: set[UUID] | None = None

    @contextmanager
    def batch(self, size: int = 1000, into_empty_store: bool = False) -> Iterator[None]:
        """Bulk loading (the seed): commands run as usual but their aggregates are saved together,
        `size` aggregates per transaction. For a single writer only; a command that fails must
        fail before it emits (as every command here checks first), or the batch is abandoned.
        Into an empty store, an id this batch has not saved is known not to exist, which spares
        a lookup per create. The after-commit hooks run once, at the end."""
        self._saved: set[UUID] | None = set() if into_empty_store else None
        self._batch, self._batch_size = self._new_batch_unit(Meta(SYSTEM)), size
        try:
            with self.after_commit.held():
                yield
                self._flush()
        finally:
            self._batch = None

    def _new_batch_unit(self, meta: Meta) -> Unit:
        unit = Unit(self.app, meta)
        if self._saved is not None:
            unit.known_new = lambda aggregate_id: aggregate_id not in self._saved
        return unit

    def _flush(self) -> None:
        if self._batch is not None and self._batch.aggregates:
            self.app.save(*self._batch.aggregates.values())
            if self._saved is not None:
                self._saved.update(self._batch.aggregates)
            self._batch = self._new_batch_unit(self._batch.meta)

    def _execute_in_batch(self, meta: Meta, command: Callable[[Unit], T]) -> Outcome[T]:
        unit = self._batch
        unit.meta, unit.touched = meta, {}
        try:
            value = command(unit)
        except DomainError:
            if unit.stamp(meta):
                raise RuntimeError("a command failed after emitting events; the batch cannot continue") from None
            raise
        events = self._react(unit, unit.stamp(meta))
        if len(unit.aggregates) >= self._batch_size:
            self._flush()
        return Outcome(value, None, events)

    def peek(self, aggregate_id: UUID, kind: type[A]) -> A:
        """Some version of the aggregate, for reading what never changes (what names a command's
        lane): the bulk batch's unsaved one or the cached one when there (no round trip), else the
        stored one."""
        if self._batch is not None and aggregate_id in self._batch.aggregates:
            return self._batch.get(aggregate_id, kind)
        cache = self.app.repository.cache
        if cache is not None:
            try:
                cached = cache.get(aggregate_id)
            except KeyError:
                cached = None
            if isinstance(cached, kind):
                return cached
        return load(self.app, aggregate_id, kind)

    def execute(self, meta: Meta, command: Callable[[Unit], T], key: UUID | None = None) -> Outcome[T]:
        """Run `command`, save what it emitted, then run the after-commit hooks. Commands with the
        same `key` (the aggregate they contend on, e.g. the demand of a claim) take turns in its
        lane and are decided and saved together (lanes.py); the others are decided alone."""
        if self._batch is not None:
            return self._execute_in_batch(meta, command)
        if key is None:
            job = Job((meta, command))
            self._decide_and_save([job])
            outcome = job.answer()
        else:
            outcome = self.lanes.submit(key, (meta, command))
        self.after_commit.run()
        return outcome

    def _decide_and_save(self, jobs: list[Job]) -> None:
        """Decide the commands in order on one fresh unit and save what they emitted in one
        transaction; when another process wrote first, decide them all again on fresh state."""
        for attempt in range(MAX_ATTEMPTS):
            unit = self._decide(jobs)
            emitted = [job for job in jobs if job.error is None and job.result.events]
            if not emitted:
                return
            try:
                recordings = self.committer.save(unit.aggregates.values())
            except IntegrityError:
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2 ** attempt)))
                continue
            positions = {id(r.domain_event): r.notification.id for r in recordings}
            for job in emitted:
                job.result.position = max(positions[id(event)] for event in job.result.events)
            return
        for job in jobs:
            if job.error is None:
                job.result, job.error = None, ConcurrencyError("the record kept changing; try again")

    def _decide(self, jobs: list[Job]) -> Unit:
        """Each command's outcome or error, decided on the state its predecessors left. A command
        that refuses before emitting (as commands here check first) affects nobody; one that fails
        after emitting, or whose policies fail, leaves the unit half-changed, so the others are
        decided again without it."""
        failed: set[int] = set()
        while True:
            unit = Unit(self.app, jobs[0].run[0])
            for job in jobs:
                if id(job) in failed:
                    continue
                meta, command = job.run
                unit.meta, unit.touched = meta, {}
                job.result, job.error = None, None
                try:
                    value = command(unit)
                except Exception as error:  # noqa: BLE001 - this command's own answer
                    job.error = error
                    if not unit.stamp(meta):
                        continue
                    failed.add(id(job))
                    break
                try:
                    job.result = Outcome(value, None, self._react(unit, unit.stamp(meta)))
                except Exception as error:  # noqa: BLE001 - this command's own answer
                    job.error = error
                    failed.add(id(job))
                    break
            else:
                return unit

    def _react(self, unit: Unit, events: list) -> list:
        """Run the policies on each new event, in order, until nothing more happens."""
        done = 0
        while done < len(events):
            if done >= MAX_POLICY_STEPS:
                raise RuntimeError("policies did not settle")
            event = events[done]
            for policy in self.policies:
                policy(unit, event)
                events.extend(unit.stamp(unit.meta.caused_by(event_id(event))))
            done += 1
        return events
