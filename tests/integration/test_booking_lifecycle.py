"""VenueBooking (场地预约) over HTTP: every transition of domain.booking.LIFECYCLE taken from each allowed
source by each allowed role, refused from every other state (409) and to every caller the table does not
name (403, or 401 without a token); the guards (cancel lock, check-in window, slot-taken, venue active);
the slot a booking holds and releases; and the booking lists."""
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from domain.actors import SYSTEM
from domain.booking import LIFECYCLE
from domain.city import CITY_TZ
from domain.errors import GuardFailedError, TransitionNotAllowedError
from tests.support import ACTION_BODIES, START, Party, expect_problem
from workflows.engine import Meta

GRACE = timedelta(minutes=15)
JUST_AFTER = timedelta(seconds=1)
ROWS = {r.trigger: r for r in LIFECYCLE.rows}
# everyone who might knock: the table names "owner" (the venue's organisation) and "requester"
CALLERS = ("admin", "owner", "other-org", "requester", "other-member", "auditor", "dept", "anonymous")
SYSTEM_ONLY = [r.trigger for r in LIFECYCLE.rows if r.roles == {"system"}]


# -- helpers ---------------------------------------------------------------------------------------
def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def caller(api, who: str, owner: Party, requester: Party) -> Party:
    """A token for one kind of caller; the other member belongs to the owner's organisation."""
    if who == "admin":
        return api.admin
    if who == "owner":
        return owner
    if who == "requester":
        return requester
    if who == "other-org":
        return api.org()
    if who == "other-member":
        return api.member(org=owner)
    if who == "auditor":
        return api.auditor()
    if who == "dept":
        return api.department()
    assert who == "anonymous"
    return Party("anonymous", "anonymous", {})


def parties(api) -> tuple[Party, Party]:
    """A venue's owner organisation, and one of its members (who is not the owner) to book."""
    owner = api.org()
    return owner, api.member(org=owner)


def relation(who: str) -> str | None:
    """The word of the lifecycle table describing this caller, if any."""
    return who if who in ("admin", "owner", "requester") else None


def due(booking: dict, trigger: str) -> datetime:
    """The first moment the system fires a booking's deadline: expiry at the start, a no-show once the start
    plus grace has passed (check-in is open until then), completion at the end."""
    return {"expire": at(booking["starts_at"]), "no_show": at(booking["starts_at"]) + GRACE + JUST_AFTER,
            "complete": at(booking["ends_at"])}[trigger]


def body_of(trigger: str) -> dict:
    return ACTION_BODIES.get(trigger, {})


def read(api, booking: dict, by: Party) -> dict:
    return api.ok(api.get(f"/bookings/{booking['id']}", by))


def last_event_meta(api, booking_id: str) -> dict:
    return list(api.system.venues.repository.event_store.get(UUID(booking_id)))[-1].meta


def free(api, venue: dict, day: str) -> list[tuple[str, str]]:
    body = api.ok(api.get(f"/venues/{venue['id']}/availability", date=day))
    return [(f["starts_at"][11:16], f["ends_at"][11:16]) for f in body["free"]]


def slot_at(api, start: str, end: str, days: int = 3) -> dict:
    """A local (UTC+8) slot `days` after the tests' start, HH:MM to HH:MM."""
    base = (START.astimezone(CITY_TZ) + timedelta(days=days)).date().isoformat()
    return {"starts_at": f"{base}T{start}:00+08:00", "ends_at": f"{base}T{end}:00+08:00"}


# -- every allowed transition ------------------------------------------------------------------------
ALLOWED = [
    pytest.param(r.trigger, source, role,
                 id=f"{r.trigger}-from-{source}" + (f"-by-{role}" if len(r.roles) > 1 else ""))
    for r in LIFECYCLE.rows for source in r.sources for role in sorted(r.roles)
]


