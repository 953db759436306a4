"""The promised-time clock (承诺时限) of service requests, on the injectable clock.

Working time runs Monday to Friday, whole local days in UTC+8, no holidays (domain/sla.py). The
clock starts at acceptance with a budget of the item's promised_days in working days, stands
still while the request awaits the applicant, keeps running through a transfer (转办), and stops
at resolution. Warning at 75 %, breach (督办) at 100 %, each emitted once by the timers.

The table below is worked by hand; every time is local (+08:00). June 2026: Mon 1, Fri 5,
Sat 6, Sun 7, Mon 8, Tue 9, Wed 10, Thu 11, Fri 12, Sat 13, Sun 14, Mon 15, Tue 16, Wed 17.
Each case is driven over HTTP with the clock set before each action; at the reading instant the
timers run (as the server's loop would), then the handling department's queue and the request
itself are read: both must show the due time, the working time left (negative when overdue) and
the SLA state of the table.
"""
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain import sla
from domain.city import CITY_TZ
from domain.service_request import ServiceRequest
from tests.support import Api, Party

HOUR = 3600


def local(text: str) -> datetime:
    """'2026-06-05 15:00' in the city's time."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CITY_TZ)


@dataclass(frozen=True)
class Case:
    promised_days: int
    # (local time, action); action: accept (and start), await, respond, transfer, resolve
    steps: list[tuple[str, str]]
    read: str  # local time at which the timers run and the queue is read
    due_at: str | None  # ISO 8601 with +08:00
    remaining: float | None  # working seconds left; negative when overdue
    state: str
    note: str = field(default="", compare=False)


TABLE = {
    "friday-15h-one-day-is-due-monday-15h-read-monday-8h": Case(
        1, [("2026-06-05 15:00", "accept")], "2026-06-08 08:00",
        "2026-06-08T15:00:00+08:00", 7 * HOUR, "on_time",
        "Fri 15-24 is 9 h, the weekend stands still, Mon 0-15 the other 15 h; "
        "at Mon 08:00 17 h used, 7 h left"),
    "friday-15h-one-day-warns-at-exactly-75-percent-monday-9h": Case(
        1, [("2026-06-05 15:00", "accept")], "2026-06-08 09:00",
        "2026-06-08T15:00:00+08:00", 6 * HOUR, "warning",
        "9 h on Friday + 9 h on Monday = 18 h = 75 % of 24 h"),
    "saturday-10h-one-day-is-due-tuesday-0h": Case(
        1, [("2026-06-06 10:00", "accept")], "2026-06-08 12:00",
        "2026-06-09T00:00:00+08:00", 12 * HOUR, "on_time",
        "accepted on a Saturday, the clock starts Monday 00:00 and runs the whole of Monday"),
    "friday-23h-one-day-read-on-saturday": Case(
        1, [("2026-06-05 23:00", "accept")], "2026-06-06 12:00",
        "2026-06-08T23:00:00+08:00", 23 * HOUR, "on_time",
        "1 h on Friday, 23 h on Monday; on Saturday all 23 h are still to come"),
    "friday-15h-two-days-read-on-sunday-evening": Case(
        2, [("2026-06-05 15:00", "accept")], "2026-06-07 20:00",
        "2026-06-09T15:00:00+08:00", 39 * HOUR, "on_time",
        "9 h Fri + 24 h Mon + 15 h Tue; Sunday counts nothing, so Monday and Tuesday's 39 h are left"),
    "two-days-from-monday-9h-read-thursday-10h-is-breached": Case(
        2, [("2026-06-08 09:00", "accept")], "2026-06-11 10:00",
        "2026-06-10T09:00:00+08:00", -25 * HOUR, "breached",
        "due Wed 09:00; Wed 09-24 is 15 h and Thu 0-10 another 10 h overdue"),
    "overdue-across-a-weekend-counts-only-working-time": Case(
        1, [("2026-06-11 10:00", "accept")], "2026-06-15 10:00",
        "2026-06-12T10:00:00+08:00", -24 * HOUR, "breached",
        "due Fri 10:00; overdue Fri 10-24 (14 h) and Mon 0-10 (10 h), the weekend not at all"),
    "paused-wednesday-10h-to-thursday-10h-shifts-due-by-one-working-day": Case(
        3, [("2026-06-08 10:00", "accept"), ("2026-06-10 10:00", "await"), ("2026-06-11 10:00", "respond")],
        "2026-06-11 12:00", "2026-06-12T10:00:00+08:00", 22 * HOUR, "on_time",
        "2 days used by the pause, 1 day left from Thu 10:00: Fri 10:00 instead of Thu 10:00"),
    "paused-over-a-weekend": Case(
        2, [("2026-06-11 10:00", "accept"), ("2026-06-12 10:00", "await"), ("2026-06-15 10:00", "respond")],
        "2026-06-15 12:00", "2026-06-16T10:00:00+08:00", 22 * HOUR, "on_time",
        "1 day used Thu 10 to Fri 10; the pause covers Fri 10-24 and Mon 0-10 (24 working hours); "
        "1 day left"),
    "paused-at-the-reading-instant-has-no-due-time": Case(
        5, [("2026-06-08 09:00", "accept"), ("2026-06-09 15:00", "await")], "2026-06-11 10:00",
        None, 5 * 24 * HOUR - 30 * HOUR, "paused",
        "30 h used before the pause (Mon 9-24, Tue 0-15); the rest of the budget waits"),
    "paused-before-it-fell-due-is-breached-later": Case(
        1, [("2026-06-08 09:00", "accept"), ("2026-06-08 15:00", "await"), ("2026-06-10 09:00", "respond")],
        "2026-06-11 09:00", "2026-06-11T03:00:00+08:00", -6 * HOUR, "breached",
        "6 h used, 18 h left from Wed 09:00: due Thu 03:00, 6 h overdue at Thu 09:00"),
    "two-pauses": Case(
        2, [("2026-06-08 09:00", "accept"), ("2026-06-08 12:00", "await"), ("2026-06-08 18:00", "respond"),
            ("2026-06-09 10:00", "await"), ("2026-06-10 10:00", "respond")],
        "2026-06-10 12:00", "2026-06-11T15:00:00+08:00", 27 * HOUR, "on_time",
        "3 h + 16 h used; 29 h left from Wed 10:00: Wed 14 h, Thu 15 h"),
    "a-transfer-keeps-the-due-time": Case(
        2, [("2026-06-08 10:00", "accept"), ("2026-06-09 11:00", "transfer")], "2026-06-09 15:00",
        "2026-06-10T10:00:00+08:00", 19 * HOUR, "on_time",
        "the new department inherits the clock: due Wed 10:00 as if nothing happened"),
    "a-transferred-request-warns-at-the-new-department": Case(
        4, [("2026-06-08 09:00", "accept"), ("2026-06-10 10:00", "transfer")], "2026-06-11 12:00",
        "2026-06-12T09:00:00+08:00", 21 * HOUR, "warning",
        "75 % of 4 days is 3 days, reached Thu 09:00; at Thu 12:00 21 h are left"),
    "a-transfer-and-a-week-long-pause": Case(
        3, [("2026-06-09 09:00", "accept"), ("2026-06-09 13:00", "transfer"), ("2026-06-10 09:00", "await"),
            ("2026-06-15 09:00", "respond")], "2026-06-15 10:00",
        "2026-06-17T09:00:00+08:00", 47 * HOUR, "on_time",
        "24 h used before the pause; 48 h left from Mon 09:00"),
    "resolved-stops-the-clock": Case(
        1, [("2026-06-08 10:00", "accept"), ("2026-06-08 16:00", "resolve")], "2026-06-10 10:00",
        None, None, "stopped", "resolved within the day; nothing is due any more"),
}
assert len(TABLE) >= 8


class Desk:
    """A handling department (which may change by transfer), an applicant and one request."""

    def __init__(self, api: Api, promised_days: int):
        self.api = api
        self.handler, self.other = api.department("市人社局"), api.department("市税务局")
        self.applicant = api.org()
        _, self.request = api.service_request_in("submitted", handler=self.handler, applicant=self.applicant,
                                                 promised_days=promised_days)

    def act(self, trigger: str, by: Party, body: dict | None = None) -> dict:
        self.request = self.api.act("service-requests", self.request["id"], trigger, by, body)
        return self.request

    def step(self, action: str) -> None:
        if action == "accept":
            self.act("accept", self.handler)
            self.act("start", self.handler)
        elif action == "await":
            self.act("await_applicant", self.handler, {"reason": "请补充近三个月社保缴费凭证"})
        elif action == "respond":
            self.act("respond", self.applicant)
        elif action == "transfer":
            self.act("transfer", self.handler, {"department_id": self.other.id, "reason": "属税务部门职责"})
            self.handler, self.other = self.other, self.handler
        elif action == "resolve":
            self.act("resolve", self.handler, {"outcome": "approved"})
        else:
            raise AssertionError(action)

    def queued(self) -> dict:
        queue = self.api.ok(self.api.get(f"/departments/{self.handler.id}/queue", self.handler))
        found = [r for r in queue["items"] if r["id"] == self.request["id"]]
        assert len(found) == 1, queue
        return found[0]

    def seen(self) -> dict:
        return self.api.ok(self.api.get(f"/service-requests/{self.request['id']}", self.handler))


def standing(row: dict) -> tuple:
    return row["due_at"], row["remaining_seconds"], row["sla"]


@pytest.mark.parametrize("case", TABLE.values(), ids=TABLE.keys())
def test_the_queue_shows_the_hand_worked_due_time_remaining_time_and_sla_state(api, case: Case):
    desk = Desk(api, case.promised_days)
    for when, action in case.steps:
        api.clock.set(local(when))
        desk.step(action)
    api.clock.set(local(case.read))
    api.tick()

    remaining = None if case.remaining is None else pytest.approx(case.remaining)
    expected = (case.due_at, remaining, case.state)
    queued, seen = desk.queued(), desk.seen()
    assert standing(queued) == expected, case.note
    assert standing(seen) == expected, case.note
    for row in (queued, seen):
        assert row["overdue"] is (case.remaining is not None and case.remaining < 0)
        assert (row["sla_warned"], row["sla_breached"]) == (case.state in ("warning", "breached"),
                                                            case.state == "breached")
    assert (queued["promised_days"], seen["promised_days"]) == (case.promised_days, case.promised_days)


def test_the_queue_shows_every_open_request_of_the_department_with_its_own_clock(api):
    dept, applicant = api.department(), api.org()
    api.clock.set(local("2026-06-08 09:00"))
    _, submitted = api.service_request_in("submitted", handler=dept, applicant=applicant, promised_days=1)
    _, running = api.service_request_in("in_progress", handler=dept, applicant=applicant, promised_days=1)
    _, paused = api.service_request_in("awaiting_applicant", handler=dept, applicant=applicant,
                                       promised_days=2)
    _, done = api.service_request_in("resolved", handler=dept, applicant=applicant, promised_days=1)
    api.clock.set(local("2026-06-08 21:00"))
    api.tick()

    queue = api.ok(api.get(f"/departments/{dept.id}/queue", dept))
    rows = {r["id"]: r for r in queue["items"]}
    assert queue["total"] == 4
    assert standing(rows[submitted["id"]]) == (None, None, None)
    assert standing(rows[running["id"]]) == ("2026-06-09T09:00:00+08:00", 12 * HOUR, "on_time")
    assert standing(rows[paused["id"]]) == (None, 2 * 24 * HOUR, "paused")
    assert standing(rows[done["id"]]) == (None, None, "stopped")
    only_running = api.ok(api.get(f"/departments/{dept.id}/queue", dept, status="in_progress"))["items"]
    assert [r["id"] for r in only_running] == [running["id"]]


# -- the timers: a warning at 75 %, a breach at 100 %, once each; pause time does not count ---------------

def sla_events(api: Api, request: dict) -> list[str]:
    return [type(e).__name__ for e in api.system.services.events.get(UUID(request["id"]))
            if isinstance(e, ServiceRequest.SlaWarning | ServiceRequest.SlaBreached)]


def at(api: Api, when: str) -> int:
    api.clock.set(local(when))
    return api.tick()


def test_a_running_clock_is_warned_at_75_percent_and_breached_at_100_percent_once_each(api):
    dept = api.department()
    api.clock.set(local("2026-06-08 09:00"))
    _, request = api.service_request_in("in_progress", handler=dept, promised_days=1)

    at(api, "2026-06-09 02:59")
    assert sla_events(api, request) == []
    at(api, "2026-06-09 03:00")  # 18 h of 24
    assert sla_events(api, request) == ["SlaWarning"]
    assert api.ok(api.get(f"/service-requests/{request['id']}", dept))["sla"] == "warning"
    at(api, "2026-06-09 08:59")
    assert sla_events(api, request) == ["SlaWarning"]
    at(api, "2026-06-09 09:00")
    assert sla_events(api, request) == ["SlaWarning", "SlaBreached"]
    for when in ("2026-06-09 09:00", "2026-06-10 09:00", "2026-06-15 09:00"):
        at(api, when)
    assert sla_events(api, request) == ["SlaWarning", "SlaBreached"]

    events = [e for e in api.system.services.events.get(UUID(request["id"]))
              if isinstance(e, ServiceRequest.SlaWarning | ServiceRequest.SlaBreached)]
    assert [(e.meta["actor_id"], e.meta["actor_role"]) for e in events] == [("system", "system")] * 2
    accepted = next(e for e in api.system.services.events.get(UUID(request["id"]))
                    if isinstance(e, ServiceRequest.Accepted))
    assert all(e.meta["causation_id"] == f"{request['id']}:{accepted.originator_version}" for e in events)
    assert [e.used for e in events] == [18 * HOUR, 24 * HOUR]


def test_a_request_long_overdue_is_warned_and_breached_in_one_run_of_the_timers(api):
    dept = api.department()
    api.clock.set(local("2026-06-08 09:00"))
    _, request = api.service_request_in("accepted", handler=dept, promised_days=1)
    at(api, "2026-06-20 12:00")
    assert sla_events(api, request) == ["SlaWarning", "SlaBreached"]
    at(api, "2026-06-21 12:00")
    assert sla_events(api, request) == ["SlaWarning", "SlaBreached"]


def test_time_spent_awaiting_the_applicant_does_not_count_towards_warning_or_breach(api):
    dept = api.department()
    api.clock.set(local("2026-06-08 09:00"))
    applicant = api.org()
    _, request = api.service_request_in("in_progress", handler=dept, applicant=applicant, promised_days=1)
    api.clock.set(local("2026-06-08 10:00"))
    api.act("service-requests", request["id"], "await_applicant", dept, {"reason": "补充材料"})

    at(api, "2026-06-12 09:00")
    assert sla_events(api, request) == [], "a paused clock is neither warned nor breached"
    paused = api.ok(api.get(f"/service-requests/{request['id']}", dept))
    assert (paused["sla"], paused["remaining_seconds"], paused["due_at"]) == ("paused", 23 * HOUR, None)

    api.act("service-requests", request["id"], "respond", applicant)
    resumed = api.ok(api.get(f"/service-requests/{request['id']}", dept))
    # 1 h used; 23 h from Fri 09:00: Fri 15 h, Mon 8 h -> Mon 08:00; warning at 18 h used -> Mon 02:00
    assert (resumed["sla"], resumed["due_at"]) == ("on_time", "2026-06-15T08:00:00+08:00")
    at(api, "2026-06-15 01:59")
    assert sla_events(api, request) == []
    at(api, "2026-06-15 02:00")
    assert sla_events(api, request) == ["SlaWarning"]
    at(api, "2026-06-15 08:00")
    assert sla_events(api, request) == ["SlaWarning", "SlaBreached"]


@pytest.mark.parametrize("state", ["submitted", "returned", "resolved", "closed", "withdrawn",
                                   "not_accepted"])
def test_a_request_whose_clock_is_not_running_is_never_warned_or_breached(api, state):
    dept = api.department()
    api.clock.set(local("2026-06-08 09:00"))
    _, request = api.service_request_in(state, handler=dept, promised_days=1)
    at(api, "2026-06-30 09:00")
    assert sla_events(api, request) == []
    seen = api.ok(api.get(f"/service-requests/{request['id']}", dept))
    assert (seen["sla_warned"], seen["sla_breached"], seen["overdue"]) == (False, False, False)


def test_a_withdrawn_accepted_request_stops_its_clock(api):
    dept, applicant = api.department(), api.org()
    api.clock.set(local("2026-06-08 09:00"))
    _, request = api.service_request_in("in_progress", handler=dept, applicant=applicant, promised_days=1)
    api.clock.set(local("2026-06-08 20:00"))
    withdrawn = api.act("service-requests", request["id"], "withdraw", applicant, {"reason": "已自行解决"})
    assert standing(withdrawn) == (None, None, "stopped")
    at(api, "2026-06-12 09:00")
    assert sla_events(api, request) == []


def test_a_transfer_neither_restarts_the_clock_nor_repeats_a_warning(api):
    first, second = api.department(), api.department()
    api.clock.set(local("2026-06-08 09:00"))
    _, request = api.service_request_in("in_progress", handler=first, promised_days=2)
    at(api, "2026-06-09 21:00")  # 36 h of 48: warned
    assert sla_events(api, request) == ["SlaWarning"]
    api.act("service-requests", request["id"], "transfer", first, {"department_id": second.id})
    at(api, "2026-06-09 22:00")
    assert sla_events(api, request) == ["SlaWarning"]
    row = api.ok(api.get(f"/departments/{second.id}/queue", second))["items"][0]
    assert (row["due_at"], row["sla"], row["remaining_seconds"]) == (
        "2026-06-10T09:00:00+08:00", "warning", 11 * HOUR)
    at(api, "2026-06-10 09:00")
    assert sla_events(api, request) == ["SlaWarning", "SlaBreached"]


def test_a_request_reopened_after_a_breach_is_not_breached_twice(api):
    dept, applicant = api.department(), api.org()
    api.clock.set(local("2026-06-08 09:00"))
    _, request = api.service_request_in("in_progress", handler=dept, applicant=applicant, promised_days=1)
    at(api, "2026-06-10 09:00")
    assert sla_events(api, request) == ["SlaWarning", "SlaBreached"]
    api.act("service-requests", request["id"], "resolve", dept)
    api.act("service-requests", request["id"], "evaluate", applicant, {"rating": 1})
    reopened = api.act("service-requests", request["id"], "reopen", applicant, {"reason": "问题未解决"})
    assert (reopened["status"], reopened["sla"]) == ("in_progress", "breached")
    at(api, "2026-06-12 09:00")
    assert sla_events(api, request) == ["SlaWarning", "SlaBreached"]


def test_a_request_reopened_before_its_warning_runs_on_from_the_time_it_had_used(api):
    dept, applicant = api.department(), api.org()
    api.clock.set(local("2026-06-08 09:00"))
    _, request = api.service_request_in("in_progress", handler=dept, applicant=applicant, promised_days=2)
    api.clock.set(local("2026-06-08 19:00"))  # 10 h used
    api.act("service-requests", request["id"], "resolve", dept)
    api.act("service-requests", request["id"], "evaluate", applicant, {"rating": 2})
    api.clock.set(local("2026-06-11 09:00"))
    reopened = api.act("service-requests", request["id"], "reopen", applicant, {"reason": "问题未解决"})
    # 38 h left from Thu 09:00: Thu 15 h, Fri 23 h -> Fri 23:00; warning at 36 h used (26 h on) -> Fri 11:00
    assert (reopened["due_at"], reopened["sla"]) == ("2026-06-12T23:00:00+08:00", "on_time")
    at(api, "2026-06-12 10:59")
    assert sla_events(api, request) == []
    at(api, "2026-06-12 11:00")
    assert sla_events(api, request) == ["SlaWarning"]


# -- domain.sla directly -------------------------------------------------------------------------------------

def utc(text: str) -> datetime:
    return local(text).astimezone(UTC)


@pytest.mark.parametrize("start,end,hours", [
    ("2026-06-08 09:00", "2026-06-08 17:00", 8),    # within a Monday
    ("2026-06-05 15:00", "2026-06-08 09:00", 18),   # Friday afternoon to Monday morning
    ("2026-06-06 10:00", "2026-06-07 22:00", 0),    # all weekend
    ("2026-06-06 10:00", "2026-06-08 06:00", 6),    # from Saturday
    ("2026-06-05 00:00", "2026-06-13 00:00", 144),  # Friday to the Saturday after next Friday: six weekdays
    ("2026-06-08 17:00", "2026-06-08 09:00", -8),   # backwards is negative
], ids=["same-day", "over-a-weekend", "weekend-only", "from-saturday", "eight-calendar-days", "backwards"])
def test_working_seconds_count_only_monday_to_friday_in_local_time(start, end, hours):
    assert sla.working_seconds(local(start), local(end)) == hours * HOUR
    assert sla.working_seconds(utc(start), utc(end)) == hours * HOUR, "the instant matters, not its offset"


@pytest.mark.parametrize("start,hours,expected", [
    ("2026-06-05 15:00", 24, "2026-06-08 15:00"),
    ("2026-06-06 10:00", 24, "2026-06-09 00:00"),
    ("2026-06-06 10:00", 0, "2026-06-08 00:00"),
    ("2026-06-05 10:00", 14, "2026-06-06 00:00"),
    ("2026-06-05 10:00", 15, "2026-06-08 01:00"),
    ("2026-06-08 09:00", 5 * 24, "2026-06-15 09:00"),
], ids=["friday-one-day", "saturday-one-day", "nothing-from-saturday", "to-the-end-of-friday", "past-friday",
        "five-days-is-a-week"])
def test_adding_working_seconds_skips_weekends_and_answers_in_local_time(start, hours, expected):
    found = sla.add_working_seconds(utc(start), hours * HOUR)
    assert found == local(expected)
    assert found.utcoffset() == timedelta(hours=8)
    assert sla.working_seconds(utc(start), found) == hours * HOUR


def test_thresholds_are_the_warning_and_due_times_of_a_running_clock_and_none_of_a_paused_one():
    assert sla.thresholds(2, 0.0, None) is None
    warning, due = sla.thresholds(2, 0.0, utc("2026-06-05 15:00"))
    assert (warning, due) == (local("2026-06-09 03:00"), local("2026-06-09 15:00"))
    warning, due = sla.thresholds(1, 30 * HOUR, utc("2026-06-10 10:00"))
    assert warning == due == local("2026-06-10 10:00"), "an exhausted budget is due at once"
