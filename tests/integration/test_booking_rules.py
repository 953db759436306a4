"""The rules a booking must keep (DESIGN §3): notice, advance, open hours, blackout, capacity, one day
(by the city's local calendar, UTC+8). Each test breaks exactly one rule and gets 422
`/problems/booking-rule` naming it, with nothing stored; bookings that keep every rule succeed right at
the boundaries.

The tests start at START = 2026-06-01 09:00 UTC, which is 17:00 local time. The venue used unless
stated: open 08:00-21:00, capacity 50, 2 hours' notice, at most 30 days ahead, no blackouts.
"""
from datetime import UTC, datetime, timedelta

import pytest

from domain.city import CITY_TZ
from tests.support import START

NOW_LOCAL = START.astimezone(CITY_TZ)  # 2026-06-01 17:00+08:00


def local(days: int, hhmm: str) -> str:
    """A local (UTC+8) time `days` after the tests' start day."""
    return f"{(NOW_LOCAL + timedelta(days=days)).date().isoformat()}T{hhmm}:00+08:00"


def utc(value: str) -> str:
    """The same instant written with a +00:00 offset."""
    return datetime.fromisoformat(value).astimezone(UTC).isoformat()


BLACKOUT = {"starts_at": local(3, "12:00"), "ends_at": local(3, "14:00"), "reason": "党员大会布场"}

# rule, venue settings, starts_at, ends_at, attendees: each breaks that rule, and keeps the others
# (those checked before it, at least)
BREAKS = [
    pytest.param("notice", {}, local(0, "18:59"), local(0, "20:00"), 10, id="notice-a-minute-short"),
    pytest.param("notice", {"min_notice_hours": 48}, local(2, "16:00"), local(2, "18:00"), 10,
                 id="notice-of-two-days-an-hour-short"),
    pytest.param("advance", {}, local(30, "17:01"), local(30, "18:00"), 10, id="advance-a-minute-too-far"),
    pytest.param("advance", {"max_advance_days": 7}, local(8, "10:00"), local(8, "12:00"), 10,
                 id="advance-a-day-too-far"),
    pytest.param("open-hours", {}, local(3, "07:59"), local(3, "09:00"), 10, id="open-hours-before-opening"),
    pytest.param("open-hours", {}, local(3, "20:00"), local(3, "21:01"), 10, id="open-hours-past-closing"),
    pytest.param("open-hours", {"opens_at": "09:30", "closes_at": "17:45"},
                 local(3, "06:00"), local(3, "07:00"), 10, id="open-hours-wholly-outside"),
    pytest.param("blackout", {"blackouts": [BLACKOUT]}, local(3, "11:00"), local(3, "12:01"), 10,
                 id="blackout-overlapping-its-start"),
    pytest.param("blackout", {"blackouts": [BLACKOUT]}, local(3, "13:59"), local(3, "15:00"), 10,
                 id="blackout-overlapping-its-end"),
    pytest.param("blackout", {"blackouts": [BLACKOUT]}, local(3, "12:30"), local(3, "13:30"), 10,
                 id="blackout-inside-it"),
    pytest.param("blackout", {"blackouts": [BLACKOUT]}, local(3, "10:00"), local(3, "16:00"), 10,
                 id="blackout-around-it"),
    pytest.param("capacity", {}, local(3, "10:00"), local(3, "12:00"), 51, id="capacity-one-over"),
    pytest.param("capacity", {"capacity": 1}, local(3, "10:00"), local(3, "12:00"), 2, id="capacity-of-one"),
    # a booking across local midnight cannot keep the open hours either: one-day is checked first
    pytest.param("one-day", {"opens_at": "00:00", "closes_at": "23:59"},
                 local(3, "23:00"), local(4, "01:00"), 10, id="one-day-across-local-midnight"),
    pytest.param("one-day", {"opens_at": "00:00", "closes_at": "23:59"}, utc(local(3, "23:30")),
                 utc(local(4, "00:30")), 10, id="one-day-across-local-midnight-within-one-utc-day"),
    pytest.param("one-day", {}, local(3, "10:00"), local(4, "10:00"), 10, id="one-day-a-whole-day-long"),
]


@pytest.mark.parametrize(("rule", "settings", "starts_at", "ends_at", "attendees"), BREAKS)
def test_a_booking_that_breaks_one_rule_is_refused_naming_that_rule_and_nothing_is_stored(
        api, rule, settings, starts_at, ends_at, attendees):
    venue = api.venue(api.org(), **settings)
    member = api.member()
    before = api.event_count()
    body = {"starts_at": starts_at, "ends_at": ends_at, "attendees": attendees, "purpose": "主题党日"}
    response = api.post(f"/venues/{venue['id']}/bookings", body, member)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["type"], body["status"], body["rule"]) == ("/problems/booking-rule", 422, rule), body
    assert body["detail"]
    assert api.event_count() == before
    assert api.ok(api.get(f"/venues/{venue['id']}/bookings", member))["total"] == 0
    assert api.ok(api.get("/bookings", member))["total"] == 0
    assert api.ok(api.get("/stats"))["bookings"] == 0


