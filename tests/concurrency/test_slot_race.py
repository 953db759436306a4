"""Overlapping bookings of one venue raced from separate processes on PostgreSQL.

Acceptance (DESIGN §2 "Concurrency", §3 Venue and VenueBooking): 30 requests for
overlapping slots of one venue, from 6 separate processes, on a venue without approval →
exactly one confirmed, the rest 409 `slot-taken`, no 5xx; and concurrent approvals of 10
overlapping requested bookings → exactly one confirmed. Each race is repeated 5 times.

Every worker is a spawned process with its own system (its own connection pools, its own
FakeClock at START) serving the HTTP API through a TestClient; all wait on one Barrier and
then fire. One pool of 10 workers serves both races (the booking race gives work to 6 of
them), with the parent's org and its 30 members registered once through the HTTP API. The parent checks what the callers were told against what is stored: the
bookings' own event streams, the venue-day schedule, the availability and the read model.
Odd rounds first confirm an unrelated evening booking on the same day, so the race is run
both on a venue-day that does not exist yet (racing creations) and on one that does
(racing appends to one stream).

Workers build their systems one at a time (a startup lock): building several at the same
instant on one schema is a separate, known failure (see the last test here), and the races
below are about bookings, not start-up.

Pools stay small: PostgreSQL allows 100 connections and other suites share the server, so
each worker runs with pool_size=1 (one connection for its event stores and read models alike).
"""
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import psycopg
import pytest

from domain.booking import Booking
from domain.schedule import VenueDay, day_id, free_intervals
from domain.venue import CITY_TZ, Venue
from tests.concurrency.harness import Processes
from tests.support import START, Api, Party, new_system

pytestmark = pytest.mark.postgres

ROUNDS = 5
BOOKING_WORKERS = 6
PER_WORKER = 5
APPROVERS = 10
WORKERS = max(BOOKING_WORKERS, APPROVERS)
WORKER_POOL_SIZE = 1

# (start, end) as local HH:MM; every pair contains 11:00–11:30, so any two overlap
STARTS = ["09:00", "09:30", "10:00", "10:30", "11:00"]
ENDS = ["11:30", "12:00", "12:30", "13:00", "13:30", "14:00"]
SLOTS = [(s, e) for s in STARTS for e in ENDS]  # 30 distinct, pairwise overlapping slots
EVENING = ("18:00", "19:00")  # overlaps none of them


# -- the worker processes ----------------------------------------------------------------------
def _answer(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text}
    return {"status": response.status_code, "content_type": response.headers.get("content-type", ""),
            "body": body}



@contextmanager
def serving(system):
    """A worker serves the API on its own system; per round it POSTs its task's requests
    (tests/concurrency/harness.py)."""
    assert system.clock.now() == START
    with Api.serving(system) as api:
        def run(task: list[tuple[str, dict, dict]]) -> list[dict]:
            answers = []
            for path, body, headers in task:
                try:
                    answers.append(_answer(api.client.post(path, json=body, headers=headers)))
                except Exception:  # noqa: BLE001 - TestClient re-raises server errors: a 500
                    answers.append({"status": 500, "content_type": "", "body": {"raw": traceback.format_exc()}})
            return answers

        yield run


def workers(n: int, pg_url: str, schema: str, start_together: bool = False) -> Processes:
    return Processes(n, pg_url, schema, serving, WORKER_POOL_SIZE, start_together)


def answers_of(workers: Processes, tasks: list) -> list[dict]:
    """Give worker i tasks[i]; all start together; every answer."""
    return [answer for answers in workers.run(tasks) for answer in answers]


# -- helpers in the parent ----------------------------------------------------------------------
def span(starts: str, ends: str) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(starts), datetime.fromisoformat(ends)


def local(day, hhmm: str) -> datetime:
    return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), CITY_TZ)


def slot_body(day, slot: tuple[str, str], attendees: int = 10) -> dict:
    return {"starts_at": local(day, slot[0]).isoformat(), "ends_at": local(day, slot[1]).isoformat(),
            "attendees": attendees, "purpose": "支部主题党日活动"}


def round_day(n: int):
    """A local date a few days after START (START is 17:00 local; notice 2 h, advance 30 days)."""
    return (START.astimezone(CITY_TZ) + timedelta(days=2 + n)).date()


