"""A hot demand (抢单, issue 10): everyone claims the same demand at once, through two API
processes on one PostgreSQL.

220 members claim one auto-confirm demand that needs 50, all released together by a barrier and
split between two `linli serve` processes, with a projection worker keeping the read models.
Within a process the claims take turns in the demand's lane and are decided together; across
the two processes a lost race re-decides a batch on fresh state. Every claim must be answered
201 (no 5xx, no refusal for load), exactly 50 seated and the other 170 waitlisted, the board
equal to the aggregate, and the waitlist in the order the demand's events record.
"""
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest

from domain.demand import Demand
from tests.concurrency.live import (ADMIN, Server, linli_env, local_system, projection_worker, table_rows,
                                    wait_caught_up)

pytestmark = pytest.mark.postgres

NEEDED = 50
CLAIMANTS = 220
CLIENTS = 64


def made(http: httpx.Client, path: str, headers: dict, body: dict) -> dict:
    response = http.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), f"POST {path}: {response.status_code} {response.text}"
    return response.json()


def a_hot_demand_and_its_claimants(url: str) -> tuple[str, list[dict]]:
    with httpx.Client(base_url=url, timeout=60) as http:
        grid = made(http, "/grids", ADMIN, {"code": f"H{uuid.uuid4().hex[:6]}", "name": "抢单网格",
                                            "type": "商圈型", "district": "台江区"})["id"]
        org_id = made(http, "/organisations", ADMIN, {"name": "抢单组织", "kind": "社会组织", "grid_id": grid,
                                                      "district": "台江区"})["id"]
        org = {"Authorization": "Bearer " + made(http, "/auth/tokens", ADMIN, {
            "role": "org", "subject_id": org_id, "name": "hot"})["token"]}
        now = datetime.now(UTC)
        demand = made(http, "/demands", org, {
            "title": "社区义诊志愿者", "description": "", "category": "医疗服务", "grid_id": grid, "needed": NEEDED,
            "claim_deadline": (now + timedelta(days=1)).isoformat(), "starts_at": (now + timedelta(days=2)).isoformat(),
            "ends_at": (now + timedelta(days=2, hours=3)).isoformat(), "auto_confirm": True})["id"]
        made(http, f"/demands/{demand}/actions/submit", org, {})
        made(http, f"/demands/{demand}/actions/approve", ADMIN, {})

    def claimant(n: int) -> dict:
        with httpx.Client(base_url=url, timeout=60) as http:
            member = made(http, "/members", ADMIN, {"name": f"党员{n}", "organisation_id": org_id, "grid_id": grid,
                                                    "flowing": False})["id"]
            token = made(http, "/auth/tokens", ADMIN, {"role": "member", "subject_id": member, "name": "hot"})
            return {"Authorization": f"Bearer {token['token']}"}

    with ThreadPoolExecutor(8) as pool:
        return demand, list(pool.map(claimant, range(CLAIMANTS)))


def everyone_claims_at_once(urls: list[str], demand: str, claimants: list[dict]) -> list[httpx.Response]:
    start = threading.Barrier(CLIENTS)
    clients = [httpx.Client(base_url=urls[i % len(urls)], timeout=120) for i in range(CLIENTS)]

    def claims_of(index: int) -> list[httpx.Response]:
        start.wait(timeout=60)
        return [clients[index].post(f"/demands/{demand}/claims", json={"headcount": 1}, headers=headers)
                for headers in claimants[index::CLIENTS]]

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            return [answer for answers in pool.map(claims_of, range(CLIENTS)) for answer in answers]
    finally:
        for client in clients:
            client.close()


def test_two_hundred_and_twenty_claims_on_one_demand_through_two_processes_seat_exactly_fifty(
        pg_url, pg_schema, tmp_path, procs):
    system = local_system(pg_url, pg_schema)
    try:
        env = linli_env(pg_url, pg_schema)
        servers = [Server(env, tmp_path, name=f"server-{n}") for n in (1, 2)]
        worker = projection_worker(env, tmp_path)
        for proc in (*servers, worker):
            procs.append(proc.start())
        demand_id, claimants = a_hot_demand_and_its_claimants(servers[0].url)

        answers = everyone_claims_at_once([s.url for s in servers], demand_id, claimants)

        statuses = Counter(answer.status_code for answer in answers)
        assert statuses == {201: CLAIMANTS}, f"{dict(statuses)}\n{servers[0].tail()}\n{servers[1].tail()}"
        outcomes = Counter(answer.json()["status"] for answer in answers)
        assert outcomes == {"confirmed": NEEDED, "waitlisted": CLAIMANTS - NEEDED}

        demand = system.demands.get(demand_id, Demand)
        assert (demand.status, demand.confirmed, len(demand.waitlist)) == ("filled", NEEDED, CLAIMANTS - NEEDED)
        noted = [e for e in system.demands.events.get(UUID(demand_id)) if getattr(e, "claim_status", None)]
        assert demand.waitlist == [e.claim_id for e in noted if e.claim_status == "waitlisted"]

        wait_caught_up(system, 60, worker)
        board = next(row for row in table_rows(system, "demand_board") if row["id"] == demand_id)
        assert (board["status"], board["confirmed"], board["waitlisted"], board["version"]) == (
            demand.status, demand.confirmed, len(demand.waitlist), demand.version)
    finally:
        system.shutdown()
