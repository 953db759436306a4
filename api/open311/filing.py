"""Filing a request as Open311 clients send it: under an item, the JSON API's filing command;
under a demand category, its post and submit commands. Everything is checked before the first
command, so a refused filing stores nothing."""
from uuid import UUID

from fastapi import Request

from api.open311 import catalogue, forms
from api.open311.callers import actor as caller_of
from api.open311.render import Open311Error
from api.routes.common import meta, new_id
from api.wiring import Linli
from domain.actors import Actor, Role


def file(system: Linli, request: Request, body: bytes) -> dict:
    """The reply's one request: its id and a notice of what happens next."""
    fields = forms.form(body, dict(request.query_params))
    if not fields.get("api_key"):
        raise Open311Error(403, "api_key is required to create a request")
    actor = caller_of(system, request, fields)
    if actor.role is not Role.ORG:
        raise Open311Error(403, "api_key must be an organisation's token")
    if not fields.get("service_code"):
        raise Open311Error(400, "service_code is required")
    found = catalogue.service(system, fields["service_code"])
    place, text, given = forms.location(fields), forms.description(fields), forms.attributes(fields)
    request_id = new_id(request, actor)
    if found.item is not None:
        subject = given.get("subject", "").strip()
        if not subject:
            raise Open311Error(400, "attribute[subject] is required")
        system.services.file_request(meta(request, actor), request_id, found.item.id, subject, text, place)
        notice = f"承诺时限 {found.item.content['promised_days']} 个工作日，自部门受理起算"
    else:
        _post_demand(system, request, actor, request_id, found.category, text, place, given)
        notice = "需求已提交，平台审核通过后在需求大厅发布"
    return {"service_request_id": str(request_id), "service_notice": notice, "account_id": None}


def _post_demand(system: Linli, request: Request, actor: Actor, demand_id: UUID, category: str, text: str,
                 place: dict, given: dict[str, str]) -> None:
    """Post a demand of the category and submit it for review: two commands, both decided on
    input checked before the first."""
    organisation = system.registry.find(actor.id, "organisation")
    if organisation is None:
        raise Open311Error(403, "api_key names no registered organisation")
    for code in ("needed", "starts_at", "ends_at"):
        if not given.get(code, "").strip():
            raise Open311Error(400, f"attribute[{code}] is required")
    grid_id = given.get("grid_id", "").strip() or organisation.grid_id
    if system.registry.find(grid_id, "grid") is None:
        raise Open311Error(400, f"attribute[grid_id] names no registered grid: {grid_id}")
    starts_at = forms.when(given["starts_at"], "attribute[starts_at]")
    details = {"title": given.get("title", "").strip() or category, "description": text, "category": category,
               "grid_id": grid_id, "needed": forms.whole(given["needed"], "attribute[needed]"),
               "starts_at": starts_at, "ends_at": forms.when(given["ends_at"], "attribute[ends_at]"),
               "claim_deadline": forms.when(given["claim_deadline"], "attribute[claim_deadline]")
               if given.get("claim_deadline", "").strip() else starts_at, "auto_confirm": False}
    system.demands.post_demand(meta(request, actor), demand_id, actor.id, **details, location=place)
    system.demands.act_on_demand(meta(request, actor), demand_id, "submit")
