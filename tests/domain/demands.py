"""Specs of the demand and claim tables: a demand of org-a needing two, a claim of member m1."""
from datetime import timedelta
from uuid import UUID

from domain import claim, claiming, demand
from domain.actors import SYSTEM, Actor, Role
from domain.claim import Claim
from domain.demand import Demand
from domain.errors import CapacityExceededError, GuardFailedError, ValidationError
from tests.domain.spec import GRACE, NOBODY, NOW, Book, e, given_event

D, C = UUID(int=1), UUID(int=2)
IDS = {Demand: D, Claim: C}
OWNER = Actor("org-a", Role.ORG)
M1 = Actor("m1", Role.MEMBER)
ACTORS = {"owner": OWNER, "admin": Actor("admin", Role.ADMIN), "system": SYSTEM, "claimant": M1, NOBODY: Actor("m2", Role.MEMBER)}
DEADLINE, STARTS = NOW + timedelta(days=1), NOW + timedelta(days=2)
DETAILS = dict(title="陪老人散步", description="", category="助老", needed=2, claim_deadline=DEADLINE,
               starts_at=STARTS, ends_at=STARTS + timedelta(hours=2))


def noted(status: str, headcount: int = 1):
    return given_event(Demand.ClaimNoted, claim_id=str(C), claimant="member:m1", headcount=headcount,
                       claim_status=status)


POSTED = [given_event(Demand.Posted, organisation_id="org-a", grid_id="g1", auto_confirm=False, location=None,
                      **DETAILS)]
REVIEW = POSTED + [given_event(Demand.Submitted, status="pending_review")]
OPEN = REVIEW + [given_event(Demand.Approved, status="open")]
FILLED = OPEN + [noted("confirmed", 2), given_event(Demand.Filled, status="filled")]
IN_PROGRESS = OPEN + [noted("confirmed"), given_event(Demand.Started, status="in_progress"), noted("completed")]
FULFILLED = IN_PROGRESS + [given_event(Demand.Fulfilled, status="fulfilled")]

DEMAND_STATES = {
    "draft": POSTED,
    "pending_review": REVIEW,
    "rejected": REVIEW + [given_event(Demand.Rejected, status="rejected", reason="incomplete")],
    "open": OPEN,
    "filled": FILLED,
    "in_progress": IN_PROGRESS,
    "fulfilled": FULFILLED,
    "closed": FULFILLED + [given_event(Demand.Closed, status="closed", rating=5, feedback=None)],
    "withdrawn": POSTED + [given_event(Demand.Withdrawn, status="withdrawn", reason="no longer needed")],
    "expired": OPEN + [given_event(Demand.Expired, status="expired")],
}


def act_on_demand(world, subject, trigger, by, now, fields):
    subject.act(trigger, {**fields, "by": by, "now": now})


demands = Book(demand.LIFECYCLE, Demand, IDS, ACTORS, DEMAND_STATES, act_on_demand)
d = demands

for state in ("draft", "rejected"):
    d.allowed("revise", state, "owner", e("Demand.Revised", **{**DETAILS, "title": "新标题"}), title="新标题", label="new-title")
    d.allowed("submit", state, "owner", e("Demand.Submitted", status="pending_review"))
d.refused("revise", "draft", "owner", ValidationError, needed=0, label="needed-0")
d.refused_for("revise", "admin system nobody", "draft")
d.refused_in("revise", "pending_review open filled in_progress fulfilled closed withdrawn expired", "owner")
d.refused_for("submit", "admin system nobody", "draft")
d.refused_in("submit", "pending_review open filled in_progress fulfilled closed withdrawn expired", "owner")

d.allowed("approve", "pending_review", "admin", e("Demand.Approved", status="open"))
d.refused_for("approve", "owner system nobody", "pending_review")
d.refused_in("approve", "draft rejected open filled in_progress fulfilled closed withdrawn expired", "admin")

d.allowed("reject", "pending_review", "admin", e("Demand.Rejected", status="rejected", reason="incomplete"),
          reason="incomplete")
d.refused("reject", "pending_review", "admin", ValidationError, label="no-reason")
d.refused_for("reject", "owner system nobody", "pending_review", reason="incomplete")
d.refused_in("reject", "draft rejected open filled in_progress fulfilled closed withdrawn expired", "admin",
             reason="incomplete")

d.allowed("fill", "open", "system", e("Demand.Filled", status="filled"))
d.refused_for("fill", "owner admin nobody", "open")
d.refused_in("fill", "draft pending_review rejected filled in_progress fulfilled closed withdrawn expired", "system")

