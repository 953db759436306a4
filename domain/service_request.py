"""Service requests (企业诉求): an enterprise asks for help under a published item; the handling
department accepts, works, resolves, under the promised-time clock (see domain.sla)."""
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import event

from domain import sla
from domain.actors import Actor, Role
from domain.base import Record, base_relations, require_rating, require_reason
from domain.errors import ForbiddenError, GuardFailedError, ValidationError
from domain.lifecycle import Lifecycle, row
from domain.place import check_location

OUTCOMES = ("approved", "denied", "answered")
REOPEN_WITHIN = timedelta(days=7)
OPEN_STATES = ("submitted", "returned", "accepted", "in_progress", "awaiting_applicant")

# trigger            from                                          to                    who
LIFECYCLE = Lifecycle("service_request", [
    "submitted", "returned", "accepted", "not_accepted", "in_progress", "awaiting_applicant", "resolved", "closed",
    "withdrawn",
], [
    row("return",          "submitted",                             "returned",           {"handler"}),
    row("resubmit",        "returned",                              "submitted",          {"applicant"}),
    row("accept",          "submitted",                             "accepted",           {"handler"}),
    row("not_accept",      "submitted",                             "not_accepted",       {"handler"}),
    row("transfer",        ["submitted", "accepted", "in_progress"], None,                {"handler", "admin"}),
    row("start",           "accepted",                              "in_progress",        {"handler"}),
    row("await_applicant", "in_progress",                           "awaiting_applicant", {"handler"}),
    row("respond",         "awaiting_applicant",                    "in_progress",        {"applicant"}),
    row("resolve",         ["accepted", "in_progress"],             "resolved",           {"handler"}),
    row("evaluate",        "resolved",                              "closed",             {"applicant"}),
    row("reopen",          "closed",                                "in_progress",        {"applicant"}),
    row("withdraw",        list(OPEN_STATES),                       "withdrawn",          {"applicant"}),
])


def relations(actor: Actor, applicant_id: str, handler_role: str, handler_id: str) -> set[str]:
    """The handler is the handling department's officers (after a transfer, only the new one)."""
    found = base_relations(actor)
    if actor.role is Role.ORG and actor.id == applicant_id:
        found.add("applicant")
    if actor.role.value == handler_role and actor.id == handler_id:
        found.add("handler")
    return found


