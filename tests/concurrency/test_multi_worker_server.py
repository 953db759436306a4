"""The foundation's features against a live multi-process server, on PostgreSQL (DESIGN §4, §5).

One server for this module: `python -m api.cli serve --workers 2 --projections worker` (two uvicorn
worker processes, each with its own system and pools; no read model is written in them) plus one
`python -m api.cli projections run` worker, on one fresh schema.

The demand and claim scenarios of features/test_demands_and_claims.py run here unchanged, step for
step: this module takes the feature module's scenario tests and step definitions and gives them a
different `api` (LiveApi) that speaks real HTTP to the live server instead of an in-process
TestClient. What LiveApi adds is only what a real client of a worker-projected deployment does, or
what the shared live store needs:

- reads of read models carry `min_position`: every command answer's `position` is remembered and
  the next GETs pass the highest seen per context (`?min_position=registry:N,demands:M`), so they
  read their writes whichever server process answers them and however far the worker lags;
- time: the server runs on the system clock, so each scenario's clock starts at the real now (the
  demands it posts fall in the future); a step that moves time moves the test's own clock, and the
  timers then fire through the test's own system (its engine writing to the same store) once the
  deadlines read model has caught up with what the scenario did;
- `/stats` totals are answered relative to the scenario's start: the live store also holds every
  earlier scenario, and a scenario speaks of what it did ("已发布需求 1 条").

One scenario cannot run against a server on the system clock and is not taken: after the timers
have run past the claim deadline on the test's clock, "截止时已有党员确认，需求不会过期，但不再接受认领"
expects the server to refuse a new claim because *its* clock is past the deadline.

Besides, a demand/claim flow written out over httpx checks the wire itself: `position` on every
command answer, min_position answered by both server processes, capacity fill, waitlist FIFO
promotion on cancel, the withdrawal cascade.
"""
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

import features.conftest as shared_steps
import features.test_demands_and_claims as spoken
from tests.concurrency.live import (
    ADMIN,
    Server,
    linli_env,
    local_system,
    projection_worker,
    reached,
    wait_until,
)
from tests.support import Api, Party

pytestmark = pytest.mark.postgres

# needs the server's clock past the claim deadline (see the module docstring)
NEEDS_SERVER_CLOCK = {"test_截止时已有党员确认需求不会过期但不再接受认领"}

# the feature module's step definitions (its own and those features/conftest.py shares), its
# `scene` fixture, and its scenarios
globals().update({name: value for name, value in vars(shared_steps).items() if name.startswith("pytestbdd_")})
globals().update({name: value for name, value in vars(spoken).items()
                  if name.startswith("pytestbdd_") or name == "scene"
                  or (name.startswith("test_") and name not in NEEDS_SERVER_CLOCK)})


# -- the live deployment -----------------------------------------------------------------------------
class Live:
    def __init__(self, pg_url: str, schema: str, logdir):
        self.system = local_system(pg_url, schema)
        env = linli_env(pg_url, schema)
        self.server = Server(env, logdir, workers=2)
        self.worker = projection_worker(env, logdir)

    def start(self) -> "Live":
        self.server.start()
        self.worker.start().wait_for_log("leading", 120, count=len(self.system.projector.views))
        return self

    def stop(self) -> None:
        for proc in (self.server, self.worker):
            proc.stop(timeout=20)
        self.system.shutdown()


@pytest.fixture(scope="module")
def live(pg_url, tmp_path_factory):
    """One live deployment for the module, on a schema of its own (dropped afterwards)."""
    schema = f"linli_test_{uuid.uuid4().hex[:12]}"
    deployment = Live(pg_url, schema, tmp_path_factory.mktemp("live"))
    try:
        yield deployment.start()
        assert deployment.server.alive, deployment.server.tail()
        assert deployment.worker.alive, deployment.worker.tail()
    finally:
        deployment.stop()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- the features' Api, over real HTTP ---------------------------------------------------------------------
