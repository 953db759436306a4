"""The service catalogue (联合行动服务清单 and 服务共享), enterprises' requests, and department queues."""
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.auth import CurrentActor, MaybeActor
from api.representations import queue_row, service_item, service_request
from api.routes.bodies import ActionBody, Instant, Located
from api.routes.common import CaughtUp, Filter, Page, PageSize, System, if_match, meta, new_id, reply

router = APIRouter(tags=["services"])
LongText = Annotated[str, Field(max_length=5000)]


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


@router.post("/service-items", status_code=201)
def draft_item(body: NewItem, request: Request, actor: CurrentActor, system: System):
    content = body.model_dump(include=set(NewItem.model_fields))
    outcome = system.services.draft_item(meta(request, actor), new_id(request, actor), content)
    return reply(service_item(outcome.value, actor), outcome.value.version, 201, outcome, "services")


@router.get("/service-items")
def catalogue(actor: MaybeActor, system: System, department: Filter = None, category: Filter = None,
              mode: Filter = None, status: Annotated[str, Query(max_length=200)] = "published", q: Filter = None,
              page: Page = 1, page_size: PageSize = 20, _: CaughtUp = None) -> dict:
    return system.services.catalogue(actor, status, department, category, mode, q, page, page_size).body()


@router.get("/service-items/{item_id}")
def get_item(item_id: UUID, actor: MaybeActor, system: System):
    item = system.services.item(item_id, actor)
    return reply(service_item(item, actor), item.version)


@router.get("/service-items/{item_id}/versions/{content_version}")
def get_item_version(item_id: UUID, content_version: int, actor: MaybeActor, system: System) -> dict:
    """Every published content version stays retrievable."""
    return system.services.item_version(item_id, content_version, actor)


@router.post("/service-items/{item_id}/actions/{trigger}")
def act_on_item(item_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                body: ItemAction | None = None):
    fields = body.fields() if body else {}
    outcome = system.services.act_on_item(meta(request, actor, fields.get("reason")), item_id, trigger,
                                          if_match(request), **fields)
    return reply(service_item(outcome.value, actor), outcome.value.version, 200, outcome, "services")


@router.post("/service-items/{item_id}/requests", status_code=201)
def file_request(item_id: UUID, body: NewRequest, request: Request, actor: CurrentActor, system: System):
    outcome = system.services.file_request(meta(request, actor), new_id(request, actor), item_id, body.subject,
                                           body.detail, body.location())
    now = system.clock.now()
    return reply(service_request(outcome.value, actor, now), outcome.value.version, 201, outcome, "services")


@router.get("/service-requests/{request_id}")
def get_request(request_id: UUID, actor: CurrentActor, system: System):
    found = system.services.request(request_id, actor)
    return reply(service_request(found, actor, system.clock.now()), found.version)


@router.post("/service-requests/{request_id}/actions/{trigger}")
def act_on_request(request_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                   body: RequestAction | None = None):
    fields = body.fields() if body else {}
    outcome = system.services.act_on_request(meta(request, actor, fields.get("reason")), request_id, trigger,
                                             if_match(request), **fields)
    now = system.clock.now()
    return reply(service_request(outcome.value, actor, now), outcome.value.version, 200, outcome, "services")


@router.get("/departments/{department_id}/queue")
def queue(department_id: str, actor: CurrentActor, system: System, status: Filter = None,
          page: Page = 1, page_size: PageSize = 50, _: CaughtUp = None) -> dict:
    """A department's requests with due time, time left or overdue, and warning/breach flags."""
    found, now = system.services.queue(department_id, actor, status, page, page_size), system.clock.now()
    return {"department_id": department_id, **found.body(lambda r: queue_row(r, now))}
