"""The services context: items of the joint-action list and shared services, and the
requests enterprises file under them, with the promised-time clock fired by timers; and what
may be read of them, by whom, from the aggregates, the catalogue and the queues."""
from uuid import UUID

from domain.actors import Actor, Role
from domain.errors import DomainError, ForbiddenError, NotFoundError
from domain.readers import seen_item, seen_request, staff
from domain.service_item import PUBLIC_STATES as PUBLIC_ITEM_STATES
from domain.service_item import LIFECYCLE as ITEM_LIFECYCLE
from domain.service_item import ServiceItem
from domain.service_request import LIFECYCLE as REQUEST_LIFECYCLE
from domain.service_request import ServiceRequest
from workflows.context import Context
from workflows.clock import Clock, SystemClock
from workflows.commands import check_trigger
from workflows.engine import A, Engine, Meta, Outcome, Unit, check_version, load



class Services(Context):
    name = "services"

    def __init__(self, env=None, *, clock: Clock | None = None, registry=None):
        super().__init__(env)
        self.clock, self.registry = clock or SystemClock(), registry
        self.engine = Engine(self)
        self.queries = None  # catalogue and queues: api/wiring.py installs them (workflows never import projections)

    def _departments(self, ids: list[str]) -> None:
        if self.registry is not None:
            for department_id in ids:
                self.registry.require("department", department_id, f"department {department_id} is not registered")

    def draft_item(self, meta: Meta, item_id: UUID, content: dict) -> Outcome[ServiceItem]:
        self._departments([d for d in [content.get("department_id"), *(content.get("co_department_ids") or [])] if d])

        def command(unit: Unit) -> ServiceItem:
            return unit.find(item_id, ServiceItem) or unit.add(ServiceItem.draft(item_id, meta.actor, content))

        return self.engine.execute(meta, command)

    def act_on_item(self, meta: Meta, item_id: UUID, trigger: str, if_match: int | None = None,
                    **fields) -> Outcome[ServiceItem]:
        check_trigger(ITEM_LIFECYCLE, trigger)

        def command(unit: Unit) -> ServiceItem:
            item = seen_item(unit.get(item_id, ServiceItem), meta.actor)
            self._departments(fields.get("co_department_ids") or [])
            check_version(item, if_match)
            item.act(trigger, {**fields, "by": meta.actor, "now": self.clock.now()})
            return item

        return self.engine.execute(meta, command)

    def file_request(self, meta: Meta, request_id: UUID, item_id: UUID, subject: str,
                     detail: str, location: dict | None = None) -> Outcome[ServiceRequest]:
        def command(unit: Unit) -> ServiceRequest:
            existing = unit.find(request_id, ServiceRequest)
            if existing is not None:
                return existing
            item = seen_item(unit.get(item_id, ServiceItem), meta.actor)
            return unit.add(ServiceRequest.file(request_id, meta.actor, item, subject, detail, location))

        return self.engine.execute(meta, command)

    def act_on_request(self, meta: Meta, request_id: UUID, trigger: str, if_match: int | None = None,
                       **fields) -> Outcome[ServiceRequest]:
        check_trigger(REQUEST_LIFECYCLE, trigger)

        def command(unit: Unit) -> ServiceRequest:
            request = seen_request(unit.get(request_id, ServiceRequest), meta.actor)
            if trigger == "transfer" and fields.get("department_id"):
                self._departments([fields["department_id"]])
            check_version(request, if_match)
            request.act(trigger, {**fields, "by": meta.actor, "now": self.clock.now()})
            return request

        return self.engine.execute(meta, command)

    def fire(self, meta: Meta, kind: str, aggregate_id: UUID) -> Outcome | None:
        """SLA warning / breach on a request, or an item's retirement at valid_to. Idempotent."""
        def sla(unit: Unit, step: str):
            request = unit.get(aggregate_id, ServiceRequest)
            getattr(request, step)(self.clock.now())
            return request

        try:
            if kind == "sla.warning":
                return self.engine.execute(meta, lambda unit: sla(unit, "warn"))
            if kind == "sla.breach":
                return self.engine.execute(meta, lambda unit: sla(unit, "breach"))
            if kind == "item.retire":
                return self.act_on_item(meta, aggregate_id, "retire")
        except DomainError:
            return None
        raise ValueError(f"unknown deadline kind {kind}")

    # -- queries --------------------------------------------------------------------------------
    def item(self, item_id: UUID, actor: Actor | None) -> ServiceItem:
        return seen_item(load(self, item_id, ServiceItem), actor)

    def item_version(self, item_id: UUID, content_version: int, actor: Actor | None) -> dict:
        """Every published content version stays retrievable."""
        item = self.item(item_id, actor)
        if not 1 <= content_version <= len(item.versions):
            raise NotFoundError(f"service item {item_id} has no content version {content_version}")
        return {"id": str(item.id), "content_version": content_version, **item.versions[content_version - 1]}

    def request(self, request_id: UUID, actor: Actor) -> ServiceRequest:
        return seen_request(load(self, request_id, ServiceRequest), actor)

    def catalogue(self, actor: Actor | None, status: str = "published", department: str | None = None,
                  category: str | None = None, mode: str | None = None, q: str | None = None, page: int = 1,
                  page_size: int = 20):
        """Drafts and items under review are listed for their provider and staff only."""
        provider = None if status in PUBLIC_ITEM_STATES or staff(actor) else actor.id if actor else ""
        return self.queries.catalogue(status, department, category, mode, q, provider, page, page_size)

    def queue(self, department_id: str, actor: Actor, status: str | None = None, page: int = 1,
              page_size: int = 50):
        """A department's requests, for its officers, the operator and auditors."""
        if not (staff(actor) or (actor.role is Role.DEPT and actor.id == department_id)):
            raise ForbiddenError("a department's queue is for its officers, the operator and auditors")
        if self.registry is not None and self.registry.find(department_id, "department") is None:
            raise NotFoundError(f"no department {department_id}")
        return self.queries.queue(department_id, status, page, page_size)

    def get(self, aggregate_id: UUID | str, kind: type[A]) -> A:
        return load(self, aggregate_id, kind)