STATS_TOTALS = ("organisations", "members", "departments", "demands_published", "claims", "venues_shared",
                "bookings", "services_shared", "policy_items", "service_hours")


class LiveApi(Api):
    """tests.support.Api for a live server: same helpers, real HTTP, reads that wait for their writes."""

    def __init__(self, client: httpx.Client, live: Live):
        super().__init__(client, live.system)
        self.live = live
        self.clock.set(datetime.now(UTC).replace(microsecond=0))
        self.seen: dict[str, int] = {}
        self.remember(self.system.projector.heads())
        self.baseline = {}
        self.baseline = {k: v for k, v in self.ok(self.get("/stats")).items() if k in STATS_TOTALS}

    def remember(self, positions: dict[str, int]) -> None:
        for context, position in positions.items():
            if position:
                self.seen[context] = max(self.seen.get(context, 0), position)

    def min_position(self) -> str:
        return ",".join(f"{c}:{n}" for c, n in sorted(self.seen.items()))

    def post(self, path: str, json: dict | None = None, by: Party | None = None, headers: dict | None = None):
        response = super().post(path, json, by, headers)
        if response.headers.get("content-type", "").startswith("application/json"):
            position = response.json().get("position") if isinstance(response.json(), dict) else None
            if position:
                context, number = position.split(":")
                self.remember({context: int(number)})
        return response

    def get(self, path: str, by: Party | None = None, **params):
        if self.seen and "min_position" not in params:
            params["min_position"] = self.min_position()
        response = super().get(path, by, **params)
        if path == "/stats" and response.status_code == 200 and self.baseline:
            body = response.json()
            relative = {**body, **{k: body[k] - self.baseline.get(k, 0) for k in STATS_TOTALS}}
            response = httpx.Response(200, json=relative, request=response.request)
        return response

    def tick(self) -> int:
        """Fire due deadlines on this scenario's clock once the deadlines model has what the scenario did."""
        wait_until(lambda: all(reached(self.system, c, n) for c, n in self.seen.items()), 60,
                   f"read models did not reach {self.seen}\n{self.live.worker.tail()}", interval=0.05)
        fired = self.system.timers.tick()
        self.remember(self.system.projector.heads())
        return fired


@pytest.fixture
def api(live) -> Api:
    with httpx.Client(base_url=live.server.url, timeout=60) as client:
        yield LiveApi(client, live)


def test_every_scenario_of_the_demand_features_is_taken():
    """Only the scenario named in NEEDS_SERVER_CLOCK is left out; all others run here."""
    scenarios = {name for name in vars(spoken) if name.startswith("test_")}
    taken = {name for name in globals() if name.startswith("test_")} & scenarios
    assert NEEDS_SERVER_CLOCK <= scenarios, "a scenario left out no longer exists: update NEEDS_SERVER_CLOCK"
    assert taken == scenarios - NEEDS_SERVER_CLOCK and len(taken) >= 40, len(taken)