@pytest.mark.parametrize(("trigger", "source", "role"), ALLOWED)
def test_each_transition_is_taken_from_each_allowed_source_by_each_allowed_role(api, trigger, source, role):
    owner, requester = parties(api)
    venue, booking = api.booking_in(source, owner, requester)
    dest = ROWS[trigger].dest
    before = api.event_count()
    if role == "system":
        api.clock.set(due(booking, trigger) - timedelta(seconds=1))
        assert api.tick() == 0, "the system fired before the deadline"
        assert read(api, booking, owner)["status"] == source
        api.clock.set(due(booking, trigger))
        assert api.tick() == 1
        after = read(api, booking, owner)
        assert api.tick() == 0, "a second firing must find the state moved on"
    else:
        by = owner if role == "owner" else requester
        if trigger == "check_in":
            api.clock.set(at(booking["starts_at"]) - timedelta(minutes=5))
        after = api.act("bookings", booking["id"], trigger, by)
        assert after["allowed_actions"] == LIFECYCLE.allowed(dest, {role})
    assert after["status"] == dest
    assert after["version"] == booking["version"] + 1
    assert api.event_count() > before
    meta = last_event_meta(api, booking["id"])
    expected_actor = {"system": ("system", "system"), "owner": (owner.id, "org"),
                      "requester": (requester.id, "member")}
    assert (meta["actor_id"], meta["actor_role"]) == expected_actor[role]
    listed = api.ok(api.get(f"/venues/{venue['id']}/bookings", owner))["items"]
    assert [(b["id"], b["status"]) for b in listed] == [(booking["id"], dest)]


# -- refused from every other state ------------------------------------------------------------------
REFUSED = [pytest.param(r.trigger, state, id=f"{r.trigger}-refused-in-{state}")
           for r in LIFECYCLE.rows for state in LIFECYCLE.states if state not in r.sources]


@pytest.mark.parametrize(("trigger", "state"), REFUSED)
def test_each_transition_is_refused_from_every_state_it_does_not_leave(api, trigger, state):
    owner, requester = parties(api)
    _, booking = api.booking_in(state, owner, requester)
    before = api.event_count()
    if trigger in SYSTEM_ONLY:
        # only the timers fire these; past the deadline, the state alone must refuse
        api.clock.set(at(booking["starts_at"]) + GRACE + timedelta(minutes=1))
        with pytest.raises(TransitionNotAllowedError) as refused:
            api.system.venues.act_on_booking(Meta(SYSTEM), UUID(booking["id"]), trigger)
        assert refused.value.current == state
    else:
        response = api.post(f"/bookings/{booking['id']}/actions/{trigger}", body_of(trigger), owner)
        body = expect_problem(response, 409, "invalid-transition")
        assert body["current_status"] == state
        assert body["allowed_actions"] == LIFECYCLE.allowed(state, {"owner"})
    assert api.event_count() == before
    again = read(api, booking, owner)
    assert (again["status"], again["version"]) == (state, booking["version"])


# -- forbidden to every caller the table does not name -------------------------------------------------
FORBIDDEN = [pytest.param(r.trigger, [who for who in CALLERS if relation(who) not in r.roles],
                          id=f"{r.trigger}-by-anyone-but-{'-or-'.join(sorted(r.roles))}")
             for r in LIFECYCLE.rows]


@pytest.mark.parametrize(("trigger", "callers"), FORBIDDEN)
def test_each_transition_is_forbidden_to_every_caller_the_table_does_not_name(api, trigger, callers):
    owner, requester = parties(api)
    source = ROWS[trigger].sources[0]
    _, booking = api.booking_in(source, owner, requester)
    # a moment when the transition's guards would pass, so only who is asking can refuse it
    if trigger == "check_in":
        api.clock.set(at(booking["starts_at"]) - timedelta(minutes=5))
    elif trigger in SYSTEM_ONLY:
        api.clock.set(due(booking, trigger))
    knocking = {who: caller(api, who, owner, requester) for who in callers}
    before = api.event_count()
    for who, by in knocking.items():
        response = api.post(f"/bookings/{booking['id']}/actions/{trigger}", body_of(trigger), by)
        if who == "anonymous":
            assert response.status_code == 401, (who, response.text)
            expect_problem(response, 401, "unauthenticated")
        else:
            assert response.status_code == 403, (who, response.text)
            expect_problem(response, 403, "forbidden")
    assert api.event_count() == before
    again = read(api, booking, owner)
    assert (again["status"], again["version"]) == (source, booking["version"])


