"""What runs after a command has committed: hooks the wiring installs (api/wiring.py projects
the new events inline there, so every writer gets read-your-writes without asking for it).

Every context's engine runs the same hooks: after each command that commits on its own, once
at the end of a bulk batch, and once for a run of commands `held` together (a timer tick).
`workflows/` only calls them; what they do is the wiring's business (workflows never imports
projections)."""
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class AfterCommit:
    def __init__(self, *hooks: Callable[[], None]):
        self.hooks = list(hooks)
        self._held = threading.local()

    def run(self) -> None:
        if getattr(self._held, "depth", 0) or getattr(self._held, "paused", 0):
            return  # the run that holds them calls them once at its end; a paused one not at all
        for hook in self.hooks:
            hook()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Commands of this thread inside run no hooks: for a bulk load whose caller projects in
        bulk itself (the seed)."""
        self._held.paused = getattr(self._held, "paused", 0) + 1
        try:
            yield
        finally:
            self._held.paused -= 1

    @contextmanager
    def held(self) -> Iterator[None]:
        """Commands of this thread inside run the hooks once, at the end (also when one fails)."""
        self._held.depth = getattr(self._held, "depth", 0) + 1
        try:
            yield
        finally:
            self._held.depth -= 1
            self.run()
