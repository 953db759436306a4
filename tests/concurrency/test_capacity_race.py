"""Capacity under concurrency, on PostgreSQL (DESIGN §2 "Concurrency", §3 Claim invariant).

Acceptance: 40 claimants in 8 separate processes claim and get confirmed on one demand that
needs 10 → exactly 10 headcount confirmed, every other request answered waitlisted or 409,
no 5xx; the race is repeated 5 times.

Each round posts two fresh open demands needing 10 and races both at once:
- manual: every claim is answered 201 pending, then the owner confirms it at once; exactly 10
  confirmations are answered 200, the other 30 409 `capacity-exceeded`;
- auto_confirm: every claim is answered 201 confirmed (10 of them) or 201 waitlisted (30).

Every round starts 8 spawned processes, each building its own system (its own connection
pools, its own FakeClock at START) and serving the HTTP API through its own TestClient; they
wait on one Barrier and then each drives its 5 claimants. The parent checks what callers were
told against what is stored: the demand (`confirmed`, status), the claims read model, and the
claim aggregates found in the event log.

The workers build their systems side by side on a schema whose tables the parent has created;
`test_eight_processes_start_their_systems_at_once` below starts them together on an empty
schema too.

Pools stay small: PostgreSQL's connections (max_connections 100 by default) are shared with
other suites. The parent uses pool_size=2; each worker uses pool_size=1 (one connection for all its
uses: docs/operations.md, "Connection budget"), because its requests are sequential.
"""
import multiprocessing
import queue
import traceback
from datetime import datetime
from pathlib import Path
from uuid import UUID

import pytest

from domain.claim import Claim
from domain.demand import SEATED, Demand
from tests.support import START, Api, new_system, system_when_room

pytestmark = pytest.mark.postgres

ROUNDS = 5
PROCESSES = 8
PER_PROCESS = 5
NEEDED = 10
WORKER_POOL_SIZE = 1
TIMEOUT = 180