def test_the_callers_tried_for_each_transition_are_everyone_but_those_it_names():
    expected = {"approve": 7, "reject": 7, "cancel": 6, "check_in": 6, "complete": 6,
                "no_show": 8, "expire": 8}
    assert {p.values[0]: len(p.values[1]) for p in FORBIDDEN} == expected
    assert all("admin" in p.values[1] and "anonymous" in p.values[1] for p in FORBIDDEN)


@pytest.mark.parametrize("who", ["admin", "auditor", "dept", "anonymous"])
def test_only_members_and_organisations_may_book_a_venue(api, who):
    owner = api.org()
    venue = api.venue(owner)
    by = caller(api, who, owner, owner)
    before = api.event_count()
    body = {**api.slot(), "attendees": 5, "purpose": "会议"}
    response = api.post(f"/venues/{venue['id']}/bookings", body, by)
    if who == "anonymous":
        expect_problem(response, 401, "unauthenticated")
    else:
        expect_problem(response, 403, "forbidden")
    assert api.event_count() == before
    assert api.ok(api.get(f"/venues/{venue['id']}/bookings", owner))["total"] == 0


def test_each_caller_is_offered_exactly_the_actions_the_table_gives_them(api):
    owner, requester = parties(api)
    venue, booking = api.booking_in("requested", owner, requester)
    offered = {"owner": ["approve", "reject", "cancel"], "requester": ["cancel"]}
    for who in ("admin", "owner", "requester", "auditor"):  # who reads a booking (DESIGN §6)
        by = caller(api, who, owner, requester)
        expected = offered.get(who, [])
        assert read(api, booking, by)["allowed_actions"] == expected, who
        listed = api.ok(api.get(f"/venues/{venue['id']}/bookings", by))["items"]
        assert listed[0]["allowed_actions"] == expected, who
    for who in ("other-org", "other-member", "dept"):
        by = caller(api, who, owner, requester)
        expect_problem(api.get(f"/bookings/{booking['id']}", by), 404, "not-found")
        assert api.ok(api.get(f"/venues/{venue['id']}/bookings", by))["items"] == [], who


def test_an_organisation_that_books_is_the_requester_of_its_booking(api):
    owner, booker = api.org(), api.org()
    venue = api.venue(owner)
    booking = api.book(venue, booker)
    assert (booking["status"], booking["requester_id"], booking["requester_role"]) == (
        "confirmed", booker.id, "org")
    assert booking["allowed_actions"] == ["cancel", "check_in"]
    assert api.act("bookings", booking["id"], "cancel", booker, {})["status"] == "cancelled"


# -- guards -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["requested", "confirmed"])
def test_the_requester_may_not_cancel_within_the_cancel_lock_but_may_just_before_it(api, source):
    owner, requester = parties(api)
    venue, booking = api.booking_in(source, owner, requester)
    lock = at(booking["starts_at"]) - timedelta(hours=venue["cancel_lock_hours"])

    api.clock.set(lock)
    before = api.event_count()
    body = expect_problem(api.post(f"/bookings/{booking['id']}/actions/cancel", {}, requester), 409, "guard-failed")
    assert body["current_status"] == source
    assert api.event_count() == before
    assert read(api, booking, requester)["status"] == source

    api.clock.set(lock - timedelta(seconds=1))
    assert api.act("bookings", booking["id"], "cancel", requester, {})["status"] == "cancelled"


@pytest.mark.parametrize("source", ["requested", "confirmed"])
def test_the_venue_owner_may_cancel_inside_the_lock_but_only_with_a_reason(api, source):
    owner, requester = parties(api)
    _, booking = api.booking_in(source, owner, requester)
    api.clock.set(at(booking["starts_at"]) - timedelta(hours=1))
    before = api.event_count()
    for body in ({}, {"reason": "   "}):
        expect_problem(api.post(f"/bookings/{booking['id']}/actions/cancel", body, owner), 422, "validation")
    assert api.event_count() == before
    cancelled = api.act("bookings", booking["id"], "cancel", owner, {"reason": "场地临时维修"})
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "场地临时维修")


