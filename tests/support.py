"""Test helpers: build a system on a fake clock, and drive the HTTP API as a city's users would."""
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.stats import ANSWERS
from api.settings import Settings
from api.wiring import Linli
from domain.actors import Actor, Role
from domain.city import CITY_TZ
from workflows.clock import FakeClock
from workflows.engine import Meta

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
_serial = count(1)


def new_system(**overrides) -> Linli:
    settings = Settings(admin_token=ADMIN_TOKEN, timer_interval_seconds=0, **overrides)
    return Linli(settings, FakeClock(START))


def empty(system: Linli) -> None:
    """Forget everything: every event, read model, token and idempotency record; clock to START.

    Tests only: on PostgreSQL this uses the documented override of the append-only trigger. What
    processes keep of history (cached aggregates, the last /stats answer) goes too."""
    system.clock.set(START)
    ANSWERS.pop(system, None)
    system.people.forget()  # drops the cached keys and every context's cached aggregates
    if system.settings.postgres:
        schema = system.settings.database_schema
        with psycopg.connect(system.settings.database_url, autocommit=True) as conn, conn.transaction():
            conn.execute("SET LOCAL linli.allow_history_rewrite = 'on'")
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
            conn.execute(f"TRUNCATE {', '.join(f'{schema}.{t}' for t in tables)} RESTART IDENTITY CASCADE")
        return
    for path in sorted(system.settings.data_dir.glob("*.sqlite")):
        with sqlite3.connect(path) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')


class Unclosed:
    """The test's system lent to a CLI command, which shuts down what it is given."""

    def __init__(self, system):
        self._system = system

    def __getattr__(self, name):
        return getattr(self._system, name)

    def shutdown(self) -> None:
        pass


@dataclass
class Party:
    """Someone holding a token: an organisation, a member, the operator."""

    id: str
    role: str
    headers: dict


# the path to reach each demand state, after creation (draft)
DEMAND_PATHS = {
    "draft": [],
    "pending_review": ["submit"],
    "rejected": ["submit", "reject"],
    "open": ["submit", "approve"],
    "filled": ["submit", "approve", "+fill"],
    "in_progress": ["submit", "approve", "+claim", "start"],
    "fulfilled": ["submit", "approve", "start-empty"],
    "closed": ["submit", "approve", "start-empty", "close"],
    "withdrawn": ["withdraw"],
    "expired": ["submit", "approve", "+expire"],
}

# the path to reach each claim state on an open demand (owner acts unless stated)
CLAIM_PATHS = {
    "pending": [],
    "waitlisted": ["waitlist"],
    "confirmed": ["confirm"],
    "declined": ["decline"],
    "cancelled": ["cancel"],
    "checked_in": ["confirm", "+start", "check_in"],
    "completed": ["confirm", "+start", "check_in", "complete"],
    "verified": ["confirm", "+start", "check_in", "complete", "verify"],
    "no_show": ["confirm", "+late", "no_show"],
}

# the path to reach each booking state, on a venue requiring approval (owner acts unless stated)
BOOKING_PATHS = {
    "requested": [],
    "confirmed": ["approve"],
    "rejected": ["reject"],
    "cancelled": ["cancel"],
    "checked_in": ["approve", "+start", "check_in"],
    "completed": ["approve", "+start", "check_in", "complete"],
    "no_show": ["approve", "+late", "+tick"],
    "expired": ["+start", "+tick"],
}

# the path to reach each service item state (provider acts unless stated)
ITEM_PATHS = {
    "draft": [],
    "in_review": ["submit"],
    "published": ["submit", "publish"],
    "suspended": ["submit", "publish", "suspend"],
    "retired": ["submit", "publish", "retire"],
    "discarded": ["discard"],
}

# the path to reach each service request state (handler acts unless stated)
REQUEST_PATHS = {
    "submitted": [],
    "returned": ["return"],
    "accepted": ["accept"],
    "not_accepted": ["not_accept"],
    "in_progress": ["accept", "start"],
    "awaiting_applicant": ["accept", "start", "await_applicant"],
    "resolved": ["accept", "start", "resolve"],
    "closed": ["accept", "start", "resolve", "evaluate"],
    "withdrawn": ["withdraw"],
}
APPLICANT_STEPS = ("resubmit", "respond", "evaluate", "reopen", "withdraw")