# -- the worker processes ----------------------------------------------------------------------
def _answer(kind: str, variant: str, claimant: str, response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = {"raw": response.text}
    return {"kind": kind, "variant": variant, "claimant": claimant, "status": response.status_code,
            "content_type": response.headers.get("content-type", ""), "body": body}


def _crash(kind: str, variant: str, claimant: str) -> dict:
    """TestClient re-raises an unhandled server error: that is a 500 to the caller."""
    return {"kind": kind, "variant": variant, "claimant": claimant, "status": 500, "content_type": "",
            "body": {"raw": traceback.format_exc()}}



def _race(index: int, pg_url: str, schema: str, demands: dict[str, str], owner_headers: dict,
          claimants: list[tuple[str, dict]], barrier, results) -> None:
    """One process: its own system and app; on the barrier's signal its claimants claim both demands,
    and the owner confirms each pending claim at once."""
    system, answers = None, []
    try:
        system = system_when_room(pg_url, schema, WORKER_POOL_SIZE)
        assert system.clock.now() == START
        with Api.serving(system) as api:
            barrier.wait(timeout=TIMEOUT)
            for claimant, headers in claimants:
                for variant, demand_id in demands.items():
                    try:
                        made = api.client.post(f"/demands/{demand_id}/claims", json={"headcount": 1},
                                               headers=headers)
                        answers.append(_answer("claim", variant, claimant, made))
                    except Exception:  # noqa: BLE001
                        answers.append(_crash("claim", variant, claimant))
                        continue
                    if made.status_code == 201 and made.json()["status"] == "pending":
                        claim_id = made.json()["id"]
                        try:
                            confirmed = api.client.post(f"/claims/{claim_id}/actions/confirm", json={},
                                                        headers=owner_headers)
                            answers.append(_answer("confirm", variant, claimant, confirmed))
                        except Exception:  # noqa: BLE001
                            answers.append(_crash("confirm", variant, claimant))
        results.put(("done", index, answers))
    except BaseException:  # noqa: BLE001 - report everything to the parent, and free the others
        barrier.abort()
        results.put(("error", index, traceback.format_exc()))
    finally:
        if system is not None:
            system.shutdown()


def race(pg_url: str, schema: str, demands: dict[str, str], owner_headers: dict,
         claimants: list[tuple[str, dict]]) -> list[dict]:
    """Start PROCESSES fresh processes, each with PER_PROCESS claimants; return every answer."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_race, daemon=True, args=(
        i, pg_url, schema, demands, owner_headers, claimants[i * PER_PROCESS:(i + 1) * PER_PROCESS], barrier,
        results)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    try:
        done = {}
        while len(done) < PROCESSES:
            try:
                kind, index, payload = results.get(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"workers did not answer in {TIMEOUT}s (answered: {sorted(done)})")
            if kind == "error":
                pytest.fail(f"worker {index} failed:\n{payload}")
            done[index] = payload
        for p in procs:
            p.join(timeout=60)
        assert [p.exitcode for p in procs] == [0] * PROCESSES, "a worker did not shut down cleanly"
        return [answer for i in range(PROCESSES) for answer in done[i]]
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(timeout=5)


# -- checks in the parent -----------------------------------------------------------------------
def is_problem(answer: dict, slug: str, status: int = 409) -> bool:
    return (answer["status"] == status and answer["body"].get("type") == f"/problems/{slug}"
            and answer["content_type"].startswith("application/problem+json"))


def summary(answers: list[dict]) -> str:
    return "; ".join(f"{a['kind']} {a['status']} {a['body'].get('type') or a['body'].get('status')}"
                     for a in answers)


def stored_claims(system, demand_id: str) -> list[Claim]:
    """Every claim of the demand, found in the event log (not the read model or the demand's book)."""
    app = system.demands
    ids = [e.originator_id for e in (app.mapper.to_domain_event(n)
                                     for n in app.recorder.select_notifications(1, 1_000_000))
           if isinstance(e, Claim.Made) and e.demand_id == demand_id]
    return [app.repository.get(i) for i in ids]


def was_ever_seated(system, claim: Claim) -> bool:
    """Made confirmed (auto_confirm) or confirmed later, by the claim's own stored history."""
    return any(isinstance(e, Claim.Confirmed)
               or (isinstance(e, Claim.Made) and getattr(e, "status", None) == "confirmed")
               for e in system.demands.events.get(claim.id))


def highest_position(answers: list[dict]) -> str:
    positions = [int(a["body"]["position"].split(":")[1]) for a in answers if "position" in a["body"]]
    return f"demands:{max(positions)}"


def check_stored(api: Api, owner, demand_id: str, claimant_ids: set[str], answers: list[dict],
                 waitlisted: int) -> None:
    """The demand, its claims read model and the claim aggregates all say: 10 seated, filled."""
    system = api.system
    demand = api.ok(api.get(f"/demands/{demand_id}", owner))
    assert (demand["status"], demand["confirmed"], demand["needed"], demand["waitlisted"]) == (
        "filled", NEEDED, NEEDED, waitlisted), demand

    listed = api.ok(api.get(f"/demands/{demand_id}/claims", owner, page_size=100,
                            min_position=highest_position(answers)))
    rows = listed["items"]
    assert listed["total"] == len(rows) == len(claimant_ids)
    assert {r["claimant_id"] for r in rows} == claimant_ids
    assert sum(r["headcount"] for r in rows if r["status"] in SEATED) == NEEDED, rows
    assert sum(1 for r in rows if r["status"] == "waitlisted") == waitlisted

    claims = stored_claims(system, demand_id)
    assert len(claims) == len(claimant_ids) and {c.claimant_id for c in claims} == claimant_ids
    assert sum(c.headcount for c in claims if c.status in SEATED) == NEEDED
    assert {str(c.id): c.status for c in claims} == {r["id"]: r["status"] for r in rows}
    stored = system.demands.repository.get(UUID(demand_id))
    assert isinstance(stored, Demand) and stored.status == "filled" and stored.confirmed == NEEDED
    assert stored.claims == {str(c.id): {"claimant": c.claimant, "headcount": c.headcount, "status": c.status}
                             for c in claims}
    # exactly NEEDED seats were ever granted (no seat given and taken back), and the demand filled once
    granted = [c for c in claims if was_ever_seated(system, c)]
    assert len(granted) == NEEDED, len(granted)
    assert len([e for e in system.demands.events.get(UUID(demand_id)) if isinstance(e, Demand.Filled)]) == 1


# -- the race -------------------------------------------------------------------------------------
@pytest.fixture
def parent(pg_url, pg_schema):
    system = new_system(database_url=pg_url, database_schema=pg_schema, pool_size=2)
    try:
        with Api.serving(system) as api:
            yield api
    finally:
        system.shutdown()


def test_forty_claimants_in_eight_processes_fill_a_demand_of_ten_exactly(parent, pg_url, pg_schema):
    api = parent
    owner = api.org()
    branch = api.org()
    members = [api.member(org=branch) for _ in range(PROCESSES * PER_PROCESS)]
    claimants = [(m.id, m.headers) for m in members]
    claimant_ids = {m.id for m in members}

    for n in range(ROUNDS):
        manual = api.demand(owner, "open", needed=NEEDED, auto_confirm=False, title=f"第{n + 1}轮人工确认")
        auto = api.demand(owner, "open", needed=NEEDED, auto_confirm=True, title=f"第{n + 1}轮自动确认")
        assert datetime.fromisoformat(manual["claim_deadline"]) > START  # the workers' clocks start at START
        demands = {"manual": manual["id"], "auto": auto["id"]}

        answers = race(pg_url, pg_schema, demands, owner.headers, claimants)

        assert not [a for a in answers if a["status"] >= 500], \
            f"round {n}: 5xx answers:\n" + "\n".join(str(a["body"]) for a in answers if a["status"] >= 500)

        # manual: every claim 201 pending; 10 confirmations 200, 30 capacity-exceeded
        made = [a for a in answers if a["variant"] == "manual" and a["kind"] == "claim"]
        assert len(made) == len(claimants), f"round {n}: {summary(made)}"
        assert all(a["status"] == 201 and a["body"]["status"] == "pending" for a in made), \
            f"round {n}: {summary(made)}"
        confirms = [a for a in answers if a["variant"] == "manual" and a["kind"] == "confirm"]
        assert len(confirms) == len(claimants)
        won = [a for a in confirms if a["status"] == 200]
        lost = [a for a in confirms if a["status"] != 200]
        assert len(won) == NEEDED, f"round {n}: {len(won)} confirmations answered 200: {summary(confirms)}"
        assert all(a["body"]["status"] == "confirmed" for a in won)
        assert all(is_problem(a, "capacity-exceeded") for a in lost), f"round {n}: {summary(lost)}"
        check_stored(api, owner, manual["id"], claimant_ids, made + confirms, waitlisted=0)
        claims = {str(c.id): c for c in stored_claims(api.system, manual["id"])}
        assert {a["body"]["id"] for a in won} == {i for i, c in claims.items() if c.status == "confirmed"}
        assert {c.status for c in claims.values()} == {"confirmed", "pending"}

        # auto_confirm: 10 claims answered confirmed, 30 waitlisted
        made = [a for a in answers if a["variant"] == "auto"]
        assert len(made) == len(claimants) and all(a["kind"] == "claim" for a in made)
        assert all(a["status"] == 201 for a in made), f"round {n}: {summary(made)}"
        told = [a["body"]["status"] for a in made]
        assert (told.count("confirmed"), told.count("waitlisted")) == (NEEDED, len(claimants) - NEEDED), \
            f"round {n}: {summary(made)}"
        check_stored(api, owner, auto["id"], claimant_ids, made, waitlisted=len(claimants) - NEEDED)
        claims = {str(c.id): c for c in stored_claims(api.system, auto["id"])}
        told_by_id = {a["body"]["id"]: a["body"]["status"] for a in made}
        assert told_by_id == {i: c.status for i, c in claims.items()}
        stored = api.system.demands.repository.get(UUID(auto["id"]))
        assert sorted(stored.waitlist) == sorted(i for i, c in claims.items() if c.status == "waitlisted")


# -- starting up side by side -----------------------------------------------------------------------
STARTUP_ROUNDS = 2
ROOT = str(Path(__file__).resolve().parents[2])


def _start(index: int, pg_url: str, schema: str, barrier, results) -> None:
    """Build a system the moment every other process does, and say how it went."""
    system = None
    try:
        barrier.wait(timeout=TIMEOUT)
        system = system_when_room(pg_url, schema, WORKER_POOL_SIZE)
        results.put(("done", index, None))
    except BaseException:  # noqa: BLE001
        results.put(("error", index, traceback.format_exc()))
    finally:
        if system is not None:
            system.shutdown()


def where(trace: str) -> str:
    """The innermost line of Linli's own code in a traceback, and the error it ended with."""
    ours = [line.strip() for line in trace.splitlines() if line.strip().startswith(f'File "{ROOT}/') and
            "/site-packages/" not in line and f"{ROOT}/tests/" not in line]
    return f"{ours[-1] if ours else '?'} -> {trace.strip().splitlines()[-1]}"


def test_eight_processes_start_their_systems_at_once(pg_url, pg_schema):
    """Several server or worker processes starting together on one database (uvicorn --workers,
    `linli projections run` beside `linli serve`, a redeploy) must all come up: on an empty schema,
    and on one whose tables exist already."""
    ctx = multiprocessing.get_context("spawn")
    failures = []
    for n in range(STARTUP_ROUNDS):
        barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [ctx.Process(target=_start, daemon=True, args=(i, pg_url, pg_schema, barrier, results))
                 for i in range(PROCESSES)]
        for p in procs:
            p.start()
        try:
            for _ in range(PROCESSES):
                kind, index, payload = results.get(timeout=TIMEOUT)
                if kind == "error":
                    failures.append((n, index, payload))
            for p in procs:
                p.join(timeout=60)
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
    assert not failures, (
        f"{len(failures)} of {STARTUP_ROUNDS * PROCESSES} process starts failed "
        "(round 0 on an empty schema, later rounds with its tables in place):\n"
        + "\n".join(f"round {n} worker {i}: {where(trace)}" for n, i, trace in failures)
        + "\n\nfirst traceback:\n" + failures[0][2])