CHECK_IN_TIMES = [
    pytest.param(-timedelta(minutes=15), 200, id="exactly-15-minutes-before-start"),
    pytest.param(timedelta(0), 200, id="at-start"),
    pytest.param(GRACE, 200, id="at-start-plus-grace"),
    pytest.param(-timedelta(minutes=15, seconds=1), 409, id="a-second-before-the-window"),
    pytest.param(GRACE + timedelta(seconds=1), 409, id="a-second-after-the-grace"),
]


@pytest.mark.parametrize(("offset", "status"), CHECK_IN_TIMES)
def test_check_in_is_open_from_15_minutes_before_the_start_until_the_grace_ends(api, offset, status):
    owner, requester = parties(api)
    _, booking = api.booking_in("confirmed", owner, requester)
    api.clock.set(at(booking["starts_at"]) + offset)
    before = api.event_count()
    response = api.post(f"/bookings/{booking['id']}/actions/check_in", {}, requester)
    if status == 200:
        assert api.ok(response)["status"] == "checked_in"
    else:
        assert expect_problem(response, 409, "guard-failed")["current_status"] == "confirmed"
        assert api.event_count() == before


OVERLAPS = [
    pytest.param(("10:00", "12:00"), id="the-same-slot"),
    pytest.param(("09:00", "10:01"), id="overlapping-its-start"),
    pytest.param(("11:59", "13:00"), id="overlapping-its-end"),
    pytest.param(("10:30", "11:00"), id="inside-it"),
    pytest.param(("08:00", "21:00"), id="around-it"),
]


@pytest.mark.parametrize("other", OVERLAPS)
def test_approving_a_request_that_overlaps_a_confirmed_booking_is_refused_as_slot_taken(api, other):
    owner = api.org()
    venue = api.venue(owner, requires_approval=True)
    first = api.book(venue, api.member(), **slot_at(api, "10:00", "12:00"))
    second = api.book(venue, api.member(), **slot_at(api, *other))
    api.act("bookings", first["id"], "approve", owner)
    before = api.event_count()
    expect_problem(api.post(f"/bookings/{second['id']}/actions/approve", {}, owner), 409, "slot-taken")
    assert api.event_count() == before
    assert read(api, second, owner)["status"] == "requested"
    assert api.act("bookings", second["id"], "reject", owner)["status"] == "rejected"


def test_requests_that_only_touch_a_confirmed_booking_can_both_be_approved(api):
    owner = api.org()
    venue = api.venue(owner, requires_approval=True)
    middle = api.book(venue, api.member(), **slot_at(api, "10:00", "12:00"))
    before = api.book(venue, api.member(), **slot_at(api, "08:00", "10:00"))
    after = api.book(venue, api.member(), **slot_at(api, "12:00", "14:00"))
    for booking in (middle, before, after):
        assert api.act("bookings", booking["id"], "approve", owner)["status"] == "confirmed"
    assert free(api, venue, before["starts_at"][:10]) == [("14:00", "21:00")]


def test_a_booking_on_a_slot_already_taken_is_refused_when_the_venue_confirms_by_itself(api):
    owner = api.org()
    venue = api.venue(owner)
    api.book(venue, api.member(), **slot_at(api, "10:00", "12:00"))
    latecomer = api.member()
    before = api.event_count()
    response = api.post(f"/venues/{venue['id']}/bookings",
                        {**slot_at(api, "11:00", "13:00"), "attendees": 5, "purpose": "读书会"}, latecomer)
    expect_problem(response, 409, "slot-taken")
    assert api.event_count() == before
    assert api.ok(api.get(f"/venues/{venue['id']}/bookings", owner))["total"] == 1


@pytest.mark.parametrize("who", ["requester", "owner"])
def test_cancelling_a_confirmed_booking_frees_its_slot_for_someone_else(api, who):
    owner, requester, other = api.org(), api.member(), api.member()
    venue = api.venue(owner)
    slot = slot_at(api, "10:00", "12:00")
    booking = api.book(venue, requester, **slot)
    day = slot["starts_at"][:10]
    assert free(api, venue, day) == [("08:00", "10:00"), ("12:00", "21:00")]

    api.act("bookings", booking["id"], "cancel", requester if who == "requester" else owner, {"reason": "改期"})
    assert free(api, venue, day) == [("08:00", "21:00")]
    assert api.book(venue, other, **slot)["status"] == "confirmed"
    assert free(api, venue, day) == [("08:00", "10:00"), ("12:00", "21:00")]


