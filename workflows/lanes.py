"""One writer per aggregate in a process: commands on a hot aggregate take turns in its lane.

When everyone claims one demand at once, optimistic concurrency alone turns 32 claimants into
~31 losers that reload and retry (issue 10). Here the first command to reach an idle lane leads:
it takes every command queued behind it (up to `max_batch`) and hands them to `decide_and_save`,
which decides them one after another on the same fresh state and saves them in one transaction,
so they never lose races to each other. The leader then passes the lead to the first command
still waiting, and returns its own answer.

Bounded: a lane holds at most `max_queued` waiting commands, and a command waits at most
`max_wait` seconds for its turn; past either it is refused with `OverloadedError` (503 with
Retry-After), never left hanging. A command already taken into a batch waits for that batch.
"""
import threading
from collections import deque
from collections.abc import Callable, Hashable

from domain.errors import OverloadedError


class Job:
    """One command in a lane, and what deciding it came to."""

    def __init__(self, run: object):
        self.run = run
        self.result: object = None
        self.error: BaseException | None = None
        self.finished = False
        self.leads = False
        self.wake = threading.Event()

    def answer(self):
        if self.error is not None:
            raise self.error
        return self.result


class Lanes:
    def __init__(self, decide_and_save: Callable[[list[Job]], None], max_queued: int = 256,
                 max_wait: float = 5.0, max_batch: int = 64):
        self.decide_and_save = decide_and_save
        self.max_queued, self.max_wait, self.max_batch = max_queued, max_wait, max_batch
        self._lock = threading.Lock()
        self._lanes: dict[Hashable, deque[Job]] = {}  # the commands waiting, per key

    def submit(self, key: Hashable, run: object):
        """Queue `run` in the lane of `key`; its result (or its error) once its batch is saved."""
        job = Job(run)
        with self._lock:
            waiting = self._lanes.get(key)
            if waiting is None:
                waiting = self._lanes[key] = deque()
                job.leads = True
            elif len(waiting) >= self.max_queued:
                raise OverloadedError("too many commands are waiting on this record; try again shortly")
            waiting.append(job)
        if not job.leads:
            self._await_turn(waiting, job)
        if not job.finished:
            self._lead(key, waiting)
        return job.answer()

    def _await_turn(self, waiting: deque[Job], job: Job) -> None:
        if job.wake.wait(self.max_wait):
            return
        with self._lock:
            if not job.leads and job in waiting:
                waiting.remove(job)
                raise OverloadedError("this record is busy; try again shortly")
        job.wake.wait()  # taken into a batch (or handed the lead) just as the wait ran out

    def _lead(self, key: Hashable, waiting: deque[Job]) -> None:
        with self._lock:
            batch = [waiting.popleft() for _ in range(min(self.max_batch, len(waiting)))]
        try:
            self.decide_and_save(batch)
        except BaseException as error:  # noqa: BLE001 - every command of the batch hears of it
            for job in batch:
                if not job.finished:
                    job.error = error
        for job in batch:
            job.finished = True
            job.wake.set()
        with self._lock:
            if waiting:
                following = waiting[0]
                following.leads = True
                following.wake.set()
            else:
                del self._lanes[key]