# -- a demand/claim flow, written out over httpx --------------------------------------------------------
def test_demand_and_claim_flow_over_real_http_with_min_position(live):
    with httpx.Client(base_url=live.server.url, timeout=60) as client:
        def ok(response: httpx.Response, status: int = 200) -> dict:
            assert response.status_code == status, response.text
            return response.json()

        positions: dict[str, int] = {}

        def command(path: str, body: dict, headers: dict, status: int = 200) -> dict:
            answer = ok(client.post(path, json=body, headers=headers), status)
            assert re.fullmatch(r"(registry|demands):\d+", answer["position"]), answer
            context, number = answer["position"].split(":")
            positions[context] = max(positions.get(context, 0), int(number))
            return answer

        def read(path: str, headers: dict | None = None, **params) -> dict:
            mp = ",".join(f"{c}:{n}" for c, n in positions.items())
            return ok(client.get(path, params={**params, "min_position": mp}, headers=headers or {}))

        def token(role: str, subject: str) -> dict:
            body = ok(client.post("/auth/tokens", json={"role": role, "subject_id": subject, "name": "flow"},
                                  headers=ADMIN), 201)
            return {"Authorization": f"Bearer {body['token']}"}

        grid = command("/grids", {"code": "FLOW", "name": "流程网格", "type": "街区型", "district": "鼓楼区"}, ADMIN, 201)
        org = command("/organisations", {"name": "流程组织", "kind": "党组织", "grid_id": grid["id"],
                                         "district": "鼓楼区"}, ADMIN, 201)
        owner = token("org", org["id"])
        members = []
        for n in range(5):
            m = command("/members", {"name": f"流程党员{n}", "organisation_id": org["id"], "grid_id": grid["id"]},
                        ADMIN, 201)
            members.append(token("member", m["id"]))
        before = read("/stats")

        now = datetime.now(UTC)
        d = command("/demands", {"title": "流程需求", "description": "陪伴老人", "category": "助老服务",
                                 "grid_id": grid["id"], "needed": 2, "auto_confirm": True,
                                 "claim_deadline": (now + timedelta(days=1)).isoformat(),
                                 "starts_at": (now + timedelta(days=2)).isoformat(),
                                 "ends_at": (now + timedelta(days=2, hours=2)).isoformat()}, owner, 201)
        command(f"/demands/{d['id']}/actions/submit", {}, owner)
        command(f"/demands/{d['id']}/actions/approve", {}, ADMIN)

        def board() -> dict:
            rows = read("/demands", ADMIN, q="流程需求", page_size=10)["items"]
            assert len(rows) == 1, rows
            return rows[0]

        def claims() -> list[str]:
            listed = read(f"/demands/{d['id']}/claims", owner, page_size=100)
            assert listed["total"] == len(listed["items"])
            return [r["status"] for r in listed["items"]]

        assert board()["status"] == "open"
        # capacity: two are seated and the demand is filled; the next two wait, in order
        made = [command(f"/demands/{d['id']}/claims", {"headcount": 1}, m, 201) for m in members[:4]]
        assert [c["status"] for c in made] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
        row = board()
        assert (row["status"], row["confirmed"], row["waitlisted"]) == ("filled", 2, 2), row
        assert claims() == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
        # FIFO promotion: a seated member cancels, the earliest waiting claim is confirmed by the system
        command(f"/claims/{made[0]['id']}/actions/cancel", {"reason": "临时有事"}, members[0])
        assert ok(client.get(f"/claims/{made[2]['id']}", headers=owner))["status"] == "confirmed"
        assert ok(client.get(f"/claims/{made[3]['id']}", headers=owner))["status"] == "waitlisted"
        row = board()
        assert (row["status"], row["confirmed"], row["waitlisted"]) == ("filled", 2, 1), row
        assert claims() == ["cancelled", "confirmed", "confirmed", "waitlisted"]
        # the withdrawal cascade: every claim still running is cancelled by the system
        command(f"/demands/{d['id']}/actions/withdraw", {"reason": "场地临时征用"}, owner)
        assert {ok(client.get(f"/claims/{c['id']}", headers=owner))["status"] for c in made} == {"cancelled"}
        row = board()
        assert (row["status"], row["confirmed"], row["waitlisted"]) == ("withdrawn", 0, 0), row
        assert claims() == ["cancelled"] * 4
        after = read("/stats")
        assert after["demands_published"] - before["demands_published"] == 1
        assert after["claims"] - before["claims"] == 4

    # the server is two uvicorn worker processes (spawned by its supervisor), both still running
    assert len(server_workers(live.server.pid)) == 2, server_workers(live.server.pid)


def server_workers(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        children = [int(p) for p in f.read().split()]
    found = []
    for child in children:
        with open(f"/proc/{child}/cmdline", "rb") as f:
            if b"spawn_main" in f.read():
                found.append(child)
    return found
