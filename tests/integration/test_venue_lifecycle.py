"""Venue (场地共享) over HTTP: every transition of domain.venue.LIFECYCLE taken from each allowed source by
each allowed role, refused from every other state (409) and to every caller the table does not name
(403, or 401 without a token); what a venue's day has free; the venue list's filters; and the stats."""
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from domain.city import CITY_TZ
from domain.venue import LIFECYCLE
from tests.support import START, Party, expect_problem

ROWS = {r.trigger: r for r in LIFECYCLE.rows}
STRANGERS = ("other-org", "member-of-owner", "auditor", "dept", "anonymous")
REASONS = {"suspend": {"reason": "消防检查"}, "retire": {"reason": "场地拆迁"}, "resume": {}}


# -- helpers ---------------------------------------------------------------------------------------
def stranger(api, who: str, owner: Party) -> Party:
    if who == "other-org":
        return api.org()
    if who == "member-of-owner":
        return api.member(org=owner)
    if who == "auditor":
        return api.auditor()
    if who == "dept":
        return api.department()
    assert who == "anonymous"
    return Party("anonymous", "anonymous", {})


def day(days: int = 3) -> str:
    """The local (UTC+8) date `days` after the tests' start."""
    return (START.astimezone(CITY_TZ) + timedelta(days=days)).date().isoformat()


def local(days: int, hhmm: str) -> str:
    return f"{day(days)}T{hhmm}:00+08:00"


def slot(days: int, start: str, end: str) -> dict:
    return {"starts_at": local(days, start), "ends_at": local(days, end)}


def free(api, venue: dict, date: str) -> list[tuple[str, str]]:
    body = api.ok(api.get(f"/venues/{venue['id']}/availability", date=date))
    assert (body["venue_id"], body["date"]) == (venue["id"], date)
    return [(f["starts_at"][11:16], f["ends_at"][11:16]) for f in body["free"]]


def listed(api, by: Party | None = None, **filters) -> set[str]:
    body = api.ok(api.get("/venues", by, **filters))
    assert body["total"] == len(body["items"])
    return {v["id"] for v in body["items"]}


def stats(api) -> dict:
    return api.ok(api.get("/stats"))


def last_event_meta(api, venue_id: str) -> dict:
    return list(api.system.venues.repository.event_store.get(UUID(venue_id)))[-1].meta


# -- every allowed transition ------------------------------------------------------------------------
ALLOWED = [pytest.param(r.trigger, source, role, id=f"{r.trigger}-from-{source}-by-{role}")
           for r in LIFECYCLE.rows for source in r.sources for role in sorted(r.roles)]


@pytest.mark.parametrize(("trigger", "source", "role"), ALLOWED)
def test_each_venue_transition_is_taken_from_each_allowed_source_by_each_allowed_role(
        api, trigger, source, role):
    owner = api.org()
    venue = api.venue(owner, source)
    by = owner if role == "owner" else api.admin
    before = api.event_count()
    after = api.act("venues", venue["id"], trigger, by, REASONS[trigger])
    dest = ROWS[trigger].dest
    assert after["status"] == dest
    assert after["version"] == venue["version"] + 1
    assert after["allowed_actions"] == LIFECYCLE.allowed(dest, {role})
    assert after["reason"] == REASONS[trigger].get("reason")
    assert api.event_count() == before + 1
    meta = last_event_meta(api, venue["id"])
    actor = (owner.id, "org") if role == "owner" else ("admin", "admin")
    assert (meta["actor_id"], meta["actor_role"]) == actor
    assert api.ok(api.get(f"/venues/{venue['id']}"))["status"] == dest
    assert listed(api, status=dest) == {venue["id"]}


REFUSED = [pytest.param(r.trigger, state, id=f"{r.trigger}-refused-in-{state}")
           for r in LIFECYCLE.rows for state in LIFECYCLE.states if state not in r.sources]