def stored_bookings(system, venue_id: str) -> list[Booking]:
    """Every booking of the venue, from the event store (not the read model)."""
    app = system.venues
    ids = []
    for n in app.recorder.select_notifications(1, 1_000_000):
        e = app.mapper.to_domain_event(n)
        if isinstance(e, Booking.Requested) and e.venue_id == venue_id:
            ids.append(e.originator_id)
    return [app.repository.get(i) for i in ids]


def check_schedule(api: Api, venue: dict, day, held: dict[str, tuple[datetime, datetime]]) -> None:
    """The venue's day holds exactly `held`; availability and the read model agree with it."""
    system = api.system
    venue_id = venue["id"]
    vday = system.venues.repository.get(day_id(venue_id, day))
    assert isinstance(vday, VenueDay)
    assert {b: span(s, e) for b, (s, e) in vday.slots.items()} == held

    stored = stored_bookings(system, venue_id)
    holding = {str(b.id): (b.starts_at, b.ends_at) for b in stored if b.status in ("confirmed", "checked_in")}
    assert holding == held
    spans = sorted(holding.values())
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans

    v = system.venues.repository.get(UUID(venue_id))
    assert isinstance(v, Venue)
    opens, closes = v.window(day)
    expected = [(s.astimezone(CITY_TZ).isoformat(), e.astimezone(CITY_TZ).isoformat())
                for s, e in free_intervals(opens, closes, list(held.values()))]
    free = api.ok(api.get(f"/venues/{venue_id}/availability", date=day.isoformat()))["free"]
    assert [(datetime.fromisoformat(f["starts_at"]), datetime.fromisoformat(f["ends_at"])) for f in free] == \
        [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in expected]

    system.project()
    owner_headers = {"Authorization": venue["_owner_auth"]}
    listed = api.client.get(f"/venues/{venue_id}/bookings", headers=owner_headers,
                            params={"date": day.isoformat(), "page_size": 100})
    assert listed.status_code == 200, listed.text
    rows = listed.json()["items"]
    assert {r["id"] for r in rows if r["status"] in ("confirmed", "checked_in")} == set(held)
    assert {r["id"]: r["status"] for r in rows} == {str(b.id): b.status for b in stored}


def is_slot_taken(answer: dict) -> bool:
    return (answer["status"] == 409 and answer["body"].get("type") == "/problems/slot-taken"
            and answer["content_type"].startswith("application/problem+json"))


def summary(answers: list[dict]) -> str:
    return "; ".join(f"{a['status']} {a['body'].get('type') or a['body'].get('status')}" for a in answers)


@dataclass
class Cluster:
    api: Api  # the parent's own system, serving the HTTP API
    owner: Party  # owns every venue
    members: list[Party]  # 30 requesters, one per request of a round
    early: Party  # books the unrelated evening slot of odd rounds
    workers: Processes


@pytest.fixture(scope="module")
def cluster(pg_url):
    """One schema, one parent and one pool of worker processes for both races (spawning and
    importing in 10 processes costs far more than the races themselves). Like conftest's
    pg_schema, but for the module; dropped afterwards."""
    schema = f"linli_test_{uuid.uuid4().hex[:12]}"
    system = new_system(database_url=pg_url, database_schema=schema, pool_size=2)
    try:
        with Api.serving(system) as api:
            owner = api.org()
            members = [api.member(org=owner) for _ in range(BOOKING_WORKERS * PER_WORKER)]
            early = api.member(org=owner)
            with workers(WORKERS, pg_url, schema) as started:
                yield Cluster(api, owner, members, early, started)
    finally:
        system.shutdown()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def new_venue(api: Api, owner: Party, **overrides) -> dict:
    v = api.venue(owner, **overrides)
    return {**v, "_owner_auth": owner.headers["Authorization"]}


