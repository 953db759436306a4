"""Replaying one aggregate for auditors: its events with what each changed, and its state as
of a version or an instant (snapshots used where the repository has them)."""
import copy
from datetime import datetime
from uuid import UUID

from eventsourcing.application import Application

from domain.errors import NotFoundError, ValidationError
from projections.audit import event_data


def locate(contexts: dict[str, Application], aggregate_id: UUID) -> tuple[str, Application]:
    for context, app in contexts.items():
        if app.recorder.select_events(aggregate_id, limit=1):
            return context, app
    raise NotFoundError(f"no aggregate {aggregate_id}")


def public_state(aggregate) -> dict:
    """A deep copy: appliers mutate dicts and lists in place, so a shallow view would change later."""
    state = copy.deepcopy({k: v for k, v in vars(aggregate).items() if not k.startswith("_")})
    return {"version": aggregate.version, "created_at": aggregate.created_on, "updated_at": aggregate.modified_on,
            "type": type(aggregate).__name__, **state}


def history(app: Application, aggregate_id: UUID) -> list[dict]:
    entries, aggregate, before = [], None, {}
    for event in app.events.get(aggregate_id):
        aggregate = event.mutate(aggregate)
        after = public_state(aggregate)
        meta = getattr(event, "meta", None) or {}
        changes = {k: {"from": before.get(k), "to": v} for k, v in after.items()
                   if k not in ("version", "updated_at") and before.get(k) != v}
        entries.append({"version": event.originator_version, "type": type(event).__qualname__,
                        "at": event.timestamp, **meta, "data": event_data(event), "changes": changes})
        before = after
    return entries


def state_at(app: Application, aggregate_id: UUID, version: int | None, at: datetime | None) -> dict:
    if at is not None:
        if at.tzinfo is None:
            raise ValidationError("at needs an offset")
        versions = [e.originator_version for e in app.events.get(aggregate_id) if e.timestamp <= at]
        if not versions:
            raise NotFoundError(f"aggregate {aggregate_id} did not exist at {at.isoformat()}")
        version = versions[-1]
    aggregate = app.repository.get(aggregate_id, version=version)
    if aggregate.version != version:
        raise NotFoundError(f"aggregate {aggregate_id} has no version {version}")
    return {"state": public_state(aggregate)}
