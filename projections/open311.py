"""What Open311 GeoReport v2 reads: every demand and service request as one kind of "request"
(where it is, what it says, whose it is, its state), and the feed of their updates, one row per
event (FixMyStreet's servicerequestupdates). The SLA clock and item titles are joined from the
service catalogue's tables at read time, so they are kept in one place."""
from collections.abc import Sequence
from dataclasses import dataclass
from functools import singledispatchmethod

from domain.demand import PUBLIC_STATES, Demand
from domain.service_request import ServiceRequest
from projections.db import Database, Tx
from projections.projector import View, iso

PUBLIC_SQL = ", ".join(f"'{s}'" for s in PUBLIC_STATES)
# bookkeeping of a demand's claim book, not something that happened to the demand
QUIET = (Demand.ClaimDropped,)


@dataclass(frozen=True)
class Viewer:
    """Whose requests a reader sees besides the public board: every one (staff), or the ones it
    filed or posted (`owner_id`) and the ones it handles (`agency`: role and id)."""

    sees_all: bool = False
    owner_id: str = ""
    agency: tuple[str, str] = ("", "")


class Open311Feed(View):
    name = "open311"
    tables = ("open311_requests", "open311_updates")
    ddl = (
        """CREATE TABLE IF NOT EXISTS open311_requests (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, service_key TEXT NOT NULL, owner_id TEXT NOT NULL,
            agency_role TEXT NOT NULL, agency_id TEXT NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL,
            lat REAL, long REAL, address TEXT, address_id TEXT,
            version INTEGER NOT NULL, requested_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS open311_requests_requested ON open311_requests (requested_at)",
        "CREATE INDEX IF NOT EXISTS open311_requests_owner ON open311_requests (owner_id, requested_at)",
        "CREATE INDEX IF NOT EXISTS open311_requests_agency ON open311_requests (agency_id, requested_at)",
        """CREATE TABLE IF NOT EXISTS open311_updates (
            update_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, status TEXT NOT NULL, change TEXT NOT NULL,
            detail TEXT, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS open311_updates_time ON open311_updates (updated_at)",
    )

    def __init__(self):
        self._status: dict[str, str] = {}  # each request's state as of this batch (a read per batch at most)

    def begin_batch(self, tx: Tx, context: str) -> None:
        self._status.clear()

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, (Demand.Event, ServiceRequest.Event)) and not isinstance(event, QUIET):
            self._changed(tx, event)

    @apply.register
    def _(self, event: Demand.Posted, tx: Tx, context: str) -> None:
        self._created(tx, event, "demand", event.category, event.organisation_id, "org", event.organisation_id,
                      event.description, "draft")

    @apply.register
    def _(self, event: ServiceRequest.Filed, tx: Tx, context: str) -> None:
        self._created(tx, event, "service_request", event.item_id, event.applicant_id, event.handler_role,
                      event.handler_id, event.detail, "submitted")

    @apply.register
    def _(self, event: Demand.Revised, tx: Tx, context: str) -> None:
        self._changed(tx, event, description=event.description, service_key=event.category)

    @apply.register
    def _(self, event: ServiceRequest.Resubmitted, tx: Tx, context: str) -> None:
        self._changed(tx, event, description=event.detail)

    @apply.register
    def _(self, event: ServiceRequest.Transferred, tx: Tx, context: str) -> None:
        self._changed(tx, event, detail=event.department_id, agency_role="dept", agency_id=event.department_id)

    @apply.register
    def _(self, event: Demand.ClaimNoted, tx: Tx, context: str) -> None:
        self._changed(tx, event, detail=f"{event.claim_status}:{event.headcount}")

    def _created(self, tx: Tx, event, kind: str, key: str, owner: str, agency_role: str, agency_id: str,
                 description: str, status: str) -> None:
        place = getattr(event, "location", None) or {}
        tx.execute(
            "INSERT INTO open311_requests (id, kind, service_key, owner_id, agency_role, agency_id, description, "
            "status, lat, long, address, address_id, version, requested_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (str(event.originator_id), kind, key, owner, agency_role, agency_id, description, status,
             place.get("lat"), place.get("long"), place.get("address_string"), place.get("address_id"),
             event.originator_version, iso(event.timestamp), iso(event.timestamp)))
        self._status[str(event.originator_id)] = status
        _update(tx, event, status, None)

    def _changed(self, tx: Tx, event, detail: str | None = None, **changes) -> None:
        request_id = str(event.originator_id)
        values = {"version": event.originator_version, "updated_at": iso(event.timestamp), **changes}
        if "status" in vars(event):
            values["status"] = event.status
        sets = ", ".join(f"{column} = %s" for column in values)
        tx.execute(f"UPDATE open311_requests SET {sets} WHERE id = %s", (*values.values(), request_id))
        if "status" in values:
            self._status[request_id] = values["status"]
        elif request_id not in self._status:
            self._status[request_id] = tx.rows("SELECT status FROM open311_requests WHERE id = %s",
                                               (request_id,))[0]["status"]
        _update(tx, event, self._status[request_id], detail)