d.allowed("reopen", "filled", "system", e("Demand.Reopened", status="open"))
d.refused_for("reopen", "owner admin nobody", "filled")
d.refused_in("reopen", "draft pending_review rejected open in_progress fulfilled closed withdrawn expired", "system")

d.allowed("start", "open", "owner", e("Demand.Started", status="in_progress"), given=OPEN + [noted("confirmed")])
d.allowed("start", "filled", "owner", e("Demand.Started", status="in_progress"))
d.refused("start", "open", "owner", GuardFailedError, label="nobody-confirmed")
d.refused_for("start", "admin system nobody", "filled")
d.refused_in("start", "draft pending_review rejected in_progress fulfilled closed withdrawn expired", "owner")

d.allowed("fulfil", "in_progress", "owner", e("Demand.Fulfilled", status="fulfilled"))
d.refused("fulfil", "in_progress", "owner", GuardFailedError, label="claim-still-confirmed",
          given=OPEN + [noted("confirmed"), given_event(Demand.Started, status="in_progress")])
d.refused_for("fulfil", "admin system nobody", "in_progress")
d.refused_in("fulfil", "draft pending_review rejected open filled fulfilled closed withdrawn expired", "owner")

for role in ("owner", "admin"):
    d.allowed("close", "fulfilled", role, e("Demand.Closed", status="closed", rating=4, feedback="好"),
              rating=4, feedback="好")
d.refused("close", "fulfilled", "owner", ValidationError, rating=6, label="rating-6")
d.refused("close", "fulfilled", "owner", ValidationError, label="no-rating")
d.refused_for("close", "system nobody", "fulfilled", rating=4)
d.refused_in("close", "draft pending_review rejected open filled in_progress closed withdrawn expired", "owner",
             rating=4)

for state in ("draft", "pending_review", "rejected", "open", "filled"):
    for role in ("owner", "admin"):
        d.allowed("withdraw", state, role, e("Demand.Withdrawn", status="withdrawn", reason="取消"), reason="取消")
d.refused("withdraw", "open", "owner", ValidationError, reason="  ", label="blank-reason")
d.refused_for("withdraw", "system nobody", "open", reason="取消")
d.refused_in("withdraw", "in_progress fulfilled closed withdrawn expired", "owner", reason="取消")

d.allowed("expire", "open", "system", e("Demand.Expired", status="expired"), now=DEADLINE)
d.refused("expire", "open", "system", GuardFailedError, label="before-deadline")
d.refused("expire", "open", "system", GuardFailedError, given=OPEN + [noted("confirmed")], now=DEADLINE,
          label="someone-confirmed")
d.refused_for("expire", "owner admin nobody", "open", now=DEADLINE)
d.refused_in("expire", "draft pending_review rejected filled in_progress fulfilled closed withdrawn expired",
             "system", now=DEADLINE)


# -- claims: their demand decides capacity and keeps the claim book ---------------------------
def made(status: str):
    return given_event(Claim.Made, demand_id=str(D), owner_id="org-a", claimant_id="m1", claimant_role="member",
                       headcount=1, note="", status=status)


PENDING = OPEN + [made("pending"), noted("pending")]
CONFIRMED = PENDING + [given_event(Claim.Confirmed, status="confirmed"), noted("confirmed")]
CHECKED_IN = CONFIRMED + [given_event(Demand.Started, status="in_progress"),
                          given_event(Claim.CheckedIn, status="checked_in"), noted("checked_in")]
COMPLETED = CHECKED_IN + [given_event(Claim.Completed, status="completed", hours=2.0), noted("completed")]
DROPPED = given_event(Demand.ClaimDropped, claim_id=str(C))

CLAIM_STATES = {
    "pending": PENDING,
    "waitlisted": PENDING + [given_event(Claim.Waitlisted, status="waitlisted"), noted("waitlisted")],
    "confirmed": CONFIRMED,
    "declined": PENDING + [given_event(Claim.Declined, status="declined", reason="满了"), DROPPED],
    "cancelled": PENDING + [given_event(Claim.Cancelled, status="cancelled", was="pending", reason=None), DROPPED],
    "checked_in": CHECKED_IN,
    "completed": COMPLETED,
    "verified": COMPLETED + [given_event(Claim.Verified, status="verified", rating=5), noted("verified")],
    "no_show": CONFIRMED + [given_event(Claim.MarkedNoShow, status="no_show"), DROPPED],
}