def test_the_rules_hold_for_requests_that_need_approval_too(api):
    venue = api.venue(api.org(), requires_approval=True)
    member = api.member()
    before = api.event_count()
    body = {"starts_at": local(0, "18:00"), "ends_at": local(0, "19:00"), "attendees": 5}
    response = api.post(f"/venues/{venue['id']}/bookings", body, member)
    assert response.status_code == 422 and response.json()["rule"] == "notice", response.text
    assert api.event_count() == before


def test_every_rule_is_tried():
    rules = {"notice", "advance", "open-hours", "blackout", "capacity", "one-day"}
    assert {p.values[0] for p in BREAKS} == rules


# settings, starts_at, ends_at, attendees: right on the edge of the rules, and accepted
KEEPS = [
    pytest.param({}, local(0, "19:00"), local(0, "21:00"), 10, id="exactly-at-the-notice-until-closing"),
    pytest.param({"min_notice_hours": 0}, local(0, "17:00"), local(0, "18:00"), 10,
                 id="starting-now-with-no-notice"),
    pytest.param({}, local(3, "08:00"), local(3, "21:00"), 10, id="exactly-from-opening-to-closing"),
    pytest.param({}, local(30, "17:00"), local(30, "18:00"), 10, id="exactly-the-most-days-ahead"),
    pytest.param({"blackouts": [BLACKOUT]}, local(3, "10:00"), local(3, "12:00"), 10,
                 id="ending-exactly-when-a-blackout-starts"),
    pytest.param({"blackouts": [BLACKOUT]}, local(3, "14:00"), local(3, "16:00"), 10,
                 id="starting-exactly-when-a-blackout-ends"),
    pytest.param({}, local(3, "10:00"), local(3, "12:00"), 50, id="exactly-at-capacity"),
    pytest.param({"opens_at": "07:00"}, utc(local(3, "07:00")), utc(local(3, "09:00")), 10,
                 id="across-utc-midnight-within-one-local-day"),
]


@pytest.mark.parametrize(("settings", "starts_at", "ends_at", "attendees"), KEEPS)
def test_a_booking_that_keeps_every_rule_succeeds_at_the_boundary(
        api, settings, starts_at, ends_at, attendees):
    venue = api.venue(api.org(), **settings)
    member = api.member()
    booking = api.book(venue, member, attendees=attendees, starts_at=starts_at, ends_at=ends_at)
    assert (booking["status"], booking["attendees"], booking["venue_id"]) == (
        "confirmed", attendees, venue["id"])
    stored = api.ok(api.get(f"/venues/{venue['id']}/bookings", member))["items"]
    assert [b["id"] for b in stored] == [booking["id"]]
    assert api.ok(api.get("/stats"))["bookings"] == 1
    # the slot is taken out of the venue's local day
    starts, ends = datetime.fromisoformat(starts_at), datetime.fromisoformat(ends_at)
    day = starts.astimezone(CITY_TZ).date().isoformat()
    free = api.ok(api.get(f"/venues/{venue['id']}/availability", date=day))["free"]
    for interval in free:
        assert not (datetime.fromisoformat(interval["starts_at"]) < ends and starts < datetime.fromisoformat(
            interval["ends_at"])), (interval, starts_at, ends_at)


INVALID = [
    pytest.param({"starts_at": local(3, "12:00"), "ends_at": local(3, "10:00")},
                 id="ending-before-it-starts"),
    pytest.param({"starts_at": local(3, "10:00"), "ends_at": local(3, "10:00")}, id="ending-as-it-starts"),
    pytest.param({"starts_at": local(3, "10:00")[:-6], "ends_at": local(3, "12:00")[:-6]},
                 id="without-an-offset"),
    pytest.param({"attendees": 0}, id="with-no-attendees"),
    pytest.param({"attendees": "10"}, id="with-attendees-as-text"),
    pytest.param({"starts_at": None}, id="without-a-start"),
]


@pytest.mark.parametrize("change", INVALID)
def test_a_malformed_booking_is_a_validation_error_not_a_broken_rule(api, change):
    venue = api.venue(api.org())
    member = api.member()
    before = api.event_count()
    body = {"starts_at": local(3, "10:00"), "ends_at": local(3, "12:00"), "attendees": 10, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post(f"/venues/{venue['id']}/bookings", body, member)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/validation", response.text
    assert api.event_count() == before
