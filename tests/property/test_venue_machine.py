"""A hypothesis state machine drives random booking traffic through the venues context
(workflows level, no HTTP, in-memory event store) and checks after every step:

- no two bookings of a venue that hold a slot (confirmed, checked_in) overlap — read from
  the booking aggregates themselves;
- each venue-day aggregate's slots are exactly the held bookings of that day (a day with
  none held may be missing or empty);
- `availability(venue, day)` equals the open window minus blackouts minus those slots,
  computed independently here.

Rules: requests on a half-hour grid of two days (some outside the open hours, some too
soon, some over capacity), approvals, rejections, cancellations by requester or owner,
check-ins and completions by anyone (requester, owner, admin, a stranger), the clock moving
on with the due deadlines fired (no-show, expiry, completion, as the timers would), and
firings of any deadline on any booking — one not due must do nothing.

Every command's outcome is predicted from the stored state before it (the lifecycle table of
DESIGN §3, the venue's rules, the slots held): a success must match the prediction's state, a
refusal must be the predicted domain error and leave the booking unchanged. Anything that is
not a DomainError fails the run.
"""
from datetime import date, datetime, time, timedelta
from uuid import UUID, uuid4

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from domain.actors import SYSTEM, Actor, Role
from domain.booking import Booking
from domain.errors import (BookingRuleError, ConcurrencyError, DomainError, ForbiddenError, GuardFailedError,
                           NotFoundError, SlotTakenError, TransitionNotAllowedError, ValidationError)
from domain.schedule import VenueDay, day_id
from domain.venue import CITY_TZ
from tests.support import START
from workflows.clock import FakeClock
from workflows.engine import Meta
from workflows.venues import Venues

GRACE = timedelta(minutes=15)
CHECK_IN_OPENS = timedelta(minutes=15)
HALF_HOUR = timedelta(minutes=30)

ORG_A, ORG_B = Actor("org-a", Role.ORG), Actor("org-b", Role.ORG)
ADMIN = Actor("admin", Role.ADMIN)
STRANGER = Actor("member-stranger", Role.MEMBER)
REQUESTERS = [Actor("member-1", Role.MEMBER), Actor("member-2", Role.MEMBER), Actor("member-3", Role.MEMBER),
              Actor("org-b", Role.ORG), Actor("org-c", Role.ORG)]
BEGIN = START + timedelta(hours=13)  # 2026-06-02 06:00 local: the first day's bookings are hours away
DAYS = [BEGIN.astimezone(CITY_TZ).date(), (BEGIN.astimezone(CITY_TZ) + timedelta(days=1)).date()]

# name -> the venue's fields (owner, approval, rules); open hours kept short so slots collide
VENUES = {
    "hall": dict(owner=ORG_A, requires_approval=False, opens_at="08:00", closes_at="12:00", capacity=30,
                 min_notice_hours=1, max_advance_days=1, cancel_lock_hours=2,
                 blackouts=[(datetime.combine(DAYS[0], time(10, 0), CITY_TZ),
                             datetime.combine(DAYS[0], time(10, 30), CITY_TZ))]),
    "room": dict(owner=ORG_B, requires_approval=True, opens_at="09:00", closes_at="13:00", capacity=12,
                 min_notice_hours=0, max_advance_days=30, cancel_lock_hours=0,
                 blackouts=[(datetime.combine(DAYS[1], time(12, 30), CITY_TZ),
                             datetime.combine(DAYS[1], time(14, 0), CITY_TZ))]),
}
HOLDS_SLOT = ("confirmed", "checked_in")
DEST = {"approve": "confirmed", "reject": "rejected", "cancel": "cancelled", "check_in": "checked_in",
        "complete": "completed", "no_show": "no_show", "expire": "expired"}
SOURCES = {"approve": ("requested",), "reject": ("requested",), "cancel": ("requested", "confirmed"),
           "check_in": ("confirmed",), "complete": ("checked_in",), "no_show": ("confirmed",),
           "expire": ("requested",)}
ROLES = {"approve": {"owner"}, "reject": {"owner"}, "cancel": {"requester", "owner"},
         "check_in": {"requester", "owner"}, "complete": {"requester", "owner", "system"},
         "no_show": {"system"}, "expire": {"system"}}
