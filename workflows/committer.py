"""Group commit: commands of one context that finish deciding together share one transaction.

The library's PostgreSQL recorder locks a context's events table for every insert, so with one
transaction per command every writer of a context queues behind one commit (one fsync) at a
time (DESIGN §2, Throughput). Here the first command to arrive while no write is under way
writes everything queued since the previous commit in one transaction; the others wait for it,
and each still gets its own recordings or its own error.

A group fails as a whole when one of its commands lost an optimistic-concurrency race (another
process wrote that aggregate first); the group is then written again one command at a time, so
only the loser sees `IntegrityError` and retries. Two queued commands that touched the same
aggregate cannot both win: the later one is written on its own after the group.
"""
import threading
from collections.abc import Iterable

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording


class _Entry:
    """One command's collected events, and what writing them came to."""

    def __init__(self, aggregates: Iterable[Aggregate]):
        self.processing = ProcessingEvent()
        self.processing.collect_events(*aggregates)
        self.ids = {event.originator_id for event in self.processing.events}  # written, not just read
        self.recordings: list[Recording] | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.recordings is not None or self.error is not None

    def result(self) -> list[Recording]:
        if self.error is not None:
            raise self.error
        return self.recordings


class Committer:
    def __init__(self, app: Application):
        self.app = app
        self._cond = threading.Condition()
        self._queue: list[_Entry] = []
        self._writing = False

    def save(self, aggregates: Iterable[Aggregate]) -> list[Recording]:
        """Store the aggregates' pending events, with whatever else is waiting; our recordings."""
        entry = _Entry(aggregates)
        with self._cond:
            self._queue.append(entry)
            while self._writing and not entry.done:
                self._cond.wait()
            if entry.done:
                return entry.result()
            self._writing = True
            queued, self._queue = self._queue, []
        try:
            self._write_all(queued)
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
        return entry.result()

    def _write_all(self, queued: list[_Entry]) -> None:
        group, later, touched = [], [], set()
        for entry in queued:
            (later if entry.ids & touched else group).append(entry)
            touched |= entry.ids
        if len(group) == 1:
            self._write_one(group[0])
        else:
            self._write_group(group)
        for entry in later:
            self._write_one(entry)

    def _write_group(self, group: list[_Entry]) -> None:
        combined = ProcessingEvent()
        for entry in group:
            combined.events += entry.processing.events
            combined.aggregates.update(entry.processing.aggregates)
        try:
            recordings = self._record(combined)
        except IntegrityError:
            for entry in group:
                self._write_one(entry)
            return
        except Exception as error:  # noqa: BLE001 - every command of the group gets the failure
            for entry in group:
                entry.error = error
            return
        start = 0
        for entry in group:
            entry.recordings = recordings[start:start + len(entry.processing.events)]
            start += len(entry.processing.events)

    def _write_one(self, entry: _Entry) -> None:
        try:
            entry.recordings = self._record(entry.processing)
        except Exception as error:  # noqa: BLE001 - raised again in the command's own thread
            entry.error = error

    def _record(self, processing: ProcessingEvent) -> list[Recording]:
        """What `Application.save` does after collecting events."""
        recordings = self.app._record(processing)
        self.app._take_snapshots(processing)
        self.app._notify(recordings)
        return recordings
