"""Aggregates and read-model rows as the wire shapes of DESIGN §4."""
from datetime import datetime

from domain import claim as claim_model
from domain import demand as demand_model
from domain.actors import Actor
from domain.base import Record
from domain.claim import Claim
from domain.demand import Demand


def _when(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


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
        "feedback": d.feedback,
    }


def claim(c: Claim, actor: Actor | None) -> dict:
    return {
        **_common(c, actor), "demand_id": c.demand_id, "claimant_id": c.claimant_id,
        "claimant_role": c.claimant_role, "headcount": c.headcount, "note": c.note, "hours": c.hours,
        "rating": c.rating, "reason": c.reason,
    }


def demand_row(row: dict, actor: Actor | None) -> dict:
    relations = demand_model.relations(actor, row["organisation_id"]) if actor else set()
    return {**row, "auto_confirm": bool(row["auto_confirm"]),
            "allowed_actions": demand_model.LIFECYCLE.allowed(row["status"], relations)}


def claim_row(row: dict, actor: Actor | None) -> dict:
    relations = (claim_model.relations(actor, row["owner_id"], row["claimant_role"], row["claimant_id"])
                 if actor else set())
    body = {k: v for k, v in row.items() if k != "owner_id"}
    return {**body, "allowed_actions": claim_model.LIFECYCLE.allowed(row["status"], relations)}