def act_on_claim(world, subject, trigger, by, now, fields):
    claiming.act(world[D], subject, trigger, by, now, GRACE, **fields)


def note(status: str):
    return e("Demand.ClaimNoted", claim_id=str(C), claimant="member:m1", headcount=1, claim_status=status)


DROP = e("Demand.ClaimDropped", claim_id=str(C))
AFTER_START = STARTS + GRACE + timedelta(seconds=1)
claims = Book(claim.LIFECYCLE, Claim, IDS, ACTORS, CLAIM_STATES,
              act_on_claim)
c = claims

for state in ("pending", "waitlisted"):
    for role in ("owner", "system"):
        c.allowed("confirm", state, role, e("Claim.Confirmed", status="confirmed"), note("confirmed"))
c.refused("confirm", "pending", "owner", CapacityExceededError, given=OPEN + [
    given_event(Demand.ClaimNoted, claim_id="other", claimant="member:m9", headcount=2, claim_status="confirmed"),
    made("pending"), noted("pending")], label="full")
c.refused_for("confirm", "claimant admin nobody", "pending")
c.refused_in("confirm", "confirmed declined cancelled checked_in completed verified no_show", "owner")

c.allowed("waitlist", "pending", "owner", e("Claim.Waitlisted", status="waitlisted"), note("waitlisted"))
c.refused_for("waitlist", "claimant system admin nobody", "pending")
c.refused_in("waitlist", "waitlisted confirmed declined cancelled checked_in completed verified no_show", "owner")

for state in ("pending", "waitlisted"):
    for role in ("owner", "system"):
        c.allowed("decline", state, role, e("Claim.Declined", status="declined", reason="满了"), DROP, reason="满了")
c.refused("decline", "pending", "owner", ValidationError, label="no-reason")
c.refused_for("decline", "claimant admin nobody", "pending", reason="满了")
c.refused_in("decline", "confirmed declined cancelled checked_in completed verified no_show", "owner",
             reason="满了")

for state in ("pending", "waitlisted", "confirmed"):
    for role in ("claimant", "owner", "system"):
        c.allowed("cancel", state, role, e("Claim.Cancelled", status="cancelled", was=state, reason=None), DROP)
c.refused_for("cancel", "admin nobody", "confirmed")
c.refused_in("cancel", "declined cancelled checked_in completed verified no_show", "claimant")

WHILE_IN_PROGRESS = CONFIRMED + [given_event(Demand.Started, status="in_progress")]
for role in ("claimant", "owner"):
    c.allowed("check_in", "confirmed", role, e("Claim.CheckedIn", status="checked_in"), note("checked_in"),
              given=WHILE_IN_PROGRESS)
c.refused("check_in", "confirmed", "claimant", GuardFailedError, label="demand-not-started")
c.refused_for("check_in", "system admin nobody", "confirmed")
c.refused_in("check_in", "pending waitlisted declined cancelled checked_in completed verified no_show", "claimant")

for role in ("claimant", "owner"):
    c.allowed("complete", "checked_in", role, e("Claim.Completed", status="completed", hours=24.0),
              note("completed"), hours=24)
for hours, label in ((0, "hours-0"), (24.5, "hours-24.5"), (None, "no-hours"), (True, "hours-bool")):
    c.refused("complete", "checked_in", "claimant", ValidationError, hours=hours, label=label)
c.refused_for("complete", "system admin nobody", "checked_in", hours=2)
c.refused_in("complete", "pending waitlisted confirmed declined cancelled completed verified no_show", "claimant",
             hours=2)

c.allowed("verify", "completed", "owner", e("Claim.Verified", status="verified", rating=5), note("verified"),
          rating=5)
c.refused("verify", "completed", "owner", ValidationError, rating=0, label="rating-0")
c.refused_for("verify", "claimant system admin nobody", "completed", rating=5)
c.refused_in("verify", "pending waitlisted confirmed declined cancelled checked_in verified no_show", "owner",
             rating=5)

for role in ("owner", "system"):
    c.allowed("no_show", "confirmed", role, e("Claim.MarkedNoShow", status="no_show"), DROP, now=AFTER_START)
c.refused("no_show", "confirmed", "owner", GuardFailedError, now=STARTS + GRACE, label="within-grace")
c.refused_for("no_show", "claimant admin nobody", "confirmed", now=AFTER_START)
c.refused_in("no_show", "pending waitlisted declined cancelled checked_in completed verified no_show", "owner",
             now=AFTER_START)
