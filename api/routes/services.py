"""The service catalogue (联合行动服务清单 and 服务共享), enterprises' requests, and department queues."""
import json
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.auth import CurrentActor, MaybeActor
from api.representations import service_item, service_request, sla_standing
from api.routes.bodies import ActionBody, Instant, Located
from api.routes.common import CaughtUp, Filter, Page, PageSize, System, if_match, meta, new_id, reply
from domain.actors import Actor, Role
from domain.errors import ForbiddenError, NotFoundError, ValidationError
from domain.service_item import ServiceItem
from domain.service_request import ServiceRequest

router = APIRouter(tags=["services"])
LongText = Annotated[str, Field(max_length=5000)]
PUBLIC_ITEM_STATES = ("published", "suspended", "retired")


class NewItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: Annotated[str, Field(min_length=1, max_length=200)]
    category: Annotated[str, Field(max_length=16)]
    mode: Annotated[str, Field(max_length=16)]
    basis: LongText = ""
    eligibility: LongText = ""
    materials: LongText = ""
    promised_days: Annotated[StrictInt, Field(ge=1, le=365)]
    valid_from: Instant | None = None
    valid_to: Instant | None = None
    department_id: Annotated[str, Field(max_length=64)] | None = None
    co_department_ids: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []


class ItemAction(ActionBody):
    """Item triggers also take a revision's content fields."""

    mode: Annotated[str, Field(max_length=16)] | None = None
    basis: LongText | None = None
    eligibility: LongText | None = None
    materials: LongText | None = None
    promised_days: Annotated[StrictInt, Field(ge=1, le=365)] | None = None
    valid_from: Instant | None = None
    valid_to: Instant | None = None
    co_department_ids: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] | None = None


class RequestAction(ActionBody):
    department_id: Annotated[str, Field(max_length=64)] | None = None
    outcome: Annotated[str, Field(max_length=16)] | None = None
    note: LongText | None = None
    detail: LongText | None = None


class NewRequest(Located):
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    detail: LongText = ""


def _departments_exist(system, ids: list[str]) -> None:
    for department_id in ids:
        if system.registry.find(department_id, "department") is None:
            raise ValidationError(f"department {department_id} is not registered")


def _sees_item(item: ServiceItem, actor: Actor | None) -> bool:
    return item.status in PUBLIC_ITEM_STATES or (actor is not None and (
        actor.role in (Role.ADMIN, Role.AUDITOR) or "provider" in item.relations(actor)))


def _item(system, item_id: UUID, actor: Actor | None) -> ServiceItem:
    item = system.services.get(item_id, ServiceItem)
    if not _sees_item(item, actor):
        raise NotFoundError(f"no service item {item_id}")
    return item


@router.post("/service-items", status_code=201)
def draft_item(body: NewItem, request: Request, actor: CurrentActor, system: System):
    content = body.model_dump(include=set(NewItem.model_fields))
    _departments_exist(system, [d for d in [content["department_id"], *content["co_department_ids"]] if d])
    outcome = system.services.draft_item(meta(request, actor), new_id(request, actor), content)
    return reply(system, service_item(outcome.value, actor), outcome.value.version, 201, outcome, "services")


