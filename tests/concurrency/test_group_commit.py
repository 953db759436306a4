"""Group commit (workflows/committer.py): commands that finish together share one transaction,
and each still gets its own outcome.

The application here keeps its events in memory; the database-backed behaviour is covered by
every race test (test_capacity_race, test_slot_race, ...), whose commands all go through the
committer. What is pinned here is what those cannot show: that a write really carries several
commands, and that a lost race inside a group fails only the command that lost it.
"""
import threading
import time

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from workflows.committer import Committer

WAITERS = 6


class Counter(Aggregate):
    def __init__(self):
        self.count = 0

    @event("Counted")
    def bump(self) -> None:
        self.count += 1


class HeldFirstWrite(Application):
    """The first write waits until `WAITERS` other commands have queued behind it."""

    def __init__(self):
        super().__init__()
        self.writes: list[int] = []  # events per transaction
        self.release = threading.Event()

    def _record(self, processing_event):
        if not self.writes:
            self.release.wait(timeout=10)
        self.writes.append(len(processing_event.events))
        return super()._record(processing_event)


def saved(app: Application) -> Counter:
    counter = Counter()
    app.save(counter)
    return counter


def run_together(committer: Committer, batches: list[list[Aggregate]]) -> list:
    """The first batch's write is held until the others are queued; each thread's result or error."""
    results: list = [None] * len(batches)

    def save(i: int) -> None:
        try:
            results[i] = committer.save(batches[i])
        except Exception as error:  # noqa: BLE001 - the test reads it
            results[i] = error

    first = threading.Thread(target=save, args=(0,))
    first.start()
    while not committer._writing:
        time.sleep(0.001)
    others = [threading.Thread(target=save, args=(i,)) for i in range(1, len(batches))]
    for t in others:
        t.start()
    while len(committer._queue) < len(others):
        time.sleep(0.001)
    committer.app.release.set()
    for t in (first, *others):
        t.join(timeout=10)
    return results


def test_commands_queued_behind_a_write_share_the_next_transaction():
    app = HeldFirstWrite()
    app.release.set()
    counters = [saved(app) for _ in range(WAITERS + 1)]
    app.writes.clear()
    app.release.clear()
    for c in counters:
        c.bump()

    results = run_together(Committer(app), [[c] for c in counters])

    assert app.writes == [1, WAITERS]  # one alone, then everyone who queued meanwhile in one transaction
    for counter, recordings in zip(counters, results, strict=True):
        assert [r.domain_event.originator_id for r in recordings] == [counter.id]
        assert app.repository.get(counter.id).count == 1
    positions = sorted(r.notification.id for rs in results for r in rs)
    assert positions == list(range(positions[0], positions[0] + WAITERS + 1))


def test_a_lost_race_in_a_group_fails_only_the_command_that_lost_it():
    app = HeldFirstWrite()
    app.release.set()
    counters = [saved(app) for _ in range(WAITERS + 1)]
    stale = app.repository.get(counters[3].id)  # another process's command bumps it first
    winner = app.repository.get(counters[3].id)
    winner.bump()
    app.save(winner)
    app.writes.clear()
    app.release.clear()
    for c in counters[:3] + counters[4:]:
        c.bump()
    stale.bump()
    batches = [[c] for c in counters[:3]] + [[stale]] + [[c] for c in counters[4:]]

    results = run_together(Committer(app), batches)

    assert isinstance(results[3], IntegrityError)
    assert app.writes[:2] == [1, WAITERS]  # the group was tried whole, then one by one
    assert [app.repository.get(c.id).count for c in counters] == [1] * len(counters)  # the winner's bump only
    for i, counter in enumerate(counters):
        if i != 3:
            assert results[i][0].domain_event.originator_id == counter.id


def test_two_queued_commands_on_one_aggregate_are_written_apart_and_one_loses():
    app = HeldFirstWrite()
    app.release.set()
    head, target = saved(app), saved(app)
    app.writes.clear()
    app.release.clear()
    head.bump()
    first, second = app.repository.get(target.id), app.repository.get(target.id)
    first.bump()
    second.bump()

    results = run_together(Committer(app), [[head], [first], [second]])

    assert not isinstance(results[1], Exception)
    assert isinstance(results[2], IntegrityError)
    assert app.repository.get(target.id).count == 1


def test_a_failed_group_gives_every_command_in_it_the_failure():
    failure = RuntimeError("database gone")
    app = HeldFirstWrite()
    app.release.set()
    counters = [saved(app) for _ in range(3)]
    app.writes.clear()
    app.release.clear()
    for c in counters:
        c.bump()
    committer = Committer(app)
    original = app._record
    calls = []

    def failing(processing_event):
        calls.append(len(processing_event.events))
        if len(calls) > 1:
            raise failure
        return original(processing_event)

    app._record = failing
    results = run_together(committer, [[c] for c in counters])

    assert not isinstance(results[0], Exception)
    assert results[1] is failure and results[2] is failure
