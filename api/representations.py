"""Aggregates and read-model rows as the wire shapes of DESIGN §4."""
import json
from datetime import datetime

from domain import sla as sla_model
from domain import booking as booking_model
from domain import claim as claim_model
from domain import demand as demand_model
from domain import place
from domain import venue as venue_model
from domain.actors import Actor
from domain.base import Record
from domain.booking import Booking
from domain.claim import Claim
from domain.demand import Demand
from domain.service_item import ServiceItem
from domain.service_request import ServiceRequest
from domain.venue import Venue

VENUE_FIELDS = ("organisation_id", "name", "address", "grid_id", "capacity", "opens_at", "closes_at",
                "requires_approval", "min_notice_hours", "max_advance_days", "cancel_lock_hours", "blackouts")


def _when(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _place(record: Record) -> dict:
    """The create's location fields, each null when not given (records from before have none)."""
    location = getattr(record, "location", None) or {}
    return {name: location.get(name) for name in place.FIELDS}


def _common(record: Record, actor: Actor | None) -> dict:
    return {"id": str(record.id), "status": record.status, "version": record.version,
            "allowed_actions": record.allowed_actions(actor),
            "created_at": _when(record.created_on), "updated_at": _when(record.modified_on)}


def registered(record: Record, actor: Actor | None) -> dict:
    fields = {k: v for k, v in vars(record).items() if not k.startswith("_") and k != "status"}
    return {**_common(record, actor), **fields}


def demand(d: Demand, actor: Actor | None) -> dict:
    return {
        **_common(d, actor), "organisation_id": d.organisation_id, "title": d.title, "description": d.description,
        "category": d.category, "grid_id": d.grid_id, "needed": d.needed, "claim_deadline": _when(d.claim_deadline),
        "starts_at": _when(d.starts_at), "ends_at": _when(d.ends_at), "auto_confirm": d.auto_confirm,
        "confirmed": d.confirmed, "waitlisted": len(d.waitlist), "reason": d.reason, "rating": d.rating,
        "feedback": d.feedback, **_place(d),
    }


def claim(c: Claim, actor: Actor | None) -> dict:
    return {
        **_common(c, actor), "demand_id": c.demand_id, "claimant_id": c.claimant_id,
        "claimant_role": c.claimant_role, "headcount": c.headcount, "note": c.note, "hours": c.hours,
        "rating": c.rating, "reason": c.reason,
    }


def venue(v: Venue, actor: Actor | None) -> dict:
    return {**_common(v, actor), **{k: getattr(v, k) for k in VENUE_FIELDS}, "reason": v.reason}


def booking(b: Booking, actor: Actor | None) -> dict:
    return {**_common(b, actor), "venue_id": b.venue_id, "requester_id": b.requester_id,
            "requester_role": b.requester_role, "starts_at": _when(b.starts_at), "ends_at": _when(b.ends_at),
            "attendees": b.attendees, "purpose": b.purpose, "reason": b.reason}


def venue_row(row: dict, actor: Actor | None) -> dict:
    relations = venue_model.relations(actor, row["organisation_id"]) if actor else set()
    return {**row, "requires_approval": bool(row["requires_approval"]), "blackouts": json.loads(row["blackouts"]),
            "allowed_actions": venue_model.LIFECYCLE.allowed(row["status"], relations)}


def booking_row(row: dict, actor: Actor | None) -> dict:
    relations = (booking_model.relations(actor, row["owner_id"], row["requester_role"], row["requester_id"])
                 if actor else set())
    body = {k: v for k, v in row.items() if k not in ("owner_id", "day")}
    return {**body, "allowed_actions": booking_model.LIFECYCLE.allowed(row["status"], relations)}


def service_item(i: ServiceItem, actor: Actor | None) -> dict:
    body = {**_common(i, actor), "provider_role": i.provider_role, "provider_id": i.provider_id, **i.content,
            "content_version": i.content_version, "has_staged_revision": i.staged is not None, "reason": i.reason}
    if actor is not None and i.relations(actor) & {"provider", "admin"}:
        body["staged_revision"] = i.staged
    return body


def service_request(r: ServiceRequest, actor: Actor | None, now: datetime) -> dict:
    return {**_common(r, actor), "item_id": r.item_id, "applicant_id": r.applicant_id,
            "department_id": r.handler_id if r.handler_role == "dept" else None, "handler_role": r.handler_role,
            "handler_id": r.handler_id, "subject": r.subject, "detail": r.detail, "promised_days": r.promised_days,
            **sla_standing(r.promised_days, r.consumed, r.running_since, r.accepted_at is not None, r.stopped,
                           r.warned, r.breached, now),
            "outcome": r.outcome, "note": r.note, "rating": r.rating, "reason": r.reason, **_place(r)}


def sla_standing(promised_days: int, consumed: float, running_since: datetime | None, accepted: bool, stopped: bool,
                 warned: bool, breached: bool, now: datetime) -> dict:
    """due_at, the SLA state and the working time left (negative: overdue), from the clock's facts."""
    found = sla_model.thresholds(promised_days, consumed, running_since)
    state = sla_model.state(accepted, stopped, running_since is not None, warned, breached)
    if state in (None, "stopped"):
        remaining = None
    elif state == "paused":
        remaining = sla_model.budget(promised_days) - consumed
    else:
        remaining = sla_model.working_seconds(now, found[1])
    return {"due_at": _when(found[1]) if found else None, "sla": state, "sla_warned": warned,
            "sla_breached": breached, "remaining_seconds": remaining,
            "overdue": remaining is not None and remaining < 0}


def queue_row(r: dict, now: datetime) -> dict:
    """A row of a department's queue, with its SLA standing now."""
    return {"id": r["id"], "item_id": r["item_id"], "applicant_id": r["applicant_id"], "subject": r["subject"],
            "status": r["status"], "version": r["version"], "promised_days": r["promised_days"],
            **sla_standing(r["promised_days"], r["consumed"],
                           datetime.fromisoformat(r["running_since"]) if r["running_since"] else None,
                           bool(r["accepted"]), bool(r["stopped"]), bool(r["warned"]), bool(r["breached"]), now)}


def demand_row(row: dict, actor: Actor | None) -> dict:
    relations = demand_model.relations(actor, row["organisation_id"]) if actor else set()
    return {**row, "auto_confirm": bool(row["auto_confirm"]),
            "allowed_actions": demand_model.LIFECYCLE.allowed(row["status"], relations)}


def claim_row(row: dict, actor: Actor | None) -> dict:
    relations = (claim_model.relations(actor, row["owner_id"], row["claimant_role"], row["claimant_id"])
                 if actor else set())
    body = {k: v for k, v in row.items() if k != "owner_id"}
    return {**body, "allowed_actions": claim_model.LIFECYCLE.allowed(row["status"], relations)}