ACTION_BODIES = {"reject": {"reason": "信息不全"}, "return": {"reason": "材料不全，请补正"},
                 "not_accept": {"reason": "不属于本部门职责"}, "resolve": {"outcome": "approved", "note": "已兑现"},
                 "evaluate": {"rating": 5}, "suspend": {"reason": "政策调整"}, "withdraw": {"reason": "活动取消"}, "decline": {"reason": "人数已够"},
                 "close": {"rating": 5, "feedback": "很好"}, "complete": {"hours": 2.5}, "verify": {"rating": 5},
                 "cancel": {"reason": "临时有事"}}


class Api:
    def __init__(self, client: TestClient, system: Linli):
        self.client, self.system = client, system
        self.clock: FakeClock = system.clock
        self.admin = Party("admin", "admin", {"Authorization": f"Bearer {ADMIN_TOKEN}"})
        self._grid: str | None = None

    @classmethod
    @contextmanager
    def serving(cls, system: Linli):
        with TestClient(create_app(system, run_timers=False)) as client:
            yield cls(client, system)

    # -- raw calls ----------------------------------------------------------------------------
    def post(self, path: str, json: dict | None = None, by: Party | None = None, headers: dict | None = None):
        return self.client.post(path, json=json, headers={**(by.headers if by else {}), **(headers or {})})

    def get(self, path: str, by: Party | None = None, **params):
        return self.client.get(path, params=params or None, headers=by.headers if by else {})

    def ok(self, response, status: int = 200) -> dict:
        assert response.status_code == status, response.text
        return response.json()

    def event_count(self) -> int:
        return sum(app.recorder.max_notification_id() or 0 for app in self.system.contexts.values())

    def tick(self) -> int:
        return self.system.timers.tick()

    # -- the registry --------------------------------------------------------------------------
    def grid(self) -> str:
        if self._grid is None:
            n = next(_serial)
            self._grid = self.ok(self.post("/grids", {"code": f"G{n}", "name": f"三坊七巷网格{n}", "type": "街区型",
                                                      "district": "鼓楼区"}, self.admin), 201)["id"]
        return self._grid

    def token(self, role: str, subject_id: str) -> Party:
        body = self.ok(self.post("/auth/tokens", {"role": role, "subject_id": subject_id, "name": "test"}, self.admin),
                       201)
        return Party(subject_id, role, {"Authorization": f"Bearer {body['token']}"})

    def org(self, name: str = "") -> Party:
        n = next(_serial)
        body = self.ok(self.post("/organisations", {"name": name or f"社区党委{n}", "kind": "党组织",
                                                    "grid_id": self.grid(), "district": "鼓楼区"}, self.admin), 201)
        return self.token("org", body["id"])

    def member(self, name: str = "", org: Party | None = None) -> Party:
        org_id = org.id if org else self.org().id
        body = self.ok(self.post("/members", {"name": name or f"党员{next(_serial)}", "organisation_id": org_id,
                                              "grid_id": self.grid(), "flowing": False}, self.admin), 201)
        return self.token("member", body["id"])

    def auditor(self) -> Party:
        return self.token("auditor", "auditor-1")

    # -- demands and claims --------------------------------------------------------------------
    def demand_body(self, **overrides) -> dict:
        now = self.clock.now()
        return {"title": "社区助老志愿服务", "description": "陪伴老人", "category": "助老服务", "grid_id": self.grid(),
                "needed": 2, "claim_deadline": (now + timedelta(days=1)).isoformat(),
                "starts_at": (now + timedelta(days=2)).isoformat(),
                "ends_at": (now + timedelta(days=2, hours=3)).isoformat(), "auto_confirm": False, **overrides}

    def act(self, kind: str, record_id: str, trigger: str, by: Party, body: dict | None = None, status: int = 200):
        payload = ACTION_BODIES.get(trigger, {}) if body is None else body
        return self.ok(self.post(f"/{kind}/{record_id}/actions/{trigger}", payload, by), status)

    def demand(self, owner: Party, status: str = "open", **overrides) -> dict:
        """A demand of `owner` driven through the API to `status`."""
        d = self.ok(self.post("/demands", self.demand_body(**overrides), owner), 201)
        for step in DEMAND_PATHS[status]:
            if step == "+fill":
                for _ in range(d["needed"]):
                    c = self.claim(d, self.member())
                    self.act("claims", c["id"], "confirm", owner)
            elif step == "+claim":
                c = self.claim(d, self.member())
                self.act("claims", c["id"], "confirm", owner)
            elif step == "start-empty":
                c = self.claim(d, self.member())
                self.act("claims", c["id"], "confirm", owner)
                self.act("demands", d["id"], "start", owner)
                self.act("claims", c["id"], "check_in", owner)
                self.act("claims", c["id"], "complete", owner)
                self.act("demands", d["id"], "fulfil", owner)
            elif step == "+expire":
                self.clock.set(datetime.fromisoformat(d["claim_deadline"]) + timedelta(minutes=1))
                self.tick()
            else:
                by = self.admin if step in ("approve", "reject") else owner
                self.act("demands", d["id"], step, by)
        d = self.ok(self.get(f"/demands/{d['id']}", owner))
        assert d["status"] == status, d
        return d

    def claim(self, demand: dict, by: Party, headcount: int = 1, status: int = 201) -> dict:
        self.clock.advance(milliseconds=1)  # events are dated by the clock: claims made one after another
        return self.ok(self.post(f"/demands/{demand['id']}/claims", {"headcount": headcount}, by), status)

    def claim_in(self, status: str, owner: Party | None = None, claimant: Party | None = None) -> tuple[dict, dict]:
        """(demand, claim) with the claim driven to `status`; the demand needs 2 and confirms by hand."""
        owner = owner or self.org()
        claimant = claimant or self.member()
        d = self.demand(owner, "open")
        c = self.claim(d, claimant)
        for step in CLAIM_PATHS[status]:
            if step == "+start":
                self.act("demands", d["id"], "start", owner)
            elif step == "+late":
                self.clock.set(datetime.fromisoformat(d["starts_at"]) + timedelta(minutes=16))
            else:
                by = claimant if step == "cancel" else owner
                self.act("claims", c["id"], step, by)
        c = self.ok(self.get(f"/claims/{c['id']}", owner))
        assert c["status"] == status, c
        return d, c

    # -- venues and bookings ---------------------------------------------------------------------
    def venue_body(self, **overrides) -> dict:
        return {"name": "鼓楼区党群服务中心多功能厅", "address": "鼓楼区东街1号", "grid_id": self.grid(), "capacity": 50,
                "opens_at": "08:00", "closes_at": "21:00", "requires_approval": False, "min_notice_hours": 2,
                "max_advance_days": 30, "cancel_lock_hours": 24, "blackouts": [], **overrides}

    def venue(self, owner: Party, status: str = "active", **overrides) -> dict:
        v = self.ok(self.post("/venues", self.venue_body(**overrides), owner), 201)
        steps = {"active": [], "suspended": ["suspend"], "retired": ["retire"]}[status]
        for step in steps:
            v = self.act("venues", v["id"], step, owner)
        return v

    def slot(self, days: int = 3, hour: int = 10, hours: int = 2) -> dict:
        """A slot `days` ahead at a local (UTC+8) hour."""
        local = self.clock.now().astimezone(CITY_TZ).replace(hour=hour, minute=0, second=0, microsecond=0)
        starts = local + timedelta(days=days)
        return {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=hours)).isoformat()}

    def book(self, venue: dict, by: Party, status: int = 201, attendees: int = 10, **slot) -> dict:
        body = {**(slot or self.slot()), "attendees": attendees, "purpose": "支部主题党日活动"}
        return self.ok(self.post(f"/venues/{venue['id']}/bookings", body, by), status)

    def booking_in(self, status: str, owner: Party | None = None, requester: Party | None = None) -> tuple[dict, dict]:
        """(venue, booking) with the booking driven to `status` on a venue requiring approval."""
        owner = owner or self.org()
        requester = requester or self.member()
        v = self.venue(owner, requires_approval=True)
        b = self.book(v, requester)
        for step in BOOKING_PATHS[status]:
            if step == "+start":
                self.clock.set(datetime.fromisoformat(b["starts_at"]))
            elif step == "+late":
                self.clock.set(datetime.fromisoformat(b["starts_at"]) + timedelta(minutes=16))
            elif step == "+tick":
                self.tick()
            else:
                by = requester if step == "cancel" else owner
                self.act("bookings", b["id"], step, by)
        b = self.ok(self.get(f"/bookings/{b['id']}", owner))
        assert b["status"] == status, b
        return v, b

    # -- departments, service items and requests --------------------------------------------------
    def department(self, name: str = "") -> Party:
        n = next(_serial)
        body = self.ok(self.post("/departments", {"code": f"D{n}", "name": name or f"市人社局{n}"}, self.admin), 201)
        return self.token("dept", body["id"])

    def item_body(self, **overrides) -> dict:
        now = self.clock.now()
        return {"title": "稳岗返还", "category": "奖补类", "mode": "免申即享", "basis": "《失业保险条例》",
                "eligibility": "依法参保的企业", "materials": "无需材料", "promised_days": 5,
                "valid_from": now.isoformat(), "valid_to": (now + timedelta(days=365)).isoformat(),
                "co_department_ids": [], **overrides}

    def item(self, provider: Party, status: str = "published", **overrides) -> dict:
        i = self.ok(self.post("/service-items", self.item_body(**overrides), provider), 201)
        for step in ITEM_PATHS[status]:
            i = self.act("service-items", i["id"], step, self.admin if step == "publish" else provider)
        return i

    def service_request_in(self, status: str, handler: Party | None = None, applicant: Party | None = None,
                           **item_overrides) -> tuple[dict, dict]:
        """(item, request) with the request driven to `status` under a department's published item."""
        handler = handler or self.department()
        applicant = applicant or self.org()
        i = self.item(handler, **item_overrides)
        r = self.ok(self.post(f"/service-items/{i['id']}/requests", {"subject": "申请稳岗返还", "detail": "企业参保3年"},
                              applicant), 201)
        for step in REQUEST_PATHS[status]:
            r = self.act("service-requests", r["id"], step, applicant if step in APPLICANT_STEPS else handler)
        assert r["status"] == status, r
        return i, r