def _update(tx: Tx, event, status: str, detail: str | None) -> None:
    tx.execute("INSERT INTO open311_updates (update_id, request_id, status, change, detail, updated_at) "
               "VALUES (%s, %s, %s, %s, %s, %s)",
               (f"{event.originator_id}-{event.originator_version}", str(event.originator_id), status,
                type(event).__name__, detail, iso(event.timestamp)))


def _visible(viewer: Viewer, alias: str = "r") -> tuple[str, list]:
    if viewer.sees_all:
        return "TRUE", []
    return (f"(({alias}.kind = 'demand' AND {alias}.status IN ({PUBLIC_SQL})) OR {alias}.owner_id = %s "
            f"OR ({alias}.agency_role = %s AND {alias}.agency_id = %s))", [viewer.owner_id, *viewer.agency])


REQUEST_COLUMNS = ("r.*, i.title AS item_title, s.promised_days, s.consumed, s.running_since, s.accepted, s.stopped, "
                   "s.warned, s.breached")
JOINS = ("open311_requests r LEFT JOIN service_items i ON i.id = r.service_key "
         "LEFT JOIN service_requests s ON s.id = r.id")


def requests_by_id(db: Database, ids: Sequence[str], viewer: Viewer) -> list[dict]:
    """The named requests the viewer may see, in the order named (unknown ids are left out)."""
    if not ids:
        return []
    seen, params = _visible(viewer)
    rows = db.rows(f"SELECT {REQUEST_COLUMNS} FROM {JOINS} WHERE r.id IN ({', '.join(['%s'] * len(ids))}) "
                   f"AND {seen}", (*ids, *params))
    by_id = {row["id"]: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def requests_between(db: Database, since: str, until: str, viewer: Viewer, keys: Sequence[str] | None,
                     statuses: Sequence[str] | None, limit: int, offset: int) -> list[dict]:
    """Requests made in [since, until] (UTC ISO strings), newest first, of these services (item
    ids and demand categories) and Linli states when given."""
    seen, params = _visible(viewer)
    where, extra = ["r.requested_at >= %s", "r.requested_at <= %s", seen], [since, until, *params]
    for column, values in (("r.service_key", keys), ("r.status", statuses)):
        if values is not None:
            where.append(f"{column} IN ({', '.join(['%s'] * len(values))})" if values else "FALSE")
            extra += list(values)
    return db.rows(f"SELECT {REQUEST_COLUMNS} FROM {JOINS} WHERE {' AND '.join(where)} "
                   "ORDER BY r.requested_at DESC, r.id LIMIT %s OFFSET %s", (*extra, limit, offset))


def updates_between(db: Database, since: str, until: str, viewer: Viewer, limit: int, offset: int) -> list[dict]:
    """What happened to the requests the viewer may see, in [since, until], oldest first."""
    seen, params = _visible(viewer)
    return db.rows("SELECT u.*, r.kind FROM open311_updates u JOIN open311_requests r ON r.id = u.request_id "
                   f"WHERE u.updated_at >= %s AND u.updated_at <= %s AND {seen} "
                   "ORDER BY u.updated_at, u.update_id LIMIT %s OFFSET %s", (since, until, *params, limit, offset))