@pytest.mark.parametrize(("trigger", "state"), REFUSED)
@pytest.mark.parametrize("role", ["owner", "admin"])
def test_each_venue_transition_is_refused_from_every_state_it_does_not_leave(api, trigger, state, role):
    owner = api.org()
    venue = api.venue(owner, state)
    by = owner if role == "owner" else api.admin
    before = api.event_count()
    body = expect_problem(api.post(f"/venues/{venue['id']}/actions/{trigger}", REASONS[trigger], by), 409,
                   "invalid-transition")
    assert body["current_status"] == state
    assert body["allowed_actions"] == LIFECYCLE.allowed(state, {role})
    assert api.event_count() == before
    again = api.ok(api.get(f"/venues/{venue['id']}"))
    assert (again["status"], again["version"]) == (state, venue["version"])


FORBIDDEN = [pytest.param(r.trigger, who, id=f"{r.trigger}-by-{who}")
             for r in LIFECYCLE.rows for who in STRANGERS]


@pytest.mark.parametrize(("trigger", "who"), FORBIDDEN)
def test_each_venue_transition_is_forbidden_to_everyone_but_its_owner_and_the_admin(api, trigger, who):
    owner = api.org()
    source = ROWS[trigger].sources[0]
    venue = api.venue(owner, source)
    by = stranger(api, who, owner)
    before = api.event_count()
    response = api.post(f"/venues/{venue['id']}/actions/{trigger}", REASONS[trigger], by)
    if who == "anonymous":
        expect_problem(response, 401, "unauthenticated")
    else:
        expect_problem(response, 403, "forbidden")
    assert api.event_count() == before
    again = api.ok(api.get(f"/venues/{venue['id']}"))
    assert (again["status"], again["version"]) == (source, venue["version"])


def test_each_caller_is_offered_exactly_the_venue_actions_the_table_gives_them(api):
    owner = api.org()
    venue = api.venue(owner)
    assert api.ok(api.get(f"/venues/{venue['id']}", owner))["allowed_actions"] == ["suspend", "retire"]
    assert api.ok(api.get(f"/venues/{venue['id']}", api.admin))["allowed_actions"] == ["suspend", "retire"]
    for who in STRANGERS:
        by = stranger(api, who, owner)
        assert api.ok(api.get(f"/venues/{venue['id']}", by))["allowed_actions"] == [], who
    suspended = api.act("venues", venue["id"], "suspend", owner, {})
    assert suspended["allowed_actions"] == ["resume", "retire"]
    rows = api.ok(api.get("/venues", owner, status="suspended"))["items"]
    assert [(v["id"], v["allowed_actions"]) for v in rows] == [(venue["id"], ["resume", "retire"])]


@pytest.mark.parametrize("who", ["member-of-owner", "auditor", "dept", "anonymous"])
def test_only_organisations_share_venues(api, who):
    by = stranger(api, who, api.org())
    before = api.event_count()
    response = api.post("/venues", api.venue_body(), by)
    if who == "anonymous":
        expect_problem(response, 401, "unauthenticated")
    else:
        expect_problem(response, 403, "forbidden")
    assert api.event_count() == before
    assert listed(api) == set()


# -- availability -------------------------------------------------------------------------------------
def test_a_day_without_bookings_is_free_for_all_its_open_hours_in_local_time(api):
    venue = api.venue(api.org(), opens_at="09:30", closes_at="17:45")
    body = api.ok(api.get(f"/venues/{venue['id']}/availability", date=day(3)))
    assert body["free"] == [{"starts_at": local(3, "09:30"), "ends_at": local(3, "17:45")}]


def test_availability_cuts_out_blackouts_and_confirmed_bookings_but_not_requests(api):
    owner = api.org()
    noon = {"starts_at": local(3, "12:00"), "ends_at": local(3, "13:00"), "reason": "午休保洁"}
    venue = api.venue(owner, requires_approval=True, blackouts=[noon])
    confirmed = api.book(venue, api.member(), **slot(3, "09:00", "10:00"))
    api.act("bookings", confirmed["id"], "approve", owner)
    api.book(venue, api.member(), **slot(3, "15:00", "16:00"))  # still requested: holds nothing
    rejected = api.book(venue, api.member(), **slot(3, "17:00", "18:00"))
    api.act("bookings", rejected["id"], "reject", owner)
    assert free(api, venue, day(3)) == [("08:00", "09:00"), ("10:00", "12:00"), ("13:00", "21:00")]
    assert free(api, venue, day(4)) == [("08:00", "21:00")]