def test_a_no_show_releases_the_slot_so_an_overlapping_request_can_be_approved(api):
    owner = api.org()
    venue = api.venue(owner, requires_approval=True)
    first = api.book(venue, api.member(), **slot_at(api, "10:00", "12:00"))
    later = api.book(venue, api.member(), **slot_at(api, "11:00", "13:00"))
    api.act("bookings", first["id"], "approve", owner)
    expect_problem(api.post(f"/bookings/{later['id']}/actions/approve", {}, owner), 409, "slot-taken")
    day = first["starts_at"][:10]
    assert free(api, venue, day) == [("08:00", "10:00"), ("12:00", "21:00")]

    api.clock.set(at(first["starts_at"]) + GRACE)
    assert api.tick() == 0, "check-in is still open"
    api.clock.set(at(first["starts_at"]) + GRACE + JUST_AFTER)
    assert api.tick() == 1
    assert read(api, first, owner)["status"] == "no_show"
    assert last_event_meta(api, first["id"])["actor_id"] == "system"
    assert free(api, venue, day) == [("08:00", "21:00")]
    assert api.act("bookings", later["id"], "approve", owner)["status"] == "confirmed"
    assert free(api, venue, day) == [("08:00", "11:00"), ("13:00", "21:00")]


def test_an_unapproved_request_expires_when_its_start_arrives_and_never_held_the_slot(api):
    owner, requester = parties(api)
    venue, booking = api.booking_in("requested", owner, requester)
    day = booking["starts_at"][:10]
    assert free(api, venue, day) == [("08:00", "21:00")]
    api.clock.set(at(booking["starts_at"]))
    assert api.tick() == 1
    expired = read(api, booking, requester)
    assert (expired["status"], expired["allowed_actions"]) == ("expired", [])
    assert free(api, venue, day) == [("08:00", "21:00")]


def test_a_checked_in_booking_keeps_holding_its_slot(api):
    owner, requester = parties(api)
    venue = api.venue(owner, min_notice_hours=0)
    booking = api.book(venue, requester, **slot_at(api, "10:00", "12:00"))
    api.clock.set(at(booking["starts_at"]))
    api.act("bookings", booking["id"], "check_in", requester)
    api.clock.set(at(booking["starts_at"]) + GRACE + timedelta(minutes=1))
    assert api.tick() == 0, "a checked-in booking is not a no-show"
    assert free(api, venue, booking["starts_at"][:10]) == [("08:00", "10:00"), ("12:00", "21:00")]
    response = api.post(f"/venues/{venue['id']}/bookings",
                        {**slot_at(api, "11:00", "12:00"), "attendees": 3, "purpose": "临时会议"}, api.member())
    expect_problem(response, 409, "slot-taken")


def test_a_booking_completed_early_frees_the_rest_of_its_slot(api):
    owner, requester, other = api.org(), api.member(), api.member()
    venue = api.venue(owner, min_notice_hours=0)
    booking = api.book(venue, requester, **slot_at(api, "10:00", "12:00"))
    api.clock.set(at(booking["starts_at"]))
    api.act("bookings", booking["id"], "check_in", requester)
    api.clock.set(at(booking["starts_at"]) + timedelta(minutes=30))
    assert api.act("bookings", booking["id"], "complete", requester)["status"] == "completed"
    # a completed booking is neither confirmed nor checked in: it no longer holds the venue (DESIGN §3)
    day = booking["starts_at"][:10]
    assert [v["id"] for v in api.ok(api.get("/venues", free_on=day))["items"]] == [venue["id"]]
    assert free(api, venue, day) == [("08:00", "21:00")]
    assert api.book(venue, other, **slot_at(api, "11:00", "12:00"))["status"] == "confirmed"


