"""Ranges at the boundary, on both backends: datetimes outside 2000–2100, huge numbers and odd
digits in bodies and queries are each a 4xx problem+json that stores nothing; a server error that
still happens is problem+json too and tells the client nothing of the server's insides."""
from datetime import datetime
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.settings import Settings
from domain import bounds
from domain.actors import Actor, Role
from domain.demand import Demand
from domain.errors import ValidationError as RefusedError
from tests.support import BACKENDS, Api, module_api

FAR = "9999-12-31T23:00:00-14:00"  # converting it to UTC overflows
EARLY = "0001-01-01T00:00:00+14:00"
LATE_UTC = "9999-12-31T23:59:00+00:00"  # adding a grace period to it overflows
HUGE = "99999999999999999999"


class World:
    """One of everything, made once per backend."""

    def __init__(self, api: Api):
        self.api = api
        self.org = api.org()
        self.member = api.member(org=self.org)
        self.dept = api.department()
        self.auditor = api.auditor()
        self.draft = api.demand(self.org, "draft")
        self.open = api.demand(self.org, "open")
        self.venue = api.venue(self.org)
        self.booking = api.book(self.venue, self.member)
        self.item = api.item(self.dept)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    with module_api(request, tmp_path_factory, "ranges") as api:
        yield World(api)


def assert_refused(response) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    assert response.json()["status"] == response.status_code


def demand(w: World, **fields):
    return w.api.post("/demands", w.api.demand_body(**fields), w.org)


def blackout(starts_at: str, ends_at: str) -> dict:
    return {"blackouts": [{"starts_at": starts_at, "ends_at": ends_at, "reason": "维修"}]}


DATETIME_CASES = {
    "demand-ending-at-the-end-of-year-9999-west-of-utc": lambda w: demand(w, ends_at=FAR),
    "demand-starting-in-the-last-minute-of-year-9999": lambda w: demand(
        w, claim_deadline="9999-12-31T23:58:00+00:00", starts_at=LATE_UTC, ends_at="9999-12-31T23:59:59+00:00"),
    "demand-claim-deadline-in-year-1": lambda w: demand(w, claim_deadline=EARLY),
    "demand-in-1999": lambda w: demand(w, claim_deadline="1999-12-01T00:00:00+08:00",
                                       starts_at="1999-12-02T00:00:00+08:00", ends_at="1999-12-02T03:00:00+08:00"),
    "revising-a-draft-to-end-in-year-9999": lambda w: w.api.post(
        f"/demands/{w.draft['id']}/actions/revise", {"ends_at": FAR}, w.org),
    "venue-blackout-in-year-9999": lambda w: w.api.post(
        "/venues", w.api.venue_body(**blackout("2026-07-01T00:00:00+08:00", FAR)), w.org),
    "venue-blackout-from-year-1": lambda w: w.api.post(
        "/venues", w.api.venue_body(**blackout(EARLY, "2026-07-01T00:00:00+08:00")), w.org),
    "booking-in-year-9999": lambda w: w.api.post(f"/venues/{w.venue['id']}/bookings", {
        "starts_at": LATE_UTC, "ends_at": "9999-12-31T23:59:30+00:00", "attendees": 1}, w.member),
    "booking-in-year-1": lambda w: w.api.post(f"/venues/{w.venue['id']}/bookings", {
        "starts_at": EARLY, "ends_at": "0001-01-01T01:00:00+14:00", "attendees": 1}, w.member),
    "service-item-valid-to-year-9999": lambda w: w.api.post(
        "/service-items", w.api.item_body(valid_to=FAR), w.dept),
    "service-item-valid-from-year-1": lambda w: w.api.post(
        "/service-items", w.api.item_body(valid_from=EARLY), w.dept),
    "revising-an-item-to-year-9999": lambda w: w.api.post(
        f"/service-items/{w.item['id']}/actions/revise", {"valid_to": FAR}, w.dept),
    "audit-events-since-year-1": lambda w: w.api.get("/audit/events", w.auditor, since=EARLY),
    "audit-events-until-year-9999": lambda w: w.api.get("/audit/events", w.auditor, until=FAR),
    "audit-state-at-year-9999": lambda w: w.api.get(f"/audit/aggregates/{w.open['id']}/state", w.auditor, at=FAR),
    "availability-on-the-last-day-of-year-9999": lambda w: w.api.get(
        f"/venues/{w.venue['id']}/availability", date="9999-12-31"),
    "availability-on-the-first-day-of-year-1": lambda w: w.api.get(
        f"/venues/{w.venue['id']}/availability", date="0001-01-01"),
    "venues-free-on-year-1": lambda w: w.api.get("/venues", free_on="0001-01-01"),
    "bookings-of-a-venue-on-year-1": lambda w: w.api.get(f"/venues/{w.venue['id']}/bookings", w.org,
                                                         date="0001-01-01"),
}


@pytest.mark.parametrize("case", DATETIME_CASES.values(), ids=DATETIME_CASES.keys())
def test_datetimes_outside_2000_to_2100_are_refused_before_anything_is_stored(world, case):
    events = world.api.event_count()

    assert_refused(case(world))

    assert world.api.event_count() == events