def test_bookings_at_opening_back_to_back_and_at_closing_leave_only_the_gap(api):
    venue = api.venue(api.org())
    for start, end in (("08:00", "10:00"), ("10:00", "12:00"), ("19:00", "21:00")):
        api.book(venue, api.member(), **slot(3, start, end))
    assert free(api, venue, day(3)) == [("12:00", "19:00")]


def test_a_blackout_from_the_evening_before_covers_the_morning_and_a_whole_day_blackout_leaves_nothing(api):
    # given in UTC: 20:00 local on day 2 until 10:00 local on day 3, and all of local day 5
    evening = (START.astimezone(CITY_TZ) + timedelta(days=2)).replace(hour=20, minute=0)
    blackouts = [
        {"starts_at": evening.astimezone(START.tzinfo).isoformat(),
         "ends_at": (evening + timedelta(hours=14)).astimezone(START.tzinfo).isoformat(), "reason": "设备检修"},
        {"starts_at": local(5, "00:00"), "ends_at": local(6, "00:00"), "reason": "社区选举"},
    ]
    venue = api.venue(api.org(), blackouts=blackouts)
    assert free(api, venue, day(2)) == [("08:00", "20:00")]
    assert free(api, venue, day(3)) == [("10:00", "21:00")]
    assert free(api, venue, day(5)) == []
    assert free(api, venue, day(6)) == [("08:00", "21:00")]


def test_a_venue_that_is_not_active_has_no_free_time_until_it_resumes(api):
    owner = api.org()
    venue = api.venue(owner)
    api.act("venues", venue["id"], "suspend", owner, {"reason": "消防检查"})
    assert free(api, venue, day(3)) == []
    api.act("venues", venue["id"], "resume", owner, {})
    assert free(api, venue, day(3)) == [("08:00", "21:00")]
    api.act("venues", venue["id"], "retire", owner, {})
    assert free(api, venue, day(3)) == []


def test_availability_of_an_unknown_venue_is_not_found_and_a_bad_date_is_invalid(api):
    venue = api.venue(api.org())
    expect_problem(api.get(f"/venues/{uuid4()}/availability", date=day(3)), 404, "not-found")
    expect_problem(api.get(f"/venues/{venue['id']}/availability", date="2026-13-01"), 422, "validation")
    expect_problem(api.get(f"/venues/{venue['id']}/availability"), 422, "validation")


# -- the venue list -----------------------------------------------------------------------------------
def test_venues_are_listed_by_grid_and_by_minimum_capacity(api):
    owner = api.org()
    other_grid = api.ok(api.post("/grids", {"code": f"G{uuid4().hex[:6]}", "name": "东街口商圈网格", "type": "商圈型",
                                            "district": "鼓楼区"}, api.admin), 201)["id"]
    small = api.venue(owner, capacity=20)
    middle = api.venue(owner, capacity=50)
    large = api.venue(owner, capacity=100, grid_id=other_grid)
    assert listed(api) == {small["id"], middle["id"], large["id"]}
    assert listed(api, grid=api.grid()) == {small["id"], middle["id"]}
    assert listed(api, grid=other_grid) == {large["id"]}
    assert listed(api, capacity=50) == {middle["id"], large["id"]}
    assert listed(api, capacity=51) == {large["id"]}
    assert listed(api, grid=api.grid(), capacity=50) == {middle["id"]}
    assert listed(api, capacity=101) == set()
    expect_problem(api.get("/venues", capacity=0), 422, "validation")