class ServiceRequest(Record):
    lifecycle = LIFECYCLE

    class Filed(Record.Created):
        item_id: str
        applicant_id: str
        handler_role: str
        handler_id: str
        subject: str
        detail: str
        promised_days: int
        location: dict | None  # added with Open311: events stored before it have none

    @event(Filed)
    def __init__(self, id: UUID, item_id: str, applicant_id: str, handler_role: str, handler_id: str, subject: str,
                 detail: str, promised_days: int, location: dict | None = None):
        self.item_id, self.applicant_id, self.location = item_id, applicant_id, location
        self.handler_role, self.handler_id = handler_role, handler_id
        self.subject, self.detail, self.promised_days = subject, detail, promised_days
        self.status = "submitted"
        self.reason = self.outcome = self.note = None
        self.rating: int | None = None
        self.evaluated_at: datetime | None = None
        self.accepted_at: datetime | None = None
        self.consumed = 0.0  # working seconds used up to the last pause or stop
        self.running_since: datetime | None = None
        self.warned = self.breached = False
        self.stopped = False

    @staticmethod
    def file(id: UUID, by: Actor, item, subject: str, detail: str, location: dict | None = None) -> "ServiceRequest":
        if by.role is not Role.ORG:
            raise ForbiddenError("service requests are filed by organisations (enterprises)")
        if item.status != "published":
            raise GuardFailedError(item.status, "request", "requests are filed only under published items", [])
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 200:
            raise ValidationError("subject must be 1 to 200 characters")
        if not isinstance(detail, str) or len(detail) > 5000:
            raise ValidationError("detail must be at most 5000 characters")
        handler_role = item.provider_role
        handler_id = item.content.get("department_id") or item.provider_id
        return ServiceRequest(id=id, item_id=str(item.id), applicant_id=by.id, handler_role=handler_role,
                              handler_id=handler_id, subject=subject.strip(), detail=detail,
                              promised_days=item.content["promised_days"], location=check_location(location))

    def relations(self, actor: Actor) -> set[str]:
        return relations(actor, self.applicant_id, self.handler_role, self.handler_id)

    # -- the clock ------------------------------------------------------------------------------
    @property
    def budget(self) -> float:
        return sla.budget(self.promised_days)

    def used(self, now: datetime) -> float:
        running = sla.working_seconds(self.running_since, now) if self.running_since else 0.0
        return self.consumed + running

    @property
    def due_at(self) -> datetime | None:
        found = sla.thresholds(self.promised_days, self.consumed, self.running_since)
        return found[1] if found else None

    @property
    def sla(self) -> str | None:
        return sla.state(self.accepted_at is not None, self.stopped, self.running_since is not None, self.warned,
                         self.breached)

    # -- commands -------------------------------------------------------------------------------
    def return_(self, by: Actor, reason: str | None = None) -> None:
        status = self._decide("return", by)
        self.trigger_event(self.Returned, status=status, reason=require_reason(reason))

    def resubmit(self, by: Actor, detail: str | None = None) -> None:
        status = self._decide("resubmit", by)
        if detail is not None and (not isinstance(detail, str) or len(detail) > 5000):
            raise ValidationError("detail must be at most 5000 characters")
        self._resubmitted(status=status, detail=detail if detail is not None else self.detail)

    def accept(self, by: Actor, now: datetime) -> None:
        self._accepted(status=self._decide("accept", by), at=now)

    def not_accept(self, by: Actor, reason: str | None = None) -> None:
        status = self._decide("not_accept", by)
        self.trigger_event(self.NotAccepted, status=status, reason=require_reason(reason))

    def transfer(self, by: Actor, department_id: str | None = None, reason: str | None = None) -> None:
        self._decide("transfer", by)
        if not department_id or not isinstance(department_id, str):
            raise ValidationError("department_id is required")
        if self.handler_role == "dept" and department_id == self.handler_id:
            raise ValidationError("the request is already with that department")
        self._transferred(department_id=department_id, reason=reason)

    def start(self, by: Actor) -> None:
        self.trigger_event(self.Started, status=self._decide("start", by))

    def await_applicant(self, by: Actor, now: datetime, reason: str | None = None) -> None:
        status = self._decide("await_applicant", by)
        self._paused(status=status, consumed=self.used(now), reason=reason)

    def respond(self, by: Actor, now: datetime) -> None:
        self._resumed(status=self._decide("respond", by), at=now)

    def resolve(self, by: Actor, now: datetime, outcome: str | None = None, note: str | None = None) -> None:
        status = self._decide("resolve", by)
        if outcome not in OUTCOMES:
            raise ValidationError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if note is not None and len(note) > 5000:
            raise ValidationError("note must be at most 5000 characters")
        self._settle_sla(now)
        self._resolved(status=status, outcome=outcome, note=note, consumed=self.used(now))

    def _settle_sla(self, now: datetime) -> None:
        """A late resolution is late even if no timer fired first: record what was missed, once."""
        used = self.used(now)
        if self.running_since is not None and not self.warned and used >= sla.WARNING_SHARE * self.budget:
            self._sla_warning(used=used)
        if self.running_since is not None and not self.breached and used >= self.budget:
            self._sla_breached(used=used)

    def evaluate(self, by: Actor, now: datetime, rating: int | None = None, feedback: str | None = None) -> None:
        status = self._decide("evaluate", by)
        self._evaluated(status=status, rating=require_rating(rating), feedback=feedback, at=now)

    def reopen(self, by: Actor, now: datetime, reason: str | None = None) -> None:
        status = self._decide("reopen", by)
        self._guard(self.rating is not None and self.rating <= 2, "reopen", by,
                    "only a request rated 2 or lower may be reopened")
        self._guard(self.evaluated_at is not None and now <= self.evaluated_at + REOPEN_WITHIN, "reopen", by,
                    "a request may be reopened within 7 days of its evaluation")
        self._reopened(status=status, at=now, reason=reason)

    def withdraw(self, by: Actor, now: datetime, reason: str | None = None) -> None:
        status = self._decide("withdraw", by)
        self._withdrawn(status=status, consumed=self.used(now), reason=reason)

    def warn(self, now: datetime) -> None:
        """SlaWarning (75%): fired once by the timers while the clock runs."""
        if self.running_since is None or self.warned or self.used(now) < sla.WARNING_SHARE * self.budget:
            raise GuardFailedError(self.status, "sla_warning", "no SLA warning is due", [])
        self._sla_warning(used=self.used(now))

    def breach(self, now: datetime) -> None:
        """SlaBreached (督办, 100%): fired once by the timers while the clock runs."""
        if self.running_since is None or self.breached or self.used(now) < self.budget:
            raise GuardFailedError(self.status, "sla_breach", "no SLA breach is due", [])
        self._sla_breached(used=self.used(now))

    # -- events ---------------------------------------------------------------------------------
    class Returned(Record.Reasoned):
        pass

    class Resubmitted(Record.Event):
        status: str
        detail: str

    @event(Resubmitted)
    def _resubmitted(self, status: str, detail: str) -> None:
        self.status, self.detail = status, detail

    class Accepted(Record.Event):
        status: str
        at: datetime

    @event(Accepted)
    def _accepted(self, status: str, at: datetime) -> None:
        self.status, self.accepted_at, self.running_since = status, at, at

    class NotAccepted(Record.Reasoned):
        pass

    class Transferred(Record.Event):
        department_id: str
        reason: str | None

    @event(Transferred)
    def _transferred(self, department_id: str, reason: str | None) -> None:
        self.handler_role, self.handler_id = "dept", department_id

    class Started(Record.Moved):
        pass

    class Paused(Record.Event):
        """Awaiting the applicant: the clock stands still; `reason` tells the applicant what is asked for."""

        status: str
        consumed: float
        reason: str | None

    @event(Paused)
    def _paused(self, status: str, consumed: float, reason: str | None) -> None:
        self.status, self.consumed, self.running_since, self.reason = status, consumed, None, reason

    class Resumed(Record.Event):
        status: str
        at: datetime

    @event(Resumed)
    def _resumed(self, status: str, at: datetime) -> None:
        self.status, self.running_since, self.reason = status, at, None

    class Resolved(Record.Event):
        status: str
        outcome: str
        note: str | None
        consumed: float

    @event(Resolved)
    def _resolved(self, status: str, outcome: str, note: str | None, consumed: float) -> None:
        self.status, self.outcome, self.note = status, outcome, note
        self.consumed, self.running_since, self.stopped = consumed, None, True

    class Evaluated(Record.Event):
        status: str
        rating: int
        feedback: str | None
        at: datetime

    @event(Evaluated)
    def _evaluated(self, status: str, rating: int, feedback: str | None, at: datetime) -> None:
        self.status, self.rating, self.evaluated_at = status, rating, at

    class Reopened(Record.Event):
        status: str
        at: datetime
        reason: str | None

    @event(Reopened)
    def _reopened(self, status: str, at: datetime, reason: str | None) -> None:
        self.status, self.running_since, self.stopped, self.reason = status, at, False, reason

    class Withdrawn(Record.Event):
        status: str
        consumed: float
        reason: str | None

    @event(Withdrawn)
    def _withdrawn(self, status: str, consumed: float, reason: str | None) -> None:
        self.status, self.reason = status, reason
        if self.accepted_at is not None:
            self.consumed, self.running_since, self.stopped = consumed, None, True

    class SlaWarning(Record.Event):
        used: float

    @event(SlaWarning)
    def _sla_warning(self, used: float) -> None:
        self.warned = True

    class SlaBreached(Record.Event):
        used: float

    @event(SlaBreached)
    def _sla_breached(self, used: float) -> None:
        self.breached = True
