"""The connection budget (docs/operations.md, "Connection budget"): one Linli process holds at most
LINLI_POOL_SIZE PostgreSQL connections (10 by default) whatever its load, so two API processes and a
projection worker fit a stock server's `max_connections = 100` many times over.

With a budget of one connection every path still works, which shows that nothing holds a pooled
connection while it asks for another (such code would wait for ever on a bounded pool once enough
of it ran at once; with one connection it waits at its first run).

A real `linli serve` process (inline projections, the default: every command also brings the read
models up to date) and a `linli projections run` worker run on the test's schema with the default
budget. 64 clients at once register members, hand out tokens, post and approve demands, claim them
(auto-confirmed, so some land on the waitlist) and read boards, demands and claim lists, while a
sampler counts each process's connections in `pg_stat_activity` (every connection a process opens
carries its PGAPPNAME as application_name). Every request must be answered below 500: a bounded
pool makes requests wait their turn, never fail.
"""
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.concurrency.live import ADMIN, Proc, Server, linli_env, projection_worker, snapshot, wait_until
from tests.support import Api, new_system

pytestmark = pytest.mark.postgres

BUDGET = 10
CLIENTS = 64
ROUNDS = 3
DEMANDS = 4


class Sampler:
    """The most connections each named process held at any sample (every 20 ms)."""

    def __init__(self, pg_url: str, names: list[str]):
        self.pg_url, self.names = pg_url, names
        self.peak = dict.fromkeys(names, 0)
        self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            while not self.stop.is_set():
                counts = dict(conn.execute(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE application_name = ANY(%s) GROUP BY 1", (self.names,)).fetchall())
                for name in self.names:
                    self.peak[name] = max(self.peak[name], counts.get(name, 0))
                self.samples += 1
                self.stop.wait(0.02)

    def __enter__(self) -> "Sampler":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


class InlineServer(Server):
    """`linli serve` with inline projections (the default): its commands also update the read models."""

    def __init__(self, env: dict, logdir):
        super().__init__(env, logdir)
        self.args = ["serve", "--port", str(self.port)]


def process_env(pg_url: str, schema: str, name: str) -> dict[str, str]:
    """The live tests' environment, but with the default budget and a name of its own."""
    env = linli_env(pg_url, schema)
    env.pop("LINLI_POOL_SIZE")
    env["PGAPPNAME"] = name
    return env


class Client:
    """One of the 64: its own HTTP connection; every answer's status is counted."""

    def __init__(self, url: str, statuses: Counter, lock: threading.Lock):
        self.http = httpx.Client(base_url=url, timeout=120)
        self.statuses, self.lock = statuses, lock

    def call(self, method: str, path: str, headers: dict, body: dict | None = None) -> httpx.Response:
        response = self.http.request(method, path, json=body, headers=headers)
        with self.lock:
            self.statuses[response.status_code] += 1
        return response

    def made(self, method: str, path: str, headers: dict, body: dict | None = None) -> dict:
        response = self.call(method, path, headers, body)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()


def demand_body(grid: str, n: int) -> dict:
    now = datetime.now(UTC)
    return {"title": f"预算需求{n}", "description": "陪伴老人", "category": "助老服务", "grid_id": grid, "needed": 20,
            "claim_deadline": (now + timedelta(days=1)).isoformat(),
            "starts_at": (now + timedelta(days=2)).isoformat(),
            "ends_at": (now + timedelta(days=2, hours=3)).isoformat(), "auto_confirm": True}


def open_demand(client: Client, grid: str, org: dict, n: int) -> str:
    demand = client.made("POST", "/demands", org, demand_body(grid, n))
    client.made("POST", f"/demands/{demand['id']}/actions/submit", org, {})
    client.made("POST", f"/demands/{demand['id']}/actions/approve", ADMIN, {})
    return demand["id"]


def mixed_load(url: str) -> Counter:
    """64 clients at once, each for a few rounds of commands (claims included) and reads."""
    statuses, lock = Counter(), threading.Lock()
    setup = Client(url, statuses, lock)
    grid = setup.made("POST", "/grids", ADMIN, {"code": f"B{uuid.uuid4().hex[:6]}", "name": "预算网格",
                                                "type": "街区型", "district": "鼓楼区"})["id"]
    org_id = setup.made("POST", "/organisations", ADMIN, {"name": "预算组织", "kind": "党组织", "grid_id": grid,
                                                          "district": "鼓楼区"})["id"]
    org = {"Authorization": "Bearer " + setup.made("POST", "/auth/tokens", ADMIN, {
        "role": "org", "subject_id": org_id, "name": "budget"})["token"]}
    demands = [open_demand(setup, grid, org, n) for n in range(DEMANDS)]
    start, errors = threading.Barrier(CLIENTS), []

    def client(index: int) -> None:
        me = Client(url, statuses, lock)
        try:
            start.wait(timeout=60)
            for round_ in range(ROUNDS):
                member = me.made("POST", "/members", ADMIN, {"name": f"党员{index}-{round_}",
                                                             "organisation_id": org_id, "grid_id": grid,
                                                             "flowing": False})
                token = me.made("POST", "/auth/tokens", ADMIN, {"role": "member", "subject_id": member["id"],
                                                                "name": "budget"})["token"]
                demand = demands[(index + round_) % DEMANDS]
                me.made("POST", f"/demands/{demand}/claims", {"Authorization": f"Bearer {token}"},
                        {"headcount": 1})
                if index % 8 == 0:
                    demands.append(open_demand(me, grid, org, index * ROUNDS + round_))
                me.call("GET", "/demands", org)
                me.call("GET", f"/demands/{demand}", org)
                me.call("GET", f"/demands/{demand}/claims", org)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(f"client {index}: {error!r}")
        finally:
            me.http.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    setup.http.close()
    assert not errors, "\n".join(errors[:5])
    return statuses


def test_an_api_process_and_a_projection_worker_each_hold_at_most_ten_connections_under_load(
        pg_url, pg_schema, tmp_path, procs):
    server_name, worker_name = f"budget-api-{uuid.uuid4().hex[:8]}", f"budget-worker-{uuid.uuid4().hex[:8]}"
    server = InlineServer(process_env(pg_url, pg_schema, server_name), tmp_path)
    procs.append(server.start())
    worker: Proc = projection_worker(process_env(pg_url, pg_schema, worker_name), tmp_path)
    procs.append(worker.start())
    worker.wait_for_log("leading", timeout=60)
    with Sampler(pg_url, [server_name, worker_name]) as sampler:
        began = time.monotonic()
        statuses = mixed_load(server.url)
        took = time.monotonic() - began
        wait_until(lambda: sampler.samples > 2, 10, "the sampler took no samples")
    answered = sum(statuses.values())
    print(f"\n{answered} requests from {CLIENTS} clients in {took:.1f}s: {dict(statuses)}; "
          f"peak connections: API {sampler.peak[server_name]}, worker {sampler.peak[worker_name]}")
    assert answered >= CLIENTS * ROUNDS * 6
    assert not [s for s in statuses if s >= 500], f"answers: {dict(statuses)}\n{server.tail()}"
    assert 1 <= sampler.peak[server_name] <= BUDGET, sampler.peak
    assert 1 <= sampler.peak[worker_name] <= BUDGET, sampler.peak


def connections_named(pg_url: str, name: str) -> int:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (name,)).fetchone()[0]


def test_a_process_with_a_budget_of_one_connection_serves_every_path(pg_url, pg_schema):
    name = f"budget-one-{uuid.uuid4().hex[:8]}"
    system = new_system(database_url=f"{pg_url}?application_name={name}", database_schema=pg_schema,
                        pool_size=1)
    try:
        with Api.serving(system) as api:
            org, member = api.org(), api.member()
            api.claim_in("verified", owner=org, claimant=member)  # commands, inline projections, reads
            api.ok(api.post(f"/demands/{api.demand(org)['id']}/claims", {"headcount": 1}, member,
                            headers={"Idempotency-Key": "once"}), 201)
            api.booking_in("no_show")  # the timers
            api.service_request_in("closed")
            api.ok(api.get(f"/members/{member.id}/service-record", member))
            api.ok(api.get("/stats"))
            assert api.ok(api.get("/audit/verify", api.admin))["ok"]
            before = snapshot(system)
            system.projector.rebuild()  # its scratch schema goes through the same pool
            assert snapshot(system) == before
            assert connections_named(pg_url, name) == 1
    finally:
        system.shutdown()
