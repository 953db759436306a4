"""Two timer loops racing on PostgreSQL over the same overdue service requests.

Acceptance (DESIGN §2 "Time", §3 ServiceRequest SLA): two `linli timers run` loops running at
once emit exactly one `SlaWarning` and one `SlaBreached` per overdue request; a request paused in
awaiting_applicant gets none.

Each round the parent files requests through the HTTP API on its own system and accepts them at
Monday 09:00 local time (UTC+8):
- `one_day`: 15 requests promised in 1 working day (warning due Tue 03:00, breach Tue 09:00);
- `two_days`: 10 requests promised in 2 working days (warning Tue 21:00, breach Wed 09:00);
- `paused`: one request of 1 day awaiting the applicant since 10:00 (its clock stands still).
Two spawned processes, each with its own system (own connection pools, own FakeClock), then run
the timers in two phases, all starting together on a Barrier:
1. Tuesday 05:00: only `one_day` is warned (20 h of 24 used; `two_days` has used 20 h of 48);
2. Thursday 12:00: `one_day` is breached, `two_days` is warned and breached in the same run.
Each process runs its timers twice per phase. After every phase the parent reads the services
notification log (the event store, not a read model) and counts per request. The round is
repeated on the following week with fresh requests.

Pools stay small (PostgreSQL allows 100 connections and other suites share the server): the
parent runs with pool_size=2, each process with pool_size=1; processes build their systems one
at a time (see test_slot_race: building several at one instant is a separate, known failure).
"""
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest

from domain.city import CITY_TZ
from domain.service_request import ServiceRequest
from tests.concurrency.harness import Processes
from tests.support import Api, new_system

pytestmark = pytest.mark.postgres

PROCESSES = 2
ROUNDS = 2
ONE_DAY, TWO_DAYS = 15, 10
TICKS_PER_PHASE = 2
WORKER_POOL_SIZE = 1
MONDAY = datetime(2026, 6, 8, 9, 0, tzinfo=CITY_TZ)
# (name, time after the round's Monday 09:00)
PHASES = [("warning", timedelta(hours=20)), ("breach", timedelta(days=3, hours=3))]


# -- the timer processes -----------------------------------------------------------------------------
@contextmanager
def ticking(system):
    """Per phase: set this process's clock, then run the timers (tests/concurrency/harness.py)."""
    def run(when: datetime) -> list[int]:
        system.clock.set(when)
        return [system.timers.tick() for _ in range(TICKS_PER_PHASE)]

    yield run


# -- the parent ------------------------------------------------------------------------------------------
@pytest.fixture
def parent(pg_url, pg_schema):
    system = new_system(database_url=pg_url, database_schema=pg_schema, pool_size=2)
    try:
        with Api.serving(system) as api:
            yield api
    finally:
        system.shutdown()


def sla_events(api: Api) -> dict[str, list]:
    """Every SlaWarning / SlaBreached in the services notification log, by request id."""
    app = api.system.services
    found: dict[str, list] = {}
    for notification in app.recorder.select_notifications(1, 100_000):
        event = app.mapper.to_domain_event(notification)
        if isinstance(event, ServiceRequest.SlaWarning | ServiceRequest.SlaBreached):
            found.setdefault(str(event.originator_id), []).append(event)
    return found


def counts(events: dict[str, list], request_ids: list[str]) -> dict[str, Counter]:
    return {r: Counter(type(e).__name__ for e in events.get(r, [])) for r in request_ids}


def file_accepted(api: Api, item: dict, handler, applicant, n: int) -> list[str]:
    ids = []
    for k in range(n):
        body = {"subject": f"申请{k}", "detail": ""}
        filed = api.ok(api.post(f"/service-items/{item['id']}/requests", body, applicant), 201)
        api.act("service-requests", filed["id"], "accept", handler)
        ids.append(filed["id"])
    return ids