class Scene:
    """What a spec's steps share: who is who by name (平台管理员 from the start), the last response
    of a step phrased with 尝试 ("tries to"), and the last timer run."""

    def __init__(self, api: "Api"):
        self.api = api
        self.parties: dict[str, Party] = {"平台管理员": api.admin}
        self.response = None
        self.fired: int | None = None
        self.events_before: int | None = None

    def who(self, name: str) -> Party:
        assert name in self.parties, f"nobody called {name!r} here (known: {', '.join(self.parties)})"
        return self.parties[name]


def run_timers(scene: Scene) -> None:
    """A spec's timer run: remember the event count before, and how many deadlines fired."""
    scene.events_before = scene.api.event_count()
    scene.fired = scene.api.tick()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def module_api(request, tmp_path_factory, name: str) -> Iterator["Api"]:
    """One system per backend for a module (as conftest builds `api`, but module-scoped), for a
    fixture parametrised with BACKENDS; a PostgreSQL schema of its own, dropped afterwards."""
    if request.param == "sqlite":
        url, schema, backend = None, None, {"data_dir": tmp_path_factory.mktemp(name)}
    else:
        url = request.getfixturevalue("pg_url")
        schema = f"linli_test_{uuid.uuid4().hex[:12]}"
        backend = {"database_url": url, "database_schema": schema, "pool_size": 2}
    system = new_system(**backend)
    try:
        with Api.serving(system) as api:
            yield api
    finally:
        system.shutdown()
        if schema:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def expect_problem(response, status: int, slug: str) -> dict:
    """An RFC 9457 problem of this type and status, with its title and detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}", problem
    assert problem["status"] == status and problem["title"] and problem["detail"], problem
    return problem


def fire(api: "Api", collection: str, record: dict, trigger: str, by: "Party | None", body: dict | None = None,
         bodies: dict = ACTION_BODIES):
    """POST the action and return the raw response (`by` None: anonymous); without a body, the
    trigger's usual one from `bodies`."""
    payload = bodies.get(trigger, {}) if body is None else body
    return api.post(f"/{collection}/{record['id']}/actions/{trigger}", payload, by)


