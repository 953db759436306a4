"""Fires due deadlines as system transitions through the engine.

Deadlines come from a read model that api/ wires in through `DeadlineQuery`. Firing is
idempotent: a second firing (another loop, a retry) finds the state moved on and does
nothing, and the optimistic version check makes two loops racing on one aggregate
produce one event.
"""
from collections.abc import Mapping
from typing import Protocol
from uuid import UUID

from domain.actors import SYSTEM
from workflows.after_commit import AfterCommit
from workflows.clock import Clock
from workflows.engine import Meta


class DeadlineQuery(Protocol):
    def due(self, now, limit: int = 500) -> list[dict]: ...
    def discard(self, aggregate_id: str, kind: str, cause: str) -> None: ...


class Timers:
    def __init__(self, contexts: Mapping[str, object], deadlines: DeadlineQuery, clock: Clock,
                 after_commit: AfterCommit | None = None):
        self.contexts, self.deadlines, self.clock = contexts, deadlines, clock
        self.after_commit = after_commit or AfterCommit()

    def tick(self) -> int:
        """Fire everything due now (the after-commit hooks run once, at the end); returns how many
        deadlines produced events."""
        fired = 0
        with self.after_commit.held():
            for row in self.deadlines.due(self.clock.now()):
                app = self.contexts[row["context"]]
                outcome = app.fire(Meta(SYSTEM, causation_id=row["cause"]), row["kind"], UUID(row["aggregate_id"]))
                if outcome is None or not outcome.events:
                    self.deadlines.discard(row["aggregate_id"], row["kind"], row["cause"])
                else:
                    fired += 1
        return fired