# -- the races ------------------------------------------------------------------------------------
def test_overlapping_requests_from_six_processes_confirm_exactly_one(cluster):
    api, owner, members, early = cluster.api, cluster.owner, cluster.members, cluster.early
    for n in range(ROUNDS):
        day = round_day(n)
        venue = new_venue(api, owner, requires_approval=False, capacity=40)
        held = {}
        if n % 2:  # the venue-day exists already: the race appends to one stream
            pre = api.ok(api.post(f"/venues/{venue['id']}/bookings", slot_body(day, EVENING), early), 201)
            assert pre["status"] == "confirmed"
            held[pre["id"]] = span(pre["starts_at"], pre["ends_at"])

        path = f"/venues/{venue['id']}/bookings"
        tasks = [[(path, slot_body(day, SLOTS[(w * PER_WORKER + k + n) % len(SLOTS)], attendees=1 + k),
                   members[w * PER_WORKER + k].headers) for k in range(PER_WORKER)]
                 for w in range(BOOKING_WORKERS)]
        # six processes post; the pool's other workers pass the barrier with nothing to do
        answers = answers_of(cluster.workers, tasks + [[]] * (WORKERS - BOOKING_WORKERS))

        assert len(answers) == BOOKING_WORKERS * PER_WORKER
        assert not [a for a in answers if a["status"] >= 500], f"round {n}: {summary(answers)}"
        won = [a for a in answers if a["status"] == 201]
        assert len(won) == 1, f"round {n}: {summary(answers)}"
        assert won[0]["body"]["status"] == "confirmed" and won[0]["body"]["venue_id"] == venue["id"]
        lost = [a for a in answers if a["status"] != 201]
        assert all(is_slot_taken(a) for a in lost), f"round {n}: {summary(lost)}"

        winner = won[0]["body"]
        held[winner["id"]] = span(winner["starts_at"], winner["ends_at"])
        check_schedule(api, venue, day, held)
        # a refused request leaves no booking behind
        assert {str(b.id) for b in stored_bookings(api.system, venue["id"])} == set(held)


def test_concurrent_approvals_of_overlapping_requests_confirm_exactly_one(cluster):
    api, owner, early = cluster.api, cluster.owner, cluster.early
    requesters = cluster.members[:APPROVERS]
    for n in range(ROUNDS):
        day = round_day(n)
        venue = new_venue(api, owner, requires_approval=True, capacity=40)
        held = {}
        if n % 2:  # an approved evening booking: the venue-day exists before the race
            pre = api.ok(api.post(f"/venues/{venue['id']}/bookings", slot_body(day, EVENING), early), 201)
            pre = api.act("bookings", pre["id"], "approve", owner)
            assert pre["status"] == "confirmed"
            held[pre["id"]] = span(pre["starts_at"], pre["ends_at"])

        requested = []
        for k, requester in enumerate(requesters):
            body = slot_body(day, SLOTS[(3 * k + n) % len(SLOTS)])
            b = api.ok(api.post(f"/venues/{venue['id']}/bookings", body, requester), 201)
            assert b["status"] == "requested"
            requested.append(b["id"])

        tasks = [[(f"/bookings/{b}/actions/approve", {}, owner.headers)] for b in requested]
        answers = answers_of(cluster.workers, tasks)

        assert not [a for a in answers if a["status"] >= 500], f"round {n}: {summary(answers)}"
        won = [a for a in answers if a["status"] == 200]
        assert len(won) == 1, f"round {n}: {summary(answers)}"
        assert won[0]["body"]["status"] == "confirmed" and won[0]["body"]["id"] in requested
        lost = [a for a in answers if a["status"] != 200]
        assert len(lost) == APPROVERS - 1, f"round {n}: {summary(answers)}"
        assert all(is_slot_taken(a) for a in lost), f"round {n}: {summary(lost)}"

        winner = won[0]["body"]
        held[winner["id"]] = span(winner["starts_at"], winner["ends_at"])
        check_schedule(api, venue, day, held)
        states = {str(b.id): b.status for b in stored_bookings(api.system, venue["id"])}
        assert states == {**{b: "requested" for b in requested}, **{b: "confirmed" for b in held}}
        # the losers were never approved: exactly one Approved event among the raced bookings
        approved = [e for b in requested for e in api.system.venues.events.get(UUID(b))
                    if isinstance(e, Booking.Approved)]
        assert len(approved) == 1 and str(approved[0].originator_id) == winner["id"]


def test_processes_starting_at_the_same_moment_all_come_up(pg_url, pg_schema):
    """Several server / worker processes (uvicorn workers, `linli timers run`, `linli projections
    run`) start together against one database whose tables already exist: each must come up.
    The event store's start-up DDL (CREATE OR REPLACE FUNCTION, run by every process each time)
    must not make one of them die with "tuple concurrently updated"."""
    new_system(database_url=pg_url, database_schema=pg_schema, pool_size=1).shutdown()  # the tables exist
    with workers(BOOKING_WORKERS, pg_url, pg_schema, start_together=True):
        pass
