"""The service catalogue and each department's queue of requests with their SLA standing."""
import json
from functools import singledispatchmethod

from domain.service_item import ServiceItem
from domain.service_request import ServiceRequest
from projections.db import Database, Tx
from projections.paging import Found, Where, page
from projections.projector import View, iso, moved
from projections.rows import Rows

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

    def __init__(self):
        self.items, self.requests = Rows("service_items"), Rows("service_requests")  # written once per batch

    def begin_batch(self, tx: Tx, context: str) -> None:
        self.items.clear()
        self.requests.clear()

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        self.items.flush(tx)
        self.requests.flush(tx)

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, ServiceItem.Event):
            self.items.update(str(event.originator_id), **moved(event))
        elif isinstance(event, ServiceRequest.Event):
            self.requests.update(str(event.originator_id), **moved(event))

    @apply.register
    def _(self, event: ServiceItem.Drafted, tx: Tx, context: str) -> None:
        c = event.content
        self.items.insert(
            str(event.originator_id), provider_role=event.provider_role, provider_id=event.provider_id,
            department_id=c.get("department_id"), title=c["title"], category=c["category"], mode=c["mode"],
            promised_days=c["promised_days"], content=json.dumps(c, ensure_ascii=False), content_version=0,
            status="draft", version=event.originator_version, created_at=iso(event.timestamp),
            updated_at=iso(event.timestamp))

    @apply.register
    def _(self, event: ServiceItem.Published, tx: Tx, context: str) -> None:
        self.items.update(str(event.originator_id), **moved(event, content_version=1))

    @apply.register
    def _(self, event: ServiceItem.RevisionStaged, tx: Tx, context: str) -> None:
        self.items.update(str(event.originator_id), **moved(event, staged=json.dumps(event.revision, ensure_ascii=False)))

    @apply.register
    def _(self, event: ServiceItem.RevisionPublished, tx: Tx, context: str) -> None:
        staged = self.items.value(tx, str(event.originator_id), "staged")
        c = json.loads(staged)
        self.items.update(str(event.originator_id), **moved(
            event, content=staged, staged=None, content_version=event.content_version, title=c["title"],
            category=c["category"], mode=c["mode"], promised_days=c["promised_days"]))

    @apply.register
    def _(self, event: ServiceRequest.Filed, tx: Tx, context: str) -> None:
        self.requests.insert(
            str(event.originator_id), item_id=event.item_id, applicant_id=event.applicant_id,
            handler_role=event.handler_role, handler_id=event.handler_id, subject=event.subject,
            promised_days=event.promised_days, status="submitted", accepted=False, consumed=0.0, stopped=False,
            warned=False, breached=False, version=event.originator_version, created_at=iso(event.timestamp),
            updated_at=iso(event.timestamp))

    @apply.register(ServiceRequest.Accepted)
    @apply.register(ServiceRequest.Resumed)
    @apply.register(ServiceRequest.Reopened)
    def _(self, event, tx: Tx, context: str) -> None:
        changes = {"running_since": iso(event.at), "stopped": False}
        if isinstance(event, ServiceRequest.Accepted):
            changes["accepted"] = True
        self.requests.update(str(event.originator_id), **moved(event, **changes))

    @apply.register(ServiceRequest.Paused)
    @apply.register(ServiceRequest.Resolved)
    @apply.register(ServiceRequest.Withdrawn)
    def _(self, event, tx: Tx, context: str) -> None:
        changes = {"consumed": event.consumed, "running_since": None}
        if isinstance(event, STOPS):
            changes["stopped"] = bool(self.requests.value(tx, str(event.originator_id), "accepted"))
        if isinstance(event, ServiceRequest.Resolved):
            changes["outcome"] = event.outcome
        self.requests.update(str(event.originator_id), **moved(event, **changes))

    @apply.register
    def _(self, event: ServiceRequest.Transferred, tx: Tx, context: str) -> None:
        self.requests.update(str(event.originator_id), **moved(event, handler_role="dept", handler_id=event.department_id))

    @apply.register
    def _(self, event: ServiceRequest.Evaluated, tx: Tx, context: str) -> None:
        self.requests.update(str(event.originator_id), **moved(event, rating=event.rating))

    @apply.register
    def _(self, event: ServiceRequest.SlaWarning, tx: Tx, context: str) -> None:
        self.requests.update(str(event.originator_id), **moved(event, warned=True))

    @apply.register
    def _(self, event: ServiceRequest.SlaBreached, tx: Tx, context: str) -> None:
        self.requests.update(str(event.originator_id), **moved(event, breached=True))


class ServiceQueries:
    """What the services application reads from the catalogue and the request queues."""

    def __init__(self, db: Database):
        self.db = db

    def catalogue(self, status: str, department: str | None, category: str | None, mode: str | None,
                  q: str | None, provider: str | None, number: int, size: int) -> Found:
        """Items in a status; only those of `provider` when given."""
        where = Where().add("status = %s", status).equal(
            (("department_id", department), ("category", category), ("mode", mode)))
        if q:
            where.add("(title LIKE %s OR content LIKE %s)", f"%{q}%", f"%{q}%")
        if provider is not None:
            where.add("provider_id = %s", provider)
        found = page(self.db, "service_items", where, "created_at DESC, id", number, size)
        found.items = [{"id": r["id"], "status": r["status"], "version": r["version"],
                        "provider_role": r["provider_role"], "provider_id": r["provider_id"],
                        **json.loads(r["content"]), "content_version": r["content_version"],
                        "created_at": r["created_at"], "updated_at": r["updated_at"]} for r in found.items]
        return found

    def queue(self, department_id: str, status: str | None, number: int, size: int) -> Found:
        where = Where().add("handler_role = 'dept' AND handler_id = %s", department_id).equal((("status", status),))
        return page(self.db, "service_requests", where, "created_at, id", number, size)


def published_items(db) -> list[dict]:
    """The catalogue's published items (Open311's services), oldest first so codes keep their order."""
    return db.rows("SELECT id, provider_role, provider_id, department_id, title, category, mode, promised_days, content "
                   "FROM service_items WHERE status = 'published' ORDER BY created_at, id")
