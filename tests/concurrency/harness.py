"""What the race tests share: n spawned processes, each with a system of its own (its own pool
and FakeClock), that stay up across rounds. Per round every process gets a task, all wait on
one Barrier, run it, and report back; the parent fails fast when one fails or dies.

A process's work is a `job`: a module-level function (spawn pickles it by name) that takes the
process's system and returns a context manager yielding `run(system, task) -> answer`, so it
can hold what it needs around every round (a served API, say). Systems are built one at a time
under a lock unless `start_together` (building several at one instant is a race of its own).
"""
import multiprocessing
import queue
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from tests.support import system_when_room

TIMEOUT = 180
Job = Callable[[object], AbstractContextManager[Callable[[object], object]]]


def _process(index: int, pg_url: str, schema: str, pool_size: int, job: Job, barrier, startup, tasks,
             results) -> None:
    system = None
    try:
        if startup is None:
            barrier.wait(timeout=TIMEOUT)
            system = system_when_room(pg_url, schema, pool_size)
        else:
            with startup:
                system = system_when_room(pg_url, schema, pool_size)
        with job(system) as run:
            results.put(("ready", index, None))
            while (task := tasks.get()) is not None:
                barrier.wait(timeout=TIMEOUT)
                results.put(("done", index, run(task)))
    except BaseException:  # noqa: BLE001 - report everything to the parent
        results.put(("error", index, traceback.format_exc()))
    finally:
        if system is not None:
            system.shutdown()


class Processes:
    def __init__(self, n: int, pg_url: str, schema: str, job: Job, pool_size: int = 1,
                 start_together: bool = False):
        ctx = multiprocessing.get_context("spawn")
        self.n = n
        self.barrier, self.results = ctx.Barrier(n), ctx.Queue()
        self.startup = None if start_together else ctx.Lock()  # kept: the children unpickle it
        self.tasks = [ctx.Queue() for _ in range(n)]
        self.procs = [ctx.Process(target=_process, daemon=True, args=(
            i, pg_url, schema, pool_size, job, self.barrier, self.startup, self.tasks[i], self.results))
            for i in range(n)]

    def __enter__(self) -> "Processes":
        for p in self.procs:
            p.start()
        assert sorted(self._collect("ready")) == list(range(self.n))
        return self

    def _collect(self, kind: str) -> dict[int, object]:
        found, waited = {}, 0
        while len(found) < self.n:
            try:
                got, index, payload = self.results.get(timeout=1)
            except queue.Empty:
                waited += 1
                dead = [i for i, p in enumerate(self.procs) if p.exitcode is not None and i not in found]
                if dead or waited > TIMEOUT:
                    self.barrier.abort()
                    pytest.fail(f"processes {dead} died / no answer in {waited}s (got {sorted(found)})")
                continue
            if got == "error":
                self.barrier.abort()
                pytest.fail(f"process {index} failed:\n{payload}")
            assert got == kind, (got, index)
            found[index] = payload
        return found

    def run(self, tasks: list) -> list:
        """Process i runs tasks[i]; all start together; each one's answer, in process order."""
        assert len(tasks) == self.n
        for q, task in zip(self.tasks, tasks, strict=True):
            q.put(task)
        done = self._collect("done")
        return [done[i] for i in range(self.n)]

    def __exit__(self, *exc) -> None:
        for q in self.tasks:
            q.put(None)
        for p in self.procs:
            p.join(timeout=30)
        for p in self.procs:
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
