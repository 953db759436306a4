"""The service catalogue and each department's queue of requests with their SLA standing."""
import json
from functools import singledispatchmethod

from domain.service_item import ServiceItem
from domain.service_request import ServiceRequest
from projections.db import Tx
from projections.projector import View, iso, touch

RUNS = (ServiceRequest.Accepted, ServiceRequest.Resumed, ServiceRequest.Reopened)
STOPS = (ServiceRequest.Resolved, ServiceRequest.Withdrawn)


class ServiceCatalogue(View):
    name = "services"
    tables = ("service_items", "service_requests")
    ddl = (
        """CREATE TABLE IF NOT EXISTS service_items (
            id TEXT PRIMARY KEY, provider_role TEXT NOT NULL, provider_id TEXT NOT NULL, department_id TEXT,
            title TEXT NOT NULL, category TEXT NOT NULL, mode TEXT NOT NULL, promised_days INTEGER NOT NULL,
            content TEXT NOT NULL, content_version INTEGER NOT NULL, staged TEXT,
            status TEXT NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS service_items_department ON service_items (department_id, status)",
        "CREATE INDEX IF NOT EXISTS service_items_category ON service_items (category, status)",
        """CREATE TABLE IF NOT EXISTS service_requests (
            id TEXT PRIMARY KEY, item_id TEXT NOT NULL, applicant_id TEXT NOT NULL, handler_role TEXT NOT NULL,
            handler_id TEXT NOT NULL, subject TEXT NOT NULL, promised_days INTEGER NOT NULL, status TEXT NOT NULL,
            accepted BOOLEAN NOT NULL, consumed REAL NOT NULL, running_since TEXT, stopped BOOLEAN NOT NULL,
            warned BOOLEAN NOT NULL, breached BOOLEAN NOT NULL, outcome TEXT, rating INTEGER,
            version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS service_requests_handler ON service_requests (handler_id, status)",
    )

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, ServiceItem.Event):
            touch(tx, "service_items", event)
        elif isinstance(event, ServiceRequest.Event):
            touch(tx, "service_requests", event)

    @apply.register
    def _(self, event: ServiceItem.Drafted, tx: Tx, context: str) -> None:
        c = event.content
        tx.execute(
            "INSERT INTO service_items (id, provider_role, provider_id, department_id, title, category, mode, "
            "promised_days, content, content_version, status, version, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 'draft', %s, %s, %s)",
            (str(event.originator_id), event.provider_role, event.provider_id, c.get("department_id"), c["title"],
             c["category"], c["mode"], c["promised_days"], json.dumps(c, ensure_ascii=False), event.originator_version,
             iso(event.timestamp), iso(event.timestamp)))

    @apply.register
    def _(self, event: ServiceItem.Published, tx: Tx, context: str) -> None:
        touch(tx, "service_items", event, content_version=1)

    @apply.register
    def _(self, event: ServiceItem.RevisionStaged, tx: Tx, context: str) -> None:
        touch(tx, "service_items", event, staged=json.dumps(event.revision, ensure_ascii=False))

    @apply.register
    def _(self, event: ServiceItem.RevisionPublished, tx: Tx, context: str) -> None:
        staged = tx.rows("SELECT staged FROM service_items WHERE id = %s", (str(event.originator_id),))[0]["staged"]
        c = json.loads(staged)
        touch(tx, "service_items", event, content=staged, staged=None, content_version=event.content_version,
              title=c["title"], category=c["category"], mode=c["mode"], promised_days=c["promised_days"])

    @apply.register
    def _(self, event: ServiceRequest.Filed, tx: Tx, context: str) -> None:
        tx.execute(
            "INSERT INTO service_requests (id, item_id, applicant_id, handler_role, handler_id, subject, promised_days, "
            "status, accepted, consumed, stopped, warned, breached, version, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, 'submitted', FALSE, 0, FALSE, FALSE, FALSE, %s, %s, %s)",
            (str(event.originator_id), event.item_id, event.applicant_id, event.handler_role, event.handler_id,
             event.subject, event.promised_days, event.originator_version, iso(event.timestamp), iso(event.timestamp)))

    @apply.register(ServiceRequest.Accepted)
    @apply.register(ServiceRequest.Resumed)
    @apply.register(ServiceRequest.Reopened)
    def _(self, event, tx: Tx, context: str) -> None:
        changes = {"running_since": iso(event.at), "stopped": False}
        if isinstance(event, ServiceRequest.Accepted):
            changes["accepted"] = True
        touch(tx, "service_requests", event, **changes)

    @apply.register(ServiceRequest.Paused)
    @apply.register(ServiceRequest.Resolved)
    @apply.register(ServiceRequest.Withdrawn)
    def _(self, event, tx: Tx, context: str) -> None:
        changes = {"consumed": event.consumed, "running_since": None}
        if isinstance(event, STOPS):
            accepted = tx.rows("SELECT accepted FROM service_requests WHERE id = %s", (str(event.originator_id),))
            changes["stopped"] = bool(accepted[0]["accepted"])
        if isinstance(event, ServiceRequest.Resolved):
            changes["outcome"] = event.outcome
        touch(tx, "service_requests", event, **changes)

    @apply.register
    def _(self, event: ServiceRequest.Transferred, tx: Tx, context: str) -> None:
        touch(tx, "service_requests", event, handler_role="dept", handler_id=event.department_id)

    @apply.register
    def _(self, event: ServiceRequest.Evaluated, tx: Tx, context: str) -> None:
        touch(tx, "service_requests", event, rating=event.rating)

    @apply.register
    def _(self, event: ServiceRequest.SlaWarning, tx: Tx, context: str) -> None:
        touch(tx, "service_requests", event, warned=True)

    @apply.register
    def _(self, event: ServiceRequest.SlaBreached, tx: Tx, context: str) -> None:
        touch(tx, "service_requests", event, breached=True)


def published_items(db) -> list[dict]:
    """The catalogue's published items (Open311's services), oldest first so codes keep their order."""
    return db.rows("SELECT id, provider_role, provider_id, department_id, title, category, mode, promised_days, content "
                   "FROM service_items WHERE status = 'published' ORDER BY created_at, id")