def test_two_timer_loops_at_once_warn_and_breach_each_overdue_request_exactly_once(parent, pg_url, pg_schema):
    api = parent
    dept, applicant = api.department("市人社局"), api.org("福州某科技有限公司")
    one_day_item = api.item(dept, promised_days=1)
    two_day_item = api.item(dept, promised_days=2, title="社保补贴")
    before = sla_events(api)
    assert before == {}

    with Processes(PROCESSES, pg_url, pg_schema, ticking, WORKER_POOL_SIZE) as loops:
        for n in range(ROUNDS):
            monday = MONDAY + timedelta(weeks=n)
            api.clock.set(monday)
            one_day = file_accepted(api, one_day_item, dept, applicant, ONE_DAY)
            two_days = file_accepted(api, two_day_item, dept, applicant, TWO_DAYS)
            paused = file_accepted(api, one_day_item, dept, applicant, 1)[0]
            api.act("service-requests", paused, "start", dept)
            api.clock.set(monday + timedelta(hours=1))
            api.act("service-requests", paused, "await_applicant", dept, {"reason": "请补充材料"})
            ours = [*one_day, *two_days, paused]

            # phase 1: only the one-day requests are past 75 %
            fired = loops.run([monday + PHASES[0][1]] * PROCESSES)
            seen = counts(sla_events(api), ours)
            assert {r: seen[r] for r in one_day} == {r: Counter(SlaWarning=1) for r in one_day}, f"round {n}"
            assert {r: seen[r] for r in [*two_days, paused]} == {r: Counter() for r in [*two_days, paused]}
            assert sum(map(sum, fired)) == ONE_DAY, f"round {n}: each warning fired by one loop only: {fired}"
            assert all(ticks[1:] == [0] * (TICKS_PER_PHASE - 1) for ticks in fired), fired

            # phase 2: every running request is past due; the two-day ones are warned and breached in one run
            fired = loops.run([monday + PHASES[1][1]] * PROCESSES)
            events = sla_events(api)
            seen = counts(events, ours)
            expected = {r: Counter(SlaWarning=1, SlaBreached=1) for r in [*one_day, *two_days]}
            assert {r: seen[r] for r in [*one_day, *two_days]} == expected, f"round {n}"
            assert seen[paused] == Counter(), f"round {n}: a paused request is neither warned nor breached"
            assert sum(map(sum, fired)) == ONE_DAY + 2 * TWO_DAYS, f"round {n}: {fired}"
            for r in [*one_day, *two_days]:
                warning, breach = events[r]
                assert isinstance(warning, ServiceRequest.SlaWarning), events[r]
                assert isinstance(breach, ServiceRequest.SlaBreached), events[r]
                assert warning.originator_version + 1 == breach.originator_version
                assert {e.meta["actor_role"] for e in (warning, breach)} == {"system"}

            # the read models agree, and no SLA deadline is left to fire
            api.system.project()
            queue = api.ok(api.get(f"/departments/{dept.id}/queue", dept, page_size=100, status="accepted"))
            rows = {r["id"]: (r["sla"], r["sla_warned"], r["sla_breached"]) for r in queue["items"]}
            overdue = [*one_day, *two_days]
            assert {r: rows[r] for r in overdue} == {r: ("breached", True, True) for r in overdue}
            waiting = api.ok(api.get(f"/service-requests/{paused}", dept))
            assert (waiting["status"], waiting["sla"], waiting["sla_warned"], waiting["sla_breached"]) == (
                "awaiting_applicant", "paused", False, False)
            left = api.system.db.rows("SELECT aggregate_id, kind FROM deadlines WHERE kind LIKE %s",
                                      ("sla.%",))
            assert left == [], left

    # in all: exactly one warning and one breach per overdue request, none for the paused ones
    final = sla_events(api)
    per_request = Counter(type(e).__name__ for events in final.values() for e in events)
    overdue = ROUNDS * (ONE_DAY + TWO_DAYS)
    assert per_request == Counter(SlaWarning=overdue, SlaBreached=overdue)