FIRES = {"booking.no_show": "no_show", "booking.expire": "expire", "booking.complete": "complete"}


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def subtract(window: tuple[datetime, datetime], taken: list[tuple[datetime, datetime]]):
    """The window minus every taken interval, as sorted non-empty intervals."""
    free = [window]
    for t_start, t_end in taken:
        pieces = []
        for f_start, f_end in free:
            if not overlaps((f_start, f_end), (t_start, t_end)):
                pieces.append((f_start, f_end))
                continue
            if f_start < t_start:
                pieces.append((f_start, t_start))
            if t_end < f_end:
                pieces.append((t_end, f_end))
        free = pieces
    return sorted(free)


class VenueMachine(RuleBasedStateMachine):
    bookings = Bundle("bookings")

    def __init__(self):
        super().__init__()
        self.clock = FakeClock(BEGIN)
        self.app = Venues(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=self.clock, grace=GRACE)
        self.venue_ids: dict[str, UUID] = {}
        self.venue_of: dict[UUID, str] = {}  # booking -> venue name
        self.requester_of: dict[UUID, Actor] = {}

    def teardown(self):
        self.app.close()

    @initialize()
    def share_venues(self):
        for name, spec in VENUES.items():
            venue_id = uuid4()
            owner = spec["owner"]
            fields = {k: v for k, v in spec.items() if k not in ("owner", "blackouts")}
            blackouts = [{"starts_at": s, "ends_at": e, "reason": "维修"} for s, e in spec["blackouts"]]
            outcome = self.app.share_venue(Meta(owner), venue_id, owner.id, name=f"党群服务中心{name}",
                                           address="鼓楼区东街1号", grid_id="grid-1", blackouts=blackouts, **fields)
            assert outcome.value.status == "active"
            self.venue_ids[name] = venue_id

    # -- reading the stored state -------------------------------------------------------------
    def booking(self, booking_id: UUID) -> Booking:
        return self.app.get(booking_id, Booking)

    def stored(self, venue: str) -> list[Booking]:
        return [self.booking(b) for b, v in self.venue_of.items() if v == venue]

    def held(self, venue: str, day: date | None = None) -> dict[str, tuple[datetime, datetime]]:
        return {str(b.id): (b.starts_at, b.ends_at) for b in self.stored(venue)
                if b.status in HOLDS_SLOT and (day is None or b.starts_at.astimezone(CITY_TZ).date() == day)}

    def relations(self, booking: Booking, actor: Actor) -> set[str]:
        found = {"admin"} if actor.role is Role.ADMIN else {"system"} if actor.role is Role.SYSTEM else set()
        if actor.role is Role.ORG and actor.id == VENUES[self.venue_of[booking.id]]["owner"].id:
            found.add("owner")
        requester = self.requester_of[booking.id]
        if actor == requester:
            found.add("requester")
        return found

    # -- predictions ----------------------------------------------------------------------------
    def broken_rules(self, venue: str, starts: datetime, ends: datetime, attendees: int) -> set[str]:
        spec, now = VENUES[venue], self.clock.now()
        day = starts.astimezone(CITY_TZ).date()
        opens = datetime.combine(day, time.fromisoformat(spec["opens_at"]), CITY_TZ)
        closes = datetime.combine(day, time.fromisoformat(spec["closes_at"]), CITY_TZ)
        broken = set()
        if not 1 <= attendees <= spec["capacity"]:
            broken.add("capacity")
        if starts < now + timedelta(hours=spec["min_notice_hours"]):
            broken.add("notice")
        if starts > now + timedelta(days=spec["max_advance_days"]):
            broken.add("advance")
        if starts < opens or ends > closes:
            broken.add("open-hours")
        if any(overlaps((starts, ends), b) for b in spec["blackouts"]):
            broken.add("blackout")
        return broken

    def predict(self, booking: Booking, trigger: str, actor: Actor, reason: str | None):
        """The state this command leads to, or the class of the domain error it must raise."""
        relations = self.relations(booking, actor)
        now, venue = self.clock.now(), self.venue_of[booking.id]
        if not relations & ROLES[trigger]:
            return ForbiddenError
        if booking.status not in SOURCES[trigger]:
            return TransitionNotAllowedError
        if trigger == "approve":
            mine = (booking.starts_at, booking.ends_at)
            if any(overlaps(mine, span) for span in self.held(venue).values()):
                return SlotTakenError
        elif trigger == "reject":
            if not reason:
                return ValidationError
        elif trigger == "cancel":
            if "owner" in relations:
                if not reason:
                    return ValidationError
            elif not now < booking.starts_at - timedelta(hours=VENUES[venue]["cancel_lock_hours"]):
                return GuardFailedError
        elif trigger == "check_in":
            if not booking.starts_at - CHECK_IN_OPENS <= now <= booking.starts_at + GRACE:
                return GuardFailedError
        elif trigger == "complete":
            if actor.role is Role.SYSTEM and now < booking.ends_at:
                return GuardFailedError
        elif trigger == "no_show":
            if now <= booking.starts_at + GRACE:
                return GuardFailedError
        elif trigger == "expire":
            if now < booking.starts_at:
                return GuardFailedError
        return DEST[trigger]

    def due(self, booking: Booking, kind: str) -> bool:
        now = self.clock.now()
        return {"booking.no_show": booking.status == "confirmed" and now > booking.starts_at + GRACE,
                "booking.expire": booking.status == "requested" and now >= booking.starts_at,
                "booking.complete": booking.status == "checked_in" and now >= booking.ends_at}[kind]

    # -- running a command ------------------------------------------------------------------------
    def act(self, booking_id: UUID, trigger: str, actor: Actor, reason: str | None, label: str):
        before = self.booking(booking_id)
        expected = self.predict(before, trigger, actor, reason)
        fields = {"reason": reason} if reason is not None else {}
        try:
            outcome = self.app.act_on_booking(Meta(actor, reason=reason), booking_id, trigger, **fields)
        except ConcurrencyError:
            raise  # a single writer never loses a race
        except DomainError as error:
            event(f"{label}: refused ({type(error).__name__})")
            assert type(error) is expected, \
                f"{trigger} by {actor} on {before.status}: {error!r}, expected {expected}"
            after = self.booking(booking_id)
            assert (after.version, after.status) == (before.version, before.status)
            return
        event(f"{label}: done")
        assert isinstance(expected, str), \
            f"{trigger} by {actor} on {before.status} done, expected {expected.__name__}"
        assert outcome.value.status == expected == self.booking(booking_id).status

    # -- rules -----------------------------------------------------------------------------------
    @rule(target=bookings, venue=st.sampled_from(sorted(VENUES)), day=st.sampled_from(DAYS),
          start=st.integers(0, 11), halves=st.integers(1, 4), requester=st.sampled_from(REQUESTERS),
          attendees=st.sampled_from([1, 3, 5, 8, 10, 12, 12, 20, 31]))
    def request(self, venue, day, start, halves, requester, attendees):
        starts = datetime.combine(day, time(7, 30), CITY_TZ) + start * HALF_HOUR  # 07:30 … 13:00
        return self.book(venue, starts, starts + halves * HALF_HOUR, requester, attendees)

    @rule(target=bookings, other=bookings, shift=st.integers(-2, 2), halves=st.integers(1, 3),
          requester=st.sampled_from(REQUESTERS))
    def request_near(self, other, shift, halves, requester):
        """A request overlapping or touching another booking's slot: where slots are fought over."""
        b = self.booking(other)
        starts = b.starts_at.astimezone(CITY_TZ) + shift * HALF_HOUR
        return self.book(self.venue_of[other], starts, starts + halves * HALF_HOUR, requester, 5)

    def book(self, venue: str, starts: datetime, ends: datetime, requester: Actor, attendees: int):
        """Request a booking; the outcome must be the one the venue's rules and held slots predict."""
        broken = self.broken_rules(venue, starts, ends, attendees)
        spec = VENUES[venue]
        clash = any(overlaps((starts, ends), span) for span in self.held(venue).values())
        booking_id = uuid4()
        try:
            outcome = self.app.book(Meta(requester), booking_id, self.venue_ids[venue], starts, ends,
                                    attendees, "支部主题党日活动")
        except ConcurrencyError:
            raise
        except BookingRuleError as error:
            event(f"request {venue}: refused ({error.rule})")
            assert error.rule in broken, (error.rule, broken)
            return multiple()
        except SlotTakenError:
            event(f"request {venue}: refused (slot taken)")
            assert not broken and not spec["requires_approval"] and clash
            return multiple()
        except DomainError as error:
            raise AssertionError(f"unexpected refusal {error!r}") from error
        assert not broken, broken
        want = "requested" if spec["requires_approval"] else "confirmed"
        assert not (want == "confirmed" and clash)
        assert outcome.value.status == want
        event(f"request {venue}: {want}")
        self.venue_of[booking_id] = venue
        self.requester_of[booking_id] = requester
        return booking_id

    def actor_for(self, booking_id: UUID, who: str) -> Actor:
        return {"requester": self.requester_of[booking_id], "admin": ADMIN, "stranger": STRANGER,
                "owner": VENUES[self.venue_of[booking_id]]["owner"]}[who]

    @rule(booking_id=bookings, who=st.sampled_from(["owner", "owner", "owner", "requester", "admin"]))
    def approve(self, booking_id, who):
        self.act(booking_id, "approve", self.actor_for(booking_id, who), None, "approve")

    @rule(booking_id=bookings, who=st.sampled_from(["owner", "owner", "requester"]),
          reason=st.sampled_from(["信息不全", None]))
    def reject(self, booking_id, who, reason):
        self.act(booking_id, "reject", self.actor_for(booking_id, who), reason, "reject")

    @rule(booking_id=bookings, who=st.sampled_from(["requester", "owner", "stranger"]),
          reason=st.sampled_from(["场地维修", "临时有事", None]))
    def cancel(self, booking_id, who, reason):
        self.act(booking_id, "cancel", self.actor_for(booking_id, who), reason, f"cancel by {who}")

    @rule(booking_id=bookings, who=st.sampled_from(["requester", "owner", "admin"]))
    def check_in(self, booking_id, who):
        booking = self.booking(booking_id)
        if booking.status == "confirmed" and booking.starts_at - CHECK_IN_OPENS > self.clock.now():
            # walk the clock to the check-in window now and then, or bookings are rarely used
            self.clock.set(max(self.clock.now(), booking.starts_at - timedelta(minutes=5)))
            self.fire_all_due()
        self.act(booking_id, "check_in", self.actor_for(booking_id, who), None, "check_in")

    @rule(booking_id=bookings, who=st.sampled_from(["requester", "owner", "stranger"]))
    def complete(self, booking_id, who):
        self.act(booking_id, "complete", self.actor_for(booking_id, who), None, "complete")

    @rule(quarters=st.integers(1, 8), fire=st.sampled_from([True, True, True, False]))
    def advance_clock(self, quarters, fire):
        """Time passes; the timers (usually) fire what came due."""
        self.clock.advance(minutes=15 * quarters)
        if fire:
            self.fire_all_due()

    def fire_all_due(self) -> None:
        for booking_id in list(self.venue_of):
            for kind in FIRES:
                booking = self.booking(booking_id)
                if self.due(booking, kind):
                    meta = Meta(SYSTEM, causation_id=f"{booking_id}:{booking.version}")
                    outcome = self.app.fire(meta, kind, booking_id)
                    assert outcome is not None and outcome.events, (kind, booking.status)
                    assert self.booking(booking_id).status == DEST[FIRES[kind]]
                    event(f"timer: {kind}")

    @rule(booking_id=bookings, kind=st.sampled_from(sorted(FIRES)))
    def fire(self, booking_id, kind):
        """Any deadline on any booking, as a late or repeated timer would fire it."""
        before = self.booking(booking_id)
        due = self.due(before, kind)
        outcome = self.app.fire(Meta(SYSTEM), kind, booking_id)
        after = self.booking(booking_id)
        if due:
            assert outcome is not None and outcome.events and after.status == DEST[FIRES[kind]]
            event(f"fire {kind}: due")
        else:
            assert outcome is None or not outcome.events, (kind, before.status)
            assert (after.version, after.status) == (before.version, before.status)
            event(f"fire {kind}: not due, nothing")

    # -- invariants (one pass over the stored bookings per step) ----------------------------------
    @invariant()
    def slots_and_availability_follow_the_held_bookings(self):
        stored = [self.booking(b) for b in self.venue_of]
        for venue, venue_id in self.venue_ids.items():
            mine = [b for b in stored if self.venue_of[b.id] == venue]
            held = {str(b.id): (b.starts_at, b.ends_at) for b in mine if b.status in HOLDS_SLOT}
            # no two bookings that hold a slot overlap
            spans = sorted(held.values())
            for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False):
                assert a_end <= b_start, f"{venue}: overlapping held bookings {spans}"

            spec = VENUES[venue]
            for day in DAYS:
                held_today = {b: (s, e) for b, (s, e) in held.items() if s.astimezone(CITY_TZ).date() == day}
                # the venue-day holds exactly the held bookings of that day
                try:
                    vday = self.app.get(day_id(venue_id, day), VenueDay)
                except NotFoundError:
                    assert held_today == {}, f"{venue} {day}: no venue-day but held {held_today}"
                else:
                    slots = {b: (datetime.fromisoformat(s), datetime.fromisoformat(e))
                             for b, (s, e) in vday.slots.items()}
                    if slots != held_today:
                        status = {b: self.booking(UUID(b)).status for b in set(slots) | set(held_today)}
                        raise AssertionError(f"{venue} {day}: the venue-day's slots {slots} are not the held "
                                             f"bookings {held_today}; statuses {status}")
                # availability: open window minus blackouts minus the held slots
                window = (datetime.combine(day, time.fromisoformat(spec["opens_at"]), CITY_TZ),
                          datetime.combine(day, time.fromisoformat(spec["closes_at"]), CITY_TZ))
                expected = subtract(window, list(spec["blackouts"]) + list(held_today.values()))
                assert self.app.availability(venue_id, day) == expected, (venue, day)


VenueMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestVenueMachine = VenueMachine.TestCase


def test_a_completed_booking_no_longer_holds_its_slot():
    """The shortest path the machine above finds to a venue-day holding a slot nobody holds: a
    booking is checked in and then completed (here early, by its requester). Only confirmed and
    checked-in bookings hold a slot (domain.booking.HOLDS_SLOT; DESIGN §3: availability is open
    hours minus confirmed slots), so the rest of its time must be free to book again."""
    clock = FakeClock(BEGIN)
    app = Venues(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock, grace=GRACE)
    try:
        venue_id, owner, member, other = uuid4(), ORG_A, REQUESTERS[0], REQUESTERS[1]
        app.share_venue(Meta(owner), venue_id, owner.id, name="党群服务中心", address="鼓楼区东街1号", grid_id="grid-1",
                        capacity=30, opens_at="08:00", closes_at="21:00", requires_approval=False,
                        min_notice_hours=0, max_advance_days=30, cancel_lock_hours=0, blackouts=[])
        day = DAYS[0]
        starts, ends = datetime.combine(day, time(10), CITY_TZ), datetime.combine(day, time(12), CITY_TZ)
        booking_id = uuid4()
        assert app.book(Meta(member), booking_id, venue_id, starts, ends, 10).value.status == "confirmed"
        clock.set(starts)
        app.act_on_booking(Meta(member), booking_id, "check_in")
        clock.set(starts + timedelta(minutes=20))
        assert app.act_on_booking(Meta(member), booking_id, "complete").value.status == "completed"

        assert app.get(day_id(venue_id, day), VenueDay).slots == {}
        window = (datetime.combine(day, time(8), CITY_TZ), datetime.combine(day, time(21), CITY_TZ))
        assert app.availability(venue_id, day) == [window]
        later = datetime.combine(day, time(11), CITY_TZ)
        again = app.book(Meta(other), uuid4(), venue_id, later, later + timedelta(minutes=30), 5)
        assert again.value.status == "confirmed"
    finally:
        app.close()