def test_the_domain_refuses_such_datetimes_even_when_no_api_checked_them():
    org = Actor("org-1", Role.ORG)
    with pytest.raises(RefusedError, match="2000-01-01 to 2100-01-01"):
        Demand.post(id=uuid4(), by=org, organisation_id=org.id, title="t", description="", category="c",
                    grid_id="g", needed=1, claim_deadline=bounds.EARLIEST, starts_at=bounds.EARLIEST,
                    ends_at=datetime.fromisoformat(FAR), auto_confirm=False)


def test_a_demand_at_the_edges_of_the_window_is_accepted(world):
    accepted = demand(world, claim_deadline="2099-12-30T00:00:00+08:00", starts_at="2099-12-31T09:00:00+08:00",
                      ends_at="2099-12-31T12:00:00+08:00")

    assert accepted.status_code == 201, accepted.text


def test_a_grace_period_longer_than_a_day_is_refused_at_startup():
    with pytest.raises(ValidationError, match="grace_minutes"):
        Settings(grace_minutes=10**9)


NUMBER_CASES = {
    "demands-page": lambda w: w.api.get("/demands", page=HUGE),
    "claims-of-a-demand-page": lambda w: w.api.get(f"/demands/{w.open['id']}/claims", w.org, page=HUGE),
    "venues-page": lambda w: w.api.get("/venues", page=HUGE),
    "service-items-page": lambda w: w.api.get("/service-items", page=HUGE),
    "bookings-page": lambda w: w.api.get("/bookings", w.member, page=HUGE),
    "bookings-of-a-venue-page": lambda w: w.api.get(f"/venues/{w.venue['id']}/bookings", w.org, page=HUGE),
    "department-queue-page": lambda w: w.api.get(f"/departments/{w.dept.id}/queue", w.dept, page=HUGE),
    "venues-capacity": lambda w: w.api.get("/venues", capacity=HUGE),
    "audit-events-after": lambda w: w.api.get("/audit/events", w.auditor, after=HUGE),
    "audit-state-version": lambda w: w.api.get(f"/audit/aggregates/{w.open['id']}/state", w.auditor, version=HUGE),
    "item-content-version": lambda w: w.api.get(f"/service-items/{w.item['id']}/versions/{HUGE}"),
    "min-position-superscript-two": lambda w: w.api.get("/stats", min_position="demands:²"),
    "min-position-arabic-indic-three": lambda w: w.api.get("/demands", min_position="demands:٣"),
    "min-position-fullwidth-digits": lambda w: w.api.get("/venues", min_position="venues:１２"),
    "min-position-huge": lambda w: w.api.get("/stats", min_position=f"demands:{HUGE}"),
    "min-position-past-the-log": lambda w: w.api.get("/stats", min_position="demands:999999999"),
    "if-match-huge": lambda w: w.api.post(f"/demands/{w.draft['id']}/actions/submit", None, w.org,
                                          headers={"If-Match": f'"{HUGE}"'}),
    "if-match-odd-digits": lambda w: w.api.post(f"/demands/{w.draft['id']}/actions/submit", None, w.org,
                                                headers={"If-Match": '"٣"'.encode()}),
    "booking-attendees-huge": lambda w: w.api.post(f"/venues/{w.venue['id']}/bookings", {
        **w.api.slot(days=4), "attendees": 10**30}, w.member),
    "claim-headcount-huge": lambda w: w.api.post(f"/demands/{w.open['id']}/claims", {"headcount": 10**30}, w.member),
    "action-hours-huge": lambda w: w.api.post(f"/demands/{w.open['id']}/actions/start", {"hours": 10**30}, w.org),
    "action-rating-huge": lambda w: w.api.post(f"/demands/{w.open['id']}/actions/close", {"rating": 10**30}, w.org),
}


@pytest.mark.parametrize("case", NUMBER_CASES.values(), ids=NUMBER_CASES.keys())
def test_huge_numbers_and_odd_digits_are_refused_with_a_problem(world, case):
    events = world.api.event_count()

    assert_refused(case(world))

    assert world.api.event_count() == events


def test_a_server_error_is_a_problem_that_keeps_the_servers_insides_to_itself(world, monkeypatch):
    def broken():
        raise RuntimeError("password=hunter2 at /srv/linli/projections/projector.py line 12")

    monkeypatch.setattr(world.api.system.projector, "heads", broken)
    client = TestClient(world.api.client.app, raise_server_exceptions=False)

    response = client.get("/ready", headers={"X-Request-ID": "probe-1"})

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json() == {"type": "/problems/internal", "title": "Internal server error", "status": 500,
                               "detail": "the server failed on this request; it is logged under this request id",
                               "request_id": "probe-1"}


@pytest.mark.parametrize("given, kept", [
    pytest.param("req-2026.12_01", True, id="short-and-plain"),
    pytest.param("x" * 64, True, id="64-characters"),
    pytest.param("x" * 65, False, id="65-characters"),
    pytest.param("r" * 15_000, False, id="15-kb"),
    pytest.param("a b", False, id="with-a-space"),
    pytest.param("<script>", False, id="markup"),
])
def test_a_request_id_is_kept_only_when_short_and_plain(world, given, kept):
    w = world
    response = w.api.post("/demands", w.api.demand_body(), w.org, headers={"X-Request-ID": given})

    assert response.status_code == 201, response.text
    named = response.headers["x-request-id"]
    assert (named == given) is kept
    history = w.api.ok(w.api.get(f"/audit/aggregates/{response.json()['id']}/history", w.auditor))
    assert history["events"][0]["correlation_id"] == named
