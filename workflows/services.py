"""The services context: items of the joint-action list and shared services, and the
requests enterprises file under them, with the promised-time clock fired by timers."""
import keyword
from uuid import UUID

from domain.errors import DomainError
from domain.service_item import LIFECYCLE as ITEM_LIFECYCLE
from domain.service_item import ServiceItem
from domain.service_request import LIFECYCLE as REQUEST_LIFECYCLE
from domain.service_request import ServiceRequest
from workflows.context import Context
from workflows.clock import Clock, SystemClock
from workflows.commands import check_trigger, dispatch
from workflows.engine import A, Engine, Meta, Outcome, Unit, check_version, load


def _method(aggregate, trigger: str):
    """Triggers that are Python keywords (`return`) are methods with a trailing underscore."""
    return getattr(aggregate, f"{trigger}_" if keyword.iskeyword(trigger) else trigger)


class Services(Context):
    name = "services"

    def __init__(self, env=None, *, clock: Clock | None = None):
        super().__init__(env)
        self.clock = clock or SystemClock()
        self.engine = Engine(self)

    def draft_item(self, meta: Meta, item_id: UUID, content: dict) -> Outcome[ServiceItem]:
        def command(unit: Unit) -> ServiceItem:
            return unit.find(item_id, ServiceItem) or unit.add(ServiceItem.draft(item_id, meta.actor, content))

        return self.engine.execute(meta, command)

    def act_on_item(self, meta: Meta, item_id: UUID, trigger: str, if_match: int | None = None,
                    **fields) -> Outcome[ServiceItem]:
        check_trigger(ITEM_LIFECYCLE, trigger)

        def command(unit: Unit) -> ServiceItem:
            item = unit.get(item_id, ServiceItem)
            check_version(item, if_match)
            dispatch(_method(item, trigger), {"by": meta.actor, "now": self.clock.now(), **fields})
            return item

        return self.engine.execute(meta, command)

    def file_request(self, meta: Meta, request_id: UUID, item_id: UUID, subject: str,
                     detail: str, location: dict | None = None) -> Outcome[ServiceRequest]:
        def command(unit: Unit) -> ServiceRequest:
            existing = unit.find(request_id, ServiceRequest)
            if existing is not None:
                return existing
            item = unit.get(item_id, ServiceItem)
            return unit.add(ServiceRequest.file(request_id, meta.actor, item, subject, detail, location))

        return self.engine.execute(meta, command)

    def act_on_request(self, meta: Meta, request_id: UUID, trigger: str, if_match: int | None = None,
                       **fields) -> Outcome[ServiceRequest]:
        check_trigger(REQUEST_LIFECYCLE, trigger)

        def command(unit: Unit) -> ServiceRequest:
            request = unit.get(request_id, ServiceRequest)
            check_version(request, if_match)
            dispatch(_method(request, trigger), {"by": meta.actor, "now": self.clock.now(), **fields})
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

    def get(self, aggregate_id: UUID | str, kind: type[A]) -> A:
        return load(self, aggregate_id, kind)
