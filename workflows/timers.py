"""Fires due deadlines as system transitions through the engine.

Deadlines come from a read model that api/ wires in through `DeadlineQuery`. Firing is
idempotent: a second firing (another loop, a retry) finds the state moved on and does
nothing, and the optimistic version check makes two loops racing on one aggregate
produce one event.
"""
from collections.abc import Callable, Mapping
from typing import Protocol
from uuid import UUID

from domain.actors import SYSTEM
from workflows.clock import Clock
from workflows.engine import Meta


class DeadlineQuery(Protocol):
    def due(self, now, limit: int = 500) -> list[dict]: ...
    def discard(self, aggregate_id: str, kind: str, cause: str) -> None: ...


class Timers:
    def __init__(self, contexts: Mapping[str, object], deadlines: DeadlineQuery, clock: Clock,
                 after: Callable[[], None] = lambda: None):
        self.contexts, self.deadlines, self.clock, self.after = contexts, deadlines, clock, after

    def tick(self) -> int:
        """Fire everything due now; returns how many deadlines produced events."""
        fired = 0
        for row in self.deadlines.due(self.clock.now()):
            app = self.contexts[row["context"]]
            outcome = app.fire(Meta(SYSTEM, causation_id=row["cause"]), row["kind"], UUID(row["aggregate_id"]))
            if outcome is None or not outcome.events:
                self.deadlines.discard(row["aggregate_id"], row["kind"], row["cause"])
            else:
                fired += 1
        self.after()
        return fired
