"""The aggregate cache under concurrent use (issue 10): a copy taken from it, or an object a
reader holds, never changes while another thread brings the cached aggregate up to date.

The race is made deterministic: the cached demand's claim book pauses after its first entry
while a command copies it, and in that pause another thread fast-forwards the same demand.
"""
import threading
from datetime import timedelta
from uuid import uuid4

import pytest

from domain.actors import Actor, Role
from domain.demand import Demand
from tests.support import START
from workflows.clock import FakeClock
from workflows.demands import Demands
from workflows.engine import Meta, load

ORG = Actor("org-east", Role.ORG)
ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture
def two_processes(tmp_path):
    """Two Demands applications on one store, as two API processes are."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "demands.sqlite"),
           "AGGREGATE_CACHE_MAXSIZE": "100", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    apps = [Demands(env=env, clock=FakeClock(START)) for _ in range(2)]
    yield apps
    for app in apps:
        app.close()


def an_open_demand_with_claims(app: Demands, claims: int) -> Demand:
    demand_id = uuid4()
    app.post_demand(Meta(ORG), demand_id, "org-east", title="社区助老", description="", category="助老服务",
                    grid_id="grid-1", needed=100, claim_deadline=START + timedelta(days=1),
                    starts_at=START + timedelta(days=2), ends_at=START + timedelta(days=2, hours=3),
                    auto_confirm=True)
    app.act_on_demand(Meta(ORG), demand_id, "submit")
    app.act_on_demand(Meta(ADMIN), demand_id, "approve")
    for n in range(claims):
        claim_by(app, demand_id, n)
    return load(app, demand_id, Demand)


def claim_by(app: Demands, demand_id, n: int) -> None:
    app.make_claim(Meta(Actor(f"member-{n}", Role.MEMBER)), uuid4(), demand_id)


class PausingClaimBook(dict):
    """A claim book whose iteration stops after its first entry to let `meanwhile` run."""

    meanwhile = None

    def items(self):
        entries = iter(super().items())
        yield next(entries)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        yield from entries


def test_a_commands_copy_survives_another_thread_fast_forwarding_the_same_demand(two_processes):
    here, elsewhere = two_processes
    cached = an_open_demand_with_claims(here, claims=3)
    cached.claims = PausingClaimBook(cached.claims)

    def meanwhile_a_claim_lands_and_another_request_reads_the_demand():
        claim_by(elsewhere, cached.id, 3)  # stored by another process: this one's cache is now behind
        reader = threading.Thread(target=load, args=(here, cached.id, Demand))
        reader.start()
        reader.join(timeout=10)

    cached.claims.meanwhile = meanwhile_a_claim_lands_and_another_request_reads_the_demand
    copy = load(here, cached.id, Demand, to_change=True)

    assert len(copy.claims) == len(cached.claims) == 3
    assert len(load(here, cached.id, Demand).claims) == 4


def test_a_demand_a_reader_holds_does_not_change_when_the_cache_catches_up(two_processes):
    here, elsewhere = two_processes
    held = an_open_demand_with_claims(here, claims=2)
    version, claims = held.version, dict(held.claims)

    claim_by(elsewhere, held.id, 2)
    current = load(here, held.id, Demand)

    assert (held.version, held.claims) == (version, claims)
    assert current.version > version and len(current.claims) == 3