@router.get("/service-items")
def catalogue(actor: MaybeActor, system: System, department: Filter = None, category: Filter = None,
              mode: Filter = None, status: Annotated[str, Query(max_length=200)] = "published", q: Filter = None,
              page: Page = 1, page_size: PageSize = 20, _: CaughtUp = None) -> dict:
    where, params = ["status = %s"], [status]
    for column, value in (("department_id", department), ("category", category), ("mode", mode)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if q:
        where.append("(title LIKE %s OR content LIKE %s)")
        params += [f"%{q}%", f"%{q}%"]
    if status not in PUBLIC_ITEM_STATES and not (actor and actor.role in (Role.ADMIN, Role.AUDITOR)):
        where.append("provider_id = %s")
        params.append(actor.id if actor else "")
    clause = " AND ".join(where)
    total = system.db.rows(f"SELECT COUNT(*) AS n FROM service_items WHERE {clause}", params)[0]["n"]
    rows = system.db.rows(f"SELECT * FROM service_items WHERE {clause} ORDER BY created_at DESC, id "
                          "LIMIT %s OFFSET %s", (*params, page_size, (page - 1) * page_size))
    items = [{"id": r["id"], "status": r["status"], "version": r["version"], "provider_role": r["provider_role"],
              "provider_id": r["provider_id"], **json.loads(r["content"]), "content_version": r["content_version"],
              "created_at": r["created_at"], "updated_at": r["updated_at"]} for r in rows]
    return {"items": items, "total": total, "page": page, "page_size": page_size}


@router.get("/service-items/{item_id}")
def get_item(item_id: UUID, actor: MaybeActor, system: System):
    item = _item(system, item_id, actor)
    return reply(system, service_item(item, actor), item.version)


@router.get("/service-items/{item_id}/versions/{content_version}")
def get_item_version(item_id: UUID, content_version: int, actor: MaybeActor, system: System) -> dict:
    """Every published content version stays retrievable."""
    item = _item(system, item_id, actor)
    if not 1 <= content_version <= len(item.versions):
        raise NotFoundError(f"service item {item_id} has no content version {content_version}")
    return {"id": str(item.id), "content_version": content_version, **item.versions[content_version - 1]}


@router.post("/service-items/{item_id}/actions/{trigger}")
def act_on_item(item_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                body: ItemAction | None = None):
    _item(system, item_id, actor)
    fields = body.fields() if body else {}
    _departments_exist(system, fields.get("co_department_ids") or [])
    outcome = system.services.act_on_item(meta(request, actor, fields.get("reason")), item_id, trigger,
                                          if_match(request), **fields)
    return reply(system, service_item(outcome.value, actor), outcome.value.version, 200, outcome, "services")


@router.post("/service-items/{item_id}/requests", status_code=201)
def file_request(item_id: UUID, body: NewRequest, request: Request, actor: CurrentActor, system: System):
    _item(system, item_id, actor)
    outcome = system.services.file_request(meta(request, actor), new_id(request, actor), item_id, body.subject,
                                           body.detail, body.location())
    now = system.clock.now()
    return reply(system, service_request(outcome.value, actor, now), outcome.value.version, 201, outcome, "services")


def _request(system, request_id: UUID, actor: Actor) -> ServiceRequest:
    """Seen by the applicant, the departments, a handling organisation, the operator and auditors."""
    found = system.services.get(request_id, ServiceRequest)
    if actor.role in (Role.ADMIN, Role.AUDITOR, Role.DEPT) or found.relations(actor) & {"applicant", "handler"}:
        return found
    raise ForbiddenError("service requests are seen by the enterprise, the departments and the operator")


@router.get("/service-requests/{request_id}")
def get_request(request_id: UUID, actor: CurrentActor, system: System):
    found = _request(system, request_id, actor)
    return reply(system, service_request(found, actor, system.clock.now()), found.version)


@router.post("/service-requests/{request_id}/actions/{trigger}")
def act_on_request(request_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                   body: RequestAction | None = None):
    _request(system, request_id, actor)
    fields = body.fields() if body else {}
    if trigger == "transfer" and fields.get("department_id"):
        _departments_exist(system, [fields["department_id"]])
    outcome = system.services.act_on_request(meta(request, actor, fields.get("reason")), request_id, trigger,
                                             if_match(request), **fields)
    now = system.clock.now()
    return reply(system, service_request(outcome.value, actor, now), outcome.value.version, 200, outcome, "services")


@router.get("/departments/{department_id}/queue")
def queue(department_id: str, actor: CurrentActor, system: System, status: Filter = None,
          page: Page = 1, page_size: PageSize = 50, _: CaughtUp = None) -> dict:
    """A department's requests with due time, time left or overdue, and warning/breach flags."""
    if not (actor.role in (Role.ADMIN, Role.AUDITOR) or (actor.role is Role.DEPT and actor.id == department_id)):
        raise ForbiddenError("a department's queue is for its officers, the operator and auditors")
    if system.registry.find(department_id, "department") is None:
        raise NotFoundError(f"no department {department_id}")
    where, params = "handler_role = 'dept' AND handler_id = %s", [department_id]
    if status is not None:
        where, params = where + " AND status = %s", params + [status]
    total = system.db.rows(f"SELECT COUNT(*) AS n FROM service_requests WHERE {where}", params)[0]["n"]
    rows = system.db.rows(f"SELECT * FROM service_requests WHERE {where} ORDER BY created_at, id LIMIT %s OFFSET %s",
                          (*params, page_size, (page - 1) * page_size))
    now = system.clock.now()
    items = [{"id": r["id"], "item_id": r["item_id"], "applicant_id": r["applicant_id"], "subject": r["subject"],
              "status": r["status"], "version": r["version"], "promised_days": r["promised_days"],
              **sla_standing(r["promised_days"], r["consumed"],
                             datetime.fromisoformat(r["running_since"]) if r["running_since"] else None,
                             bool(r["accepted"]), bool(r["stopped"]), bool(r["warned"]), bool(r["breached"]), now)}
             for r in rows]
    return {"department_id": department_id, "items": items, "total": total, "page": page, "page_size": page_size}
