"""Lifecycles as read-only tables held by one `transitions.Machine` each.

The machine is never bound to an aggregate (DESIGN §2): we only look up its transitions.
`decide` answers which state a trigger leads to for an actor's relations to the aggregate
(owner, claimant, admin, system, ...) or raises; `allowed` lists what those relations may fire.
"""
from collections.abc import Iterable
from dataclasses import dataclass

from transitions import Machine

from domain.errors import ForbiddenError, TransitionNotAllowedError


@dataclass(frozen=True)
class Row:
    trigger: str
    sources: tuple[str, ...]
    dest: str | None  # None: stays in the source state
    roles: frozenset[str]


def row(trigger: str, sources: Iterable[str] | str, dest: str | None, roles: Iterable[str]) -> Row:
    sources = (sources,) if isinstance(sources, str) else tuple(sources)
    return Row(trigger, sources, dest, frozenset(roles))


class Lifecycle:
    def __init__(self, name: str, states: list[str], rows: list[Row]):
        self.name, self.states, self.rows = name, states, rows
        self.machine = Machine(
            model=None,
            states=states,
            transitions=[
                {"trigger": r.trigger, "source": list(r.sources), "dest": r.dest if r.dest else "="}
                for r in rows
            ],
            initial=states[0],
            auto_transitions=False,
        )
        self.roles = {r.trigger: r.roles for r in rows}

    def _dest(self, state: str, trigger: str) -> str | None:
        event = self.machine.events.get(trigger)
        if event is None or state not in event.transitions:
            return None
        dest = event.transitions[state][0].dest
        return state if dest is None else dest

    def allowed(self, state: str, relations: set[str]) -> list[str]:
        """Triggers these relations may fire from this state, in table order."""
        return [
            r.trigger
            for r in self.rows
            if state in r.sources and relations & r.roles
        ]

    def decide(self, state: str, trigger: str, relations: set[str]) -> str:
        """The destination state, or ForbiddenError (role) / TransitionNotAllowedError (state)."""
        if trigger not in self.roles:
            raise TransitionNotAllowedError(state, trigger, self.allowed(state, relations))
        if not relations & self.roles[trigger]:
            raise ForbiddenError(f"{trigger} is for {', '.join(sorted(self.roles[trigger]))}")
        dest = self._dest(state, trigger)
        if dest is None:
            raise TransitionNotAllowedError(state, trigger, self.allowed(state, relations))
        return dest

    def describe(self) -> dict:
        return {
            "name": self.name,
            "states": self.states,
            "transitions": [
                {"trigger": r.trigger, "from": list(r.sources), "to": r.dest or "(same)", "roles": sorted(r.roles)}
                for r in self.rows
            ],
            "mermaid": self.mermaid(),
        }

    def mermaid(self) -> str:
        from transitions.extensions import GraphMachine

        graph = GraphMachine(
            model=None,
            states=self.states,
            transitions=[
                {"trigger": r.trigger, "source": list(r.sources), "dest": r.dest or "="} for r in self.rows
            ],
            initial=self.states[0],
            auto_transitions=False,
            graph_engine="mermaid",
            title=self.name,
        )
        # The graph is drawn from the machine itself: no model is ever added (DESIGN §2).
        return graph.graph_cls(graph).get_graph(title=self.name).draw(None)