def test_the_system_completes_a_checked_in_booking_at_its_end_and_not_before(api):
    owner, requester = parties(api)
    _, booking = api.booking_in("checked_in", owner, requester)
    api.clock.set(at(booking["ends_at"]) - timedelta(minutes=1))
    assert api.tick() == 0
    with pytest.raises(GuardFailedError):
        api.system.venues.act_on_booking(Meta(SYSTEM), UUID(booking["id"]), "complete")
    api.clock.set(at(booking["ends_at"]))
    assert api.tick() == 1
    assert read(api, booking, owner)["status"] == "completed"


@pytest.mark.parametrize("status", ["suspended", "retired"])
def test_a_venue_that_is_not_active_refuses_new_bookings(api, status):
    owner = api.org()
    venue = api.venue(owner, status)
    member = api.member()
    before = api.event_count()
    body = {**api.slot(), "attendees": 5, "purpose": "会议"}
    response = api.post(f"/venues/{venue['id']}/bookings", body, member)
    assert expect_problem(response, 409, "guard-failed")["current_status"] == status
    assert api.event_count() == before
    assert api.ok(api.get(f"/venues/{venue['id']}/bookings", owner))["total"] == 0
    if status == "suspended":
        api.act("venues", venue["id"], "resume", owner)
        assert api.book(venue, member)["status"] == "confirmed"


def test_an_unknown_venue_or_booking_is_not_found(api):
    member = api.member()
    missing = "00000000-0000-4000-8000-000000000000"
    expect_problem(api.post(f"/venues/{missing}/bookings", {**api.slot(), "attendees": 5}, member), 404, "not-found")
    expect_problem(api.get(f"/bookings/{missing}", member), 404, "not-found")
    expect_problem(api.post(f"/bookings/{missing}/actions/cancel", {}, member), 404, "not-found")


# -- lists -------------------------------------------------------------------------------------------
def test_a_venues_bookings_are_listed_in_start_order_and_by_day(api):
    owner, alice, bob = api.org(), api.member(), api.member()
    venue = api.venue(owner, requires_approval=True)
    late = api.book(venue, alice, **slot_at(api, "15:00", "16:00"))
    early = api.book(venue, bob, **slot_at(api, "09:00", "10:00"))
    next_day = api.book(venue, bob, **slot_at(api, "09:00", "10:00", days=4))
    api.act("bookings", early["id"], "approve", owner)
    api.act("bookings", late["id"], "reject", owner)

    listed = api.ok(api.get(f"/venues/{venue['id']}/bookings", owner))
    assert listed["total"] == 3
    assert [(b["id"], b["status"]) for b in listed["items"]] == [
        (early["id"], "confirmed"), (late["id"], "rejected"), (next_day["id"], "requested")]
    assert listed["items"][0]["requester_id"] == bob.id
    day = api.ok(api.get(f"/venues/{venue['id']}/bookings", owner, date=early["starts_at"][:10]))
    assert [b["id"] for b in day["items"]] == [early["id"], late["id"]]
    expect_problem(api.get(f"/venues/{venue['id']}/bookings"), 401, "unauthenticated")


def test_a_requesters_bookings_are_listed_for_them_and_by_requester_id(api):
    owner, alice, bob = api.org(), api.member(), api.member()
    hall, room = api.venue(owner), api.venue(owner, name="社区活动室")
    second = api.book(hall, alice, **slot_at(api, "14:00", "15:00"))
    first = api.book(room, alice, **slot_at(api, "09:00", "10:00"))
    api.book(hall, bob, **slot_at(api, "09:00", "10:00"))

    mine = api.ok(api.get("/bookings", alice))
    assert mine["total"] == 2
    assert [(b["id"], b["venue_id"]) for b in mine["items"]] == [
        (first["id"], room["id"]), (second["id"], hall["id"])]
    assert [b["allowed_actions"] for b in mine["items"]] == [["cancel", "check_in"]] * 2
    by_id = api.ok(api.get("/bookings", owner, requester=alice.id))
    assert [b["id"] for b in by_id["items"]] == [first["id"], second["id"]]
    assert api.ok(api.get("/bookings", owner, requester=bob.id))["total"] == 1
    assert api.ok(api.get("/bookings", owner))["total"] == 0
