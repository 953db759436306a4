"""Commands on one aggregate take turns in its lane and are decided together (workflows/lanes.py):
each still gets its own answer, a refusal affects nobody else in the batch, and a lane is bounded
in length and in waiting time."""
import threading
import time
from datetime import timedelta
from uuid import uuid4

import pytest

from domain.actors import Actor, Role
from domain.claim import Claim
from domain.demand import Demand
from domain.errors import DuplicateClaimError, ValidationError
from tests.support import START
from tests.unit.test_aggregate_cache import ADMIN, ORG
from workflows.clock import FakeClock
from workflows.demands import Demands
from workflows.engine import Meta, load
from domain.errors import OverloadedError
from workflows.lanes import Job, Lanes


@pytest.fixture
def demands(tmp_path):
    app = Demands(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "d.sqlite"),
                       "AGGREGATE_CACHE_MAXSIZE": "100"}, clock=FakeClock(START))
    yield app
    app.close()


def open_demand(app: Demands, needed: int) -> Demand:
    demand_id = uuid4()
    app.post_demand(Meta(ORG), demand_id, "org-east", title="社区助老", description="", category="助老服务",
                    grid_id="grid-1", needed=needed, claim_deadline=START + timedelta(days=1),
                    starts_at=START + timedelta(days=2), ends_at=START + timedelta(days=2, hours=3),
                    auto_confirm=True)
    app.act_on_demand(Meta(ORG), demand_id, "submit")
    app.act_on_demand(Meta(ADMIN), demand_id, "approve")
    return load(app, demand_id, Demand)


def claim_job(app: Demands, demand: Demand, member: str, headcount: int = 1) -> Job:
    """The job `make_claim` would queue in the demand's lane."""
    captured = {}
    app.engine.lanes.submit = lambda key, run: captured.setdefault("run", run)
    app.make_claim(Meta(Actor(member, Role.MEMBER)), uuid4(), demand.id, headcount, fresh=True)
    del app.engine.lanes.submit
    return Job(captured["run"])


def test_a_batch_seats_in_order_and_each_refusal_stays_with_its_own_command(demands):
    demand = open_demand(demands, needed=2)
    jobs = [claim_job(demands, demand, "张三"), claim_job(demands, demand, "张三"),
            claim_job(demands, demand, "李四", headcount=0), claim_job(demands, demand, "李四"),
            claim_job(demands, demand, "王五")]
    before = demands.recorder.max_notification_id()

    demands.engine._decide_and_save(jobs)

    assert [type(job.error) for job in jobs] == [type(None), DuplicateClaimError, ValidationError,
                                                   type(None), type(None)]
    assert [job.result.value.status for job in (jobs[0], jobs[3], jobs[4])] == ["confirmed", "confirmed",
                                                                                "waitlisted"]
    stored = load(demands, demand.id, Demand)
    assert (stored.status, stored.confirmed, stored.waitlist) == ("filled", 2, [str(jobs[4].result.value.id)])
    positions = [job.result.position for job in (jobs[0], jobs[3], jobs[4])]
    assert all(before < p <= demands.recorder.max_notification_id() for p in positions)


def test_a_command_that_fails_after_emitting_is_left_out_and_the_others_decided_again(demands):
    demand = open_demand(demands, needed=5)
    first, last = claim_job(demands, demand, "张三"), claim_job(demands, demand, "王五")

    def emits_then_fails(unit):
        unit.get(demand.id, Demand).note_claim("bogus", "member:赵六", 1, "confirmed")
        raise RuntimeError("a bug after emitting")

    failing = Job((Meta(Actor("赵六", Role.MEMBER)), emits_then_fails))
    demands.engine._decide_and_save([first, failing, last])

    assert isinstance(failing.error, RuntimeError)
    stored = load(demands, demand.id, Demand)
    assert set(stored.claims) == {str(first.result.value.id), str(last.result.value.id)}
    assert isinstance(load(demands, last.result.value.id, Claim), Claim)


def test_many_threads_claiming_one_demand_in_one_process_never_race_each_other(demands):
    demand = open_demand(demands, needed=10)
    decided = []
    batches = demands.engine.lanes.decide_and_save

    def counting(jobs):
        decided.append(len(jobs))
        batches(jobs)

    demands.engine.lanes.decide_and_save = counting
    answers, lock = [], threading.Lock()

    def claim(n: int) -> None:
        outcome = demands.make_claim(Meta(Actor(f"member-{n}", Role.MEMBER)), uuid4(), demand.id, fresh=True)
        with lock:
            answers.append(outcome.value.status)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(answers) == ["confirmed"] * 10 + ["waitlisted"] * 20
    assert sum(decided) == 30  # every command decided exactly once: no lost race, no retry


def slow_lane(seconds: float, **bounds) -> tuple[Lanes, threading.Event]:
    release = threading.Event()

    def decide_and_save(jobs):
        release.wait(seconds)
        for job in jobs:
            job.result = job.run

    return Lanes(decide_and_save, **bounds), release


def test_a_full_lane_refuses_at_once():
    lanes, release = slow_lane(5, max_queued=2, max_wait=5)
    answers = []
    threads = [threading.Thread(target=lambda n=n: answers.append(lanes.submit("demand", n))) for n in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.1)

    with pytest.raises(OverloadedError):
        lanes.submit("demand", "one too many")
    release.set()
    for t in threads:
        t.join(timeout=10)
    assert sorted(answers) == [0, 1, 2]


def test_a_command_that_waits_past_the_limit_is_refused_and_never_runs():
    lanes, release = slow_lane(2, max_wait=0.2)
    leader = threading.Thread(target=lanes.submit, args=("demand", "first"))
    leader.start()
    time.sleep(0.05)

    with pytest.raises(OverloadedError):
        lanes.submit("demand", "late")
    release.set()
    leader.join(timeout=10)
    assert lanes.submit("demand", "after") == "after"  # the lane is free again