def test_free_on_lists_only_active_venues_with_some_free_time_that_day(api):
    owner = api.org()
    booked_out = api.venue(owner, opens_at="10:00", closes_at="12:00", name="小会议室")
    api.book(booked_out, api.member(), **slot(3, "10:00", "12:00"))
    whole_day = {"starts_at": local(3, "00:00"), "ends_at": local(4, "00:00"), "reason": "维修"}
    blacked_out = api.venue(owner, name="礼堂", blackouts=[whole_day])
    partly = api.venue(owner, name="活动室")
    api.book(partly, api.member(), **slot(3, "08:00", "20:00"))
    only_requested = api.venue(owner, requires_approval=True, name="图书室")
    api.book(only_requested, api.member(), **slot(3, "08:00", "21:00"))
    suspended = api.venue(owner, "suspended", name="停用场地")

    assert listed(api, free_on=day(3)) == {partly["id"], only_requested["id"]}
    assert listed(api, free_on=day(4)) == {
        booked_out["id"], blacked_out["id"], partly["id"], only_requested["id"]}
    assert listed(api, free_on=day(3), capacity=1) == {partly["id"], only_requested["id"]}
    assert suspended["id"] not in listed(api, free_on=day(4))


def test_the_list_shows_active_venues_unless_asked_for_another_status(api):
    owner = api.org()
    active, paused, gone = api.venue(owner), api.venue(owner, "suspended"), api.venue(owner, "retired")
    assert listed(api) == {active["id"]}
    assert listed(api, status="suspended") == {paused["id"]}
    assert listed(api, status="retired") == {gone["id"]}
    api.act("venues", paused["id"], "resume", owner, {})
    assert listed(api) == {active["id"], paused["id"]}
    row = next(v for v in api.ok(api.get("/venues"))["items"] if v["id"] == active["id"])
    assert (row["name"], row["capacity"], row["opens_at"], row["closes_at"], row["organisation_id"]) == (
        active["name"], 50, "08:00", "21:00", owner.id)
    assert row["allowed_actions"] == []  # read anonymously


# -- stats --------------------------------------------------------------------------------------------
def test_venues_shared_counts_active_venues_as_they_are_suspended_resumed_and_retired(api):
    owner = api.org()
    first, second, third = api.venue(owner), api.venue(owner), api.venue(owner)
    assert stats(api)["venues_shared"] == 3
    api.act("venues", first["id"], "suspend", owner, {})
    assert stats(api)["venues_shared"] == 2
    api.act("venues", first["id"], "resume", api.admin, {})
    assert stats(api)["venues_shared"] == 3
    api.act("venues", second["id"], "retire", owner, {})
    assert stats(api)["venues_shared"] == 2
    api.act("venues", third["id"], "suspend", api.admin, {})
    assert stats(api)["venues_shared"] == 1
    api.act("venues", third["id"], "retire", owner, {})  # retiring a suspended venue takes nothing more away
    assert stats(api)["venues_shared"] == 1


def test_bookings_counts_every_booking_made_but_none_refused(api):
    owner = api.org()
    venue = api.venue(owner, requires_approval=True)
    member = api.member()
    approved = api.book(venue, member, **slot(3, "09:00", "10:00"))
    rejected = api.book(venue, member, **slot(3, "10:00", "11:00"))
    cancelled = api.book(venue, member, **slot(3, "11:00", "12:00"))
    api.act("bookings", approved["id"], "approve", owner)
    api.act("bookings", rejected["id"], "reject", owner)
    api.act("bookings", cancelled["id"], "cancel", member, {})
    past_closing = {**slot(3, "20:00", "22:00"), "attendees": 5}
    expect_problem(api.post(f"/venues/{venue['id']}/bookings", past_closing, member), 422, "booking-rule")
    auto = api.venue(owner)
    api.book(auto, member, **slot(3, "09:00", "10:00"))
    expect_problem(api.post(f"/venues/{auto['id']}/bookings", {**slot(3, "09:30", "10:30"), "attendees": 5}, member),
            409, "slot-taken")
    assert stats(api)["bookings"] == 4
