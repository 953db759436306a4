"""Grids, organisations, members, departments: admin registers; who reads what is in `_read`."""
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.auth import CurrentActor, MaybeActor
from api.erasure import erase_member
from api.representations import registered
from api.routes.bodies import Reason
from api.routes.common import System, meta, new_id, reply

router = APIRouter(tags=["registry"])
Text = Annotated[str, Field(min_length=1, max_length=200)]


class NewGrid(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: Annotated[str, Field(min_length=1, max_length=64)]
    name: Text
    type: Text
    district: Text


class NewOrganisation(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Text
    kind: Text
    grid_id: Text
    district: Text


class NewMember(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Text
    organisation_id: Text
    grid_id: Text
    flowing: StrictBool = False


class NewDepartment(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: Annotated[str, Field(min_length=1, max_length=64)]
    name: Text


def _register(kind: str, body: BaseModel, request: Request, actor, system):
    fields = {name: getattr(body, name) for name in type(body).model_fields}
    outcome = system.registry.register(meta(request, actor), kind, new_id(request, actor), **fields)
    return reply(registered(outcome.value, actor), outcome.value.version, 201, outcome, "registry")


def _read(kind: str, record_id: str, actor, system):
    """Organisations, grids and departments are shown by name on the public board, venues and
    catalogue: without a token, a record's name is all there is to read. A member's record is
    personal: only the member, the member's organisation, admin and auditors read it."""
    record = system.registry.read(kind, record_id, actor)
    if actor is None:
        public = {"id", "status", "version", "allowed_actions", "name"}
        return reply({k: v for k, v in registered(record, None).items() if k in public}, record.version)
    return reply(registered(record, actor), record.version)


@router.post("/grids", status_code=201)
def register_grid(body: NewGrid, request: Request, actor: CurrentActor, system: System):
    return _register("grid", body, request, actor, system)


@router.post("/organisations", status_code=201)
def register_organisation(body: NewOrganisation, request: Request, actor: CurrentActor, system: System):
    return _register("organisation", body, request, actor, system)


@router.post("/members", status_code=201)
def register_member(body: NewMember, request: Request, actor: CurrentActor, system: System):
    return _register("member", body, request, actor, system)


@router.post("/departments", status_code=201)
def register_department(body: NewDepartment, request: Request, actor: CurrentActor, system: System):
    return _register("department", body, request, actor, system)


RecordId = Annotated[str, Path(max_length=64)]


@router.get("/grids/{record_id}")
def get_grid(record_id: RecordId, actor: MaybeActor, system: System):
    return _read("grid", record_id, actor, system)


@router.get("/organisations/{record_id}")
def get_organisation(record_id: RecordId, actor: MaybeActor, system: System):
    return _read("organisation", record_id, actor, system)


@router.get("/members/{record_id}")
def get_member(record_id: RecordId, actor: CurrentActor, system: System):
    return _read("member", record_id, actor, system)


class Erasure(BaseModel):
    reason: Reason


@router.post("/members/{record_id}/actions/erase")
def erase(record_id: RecordId, body: Erasure, request: Request, actor: CurrentActor, system: System):
    """Forget a member (PIPL): their personal data reads 已删除 everywhere; history still verifies."""
    outcome = erase_member(system, meta(request, actor, body.reason), record_id)
    return reply(registered(outcome.value, actor), outcome.value.version, 200, outcome, "registry")


@router.get("/departments/{record_id}")
def get_department(record_id: RecordId, actor: MaybeActor, system: System):
    return _read("department", record_id, actor, system)