def may_fire(lifecycle, state: str, relations: set[str]) -> list[str]:
    """What these relations may fire from `state`, read straight off the table, in table order."""
    return [r.trigger for r in lifecycle.rows if state in r.sources and r.roles & relations]


def system_when_room(pg_url: str, schema: str, pool_size: int = 1) -> Linli:
    """A race process's own system. The PostgreSQL server may be shared with other suites: when it
    has no connection left, wait and try again rather than fail the race for want of one."""
    for _ in range(40):
        try:
            return new_system(database_url=pg_url, database_schema=schema, pool_size=pool_size)
        except Exception as error:  # noqa: BLE001
            if not any(full in str(error) for full in ("too many clients", "couldn't get a connection")):
                raise
            time.sleep(1 + random.random())
    raise RuntimeError("PostgreSQL stayed full for a minute")


def registered_org(system: Linli) -> tuple[Actor, str]:
    """An organisation and its grid, registered straight through the registry application (the
    other applications check the references a command names), as the organisation's actor."""
    admin = Actor("admin", Role.ADMIN)
    grid = str(system.registry.register(Meta(admin), "grid", uuid.uuid4(), code="G1", name="三坊七巷网格",
                                        type="街区型", district="鼓楼区").value.id)
    org = system.registry.register(Meta(admin), "organisation", uuid.uuid4(), name="社区党委", kind="党组织",
                                   grid_id=grid, district="鼓楼区").value
    return Actor(str(org.id), Role.ORG), grid
