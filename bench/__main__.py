"""`make bench`: one run against PostgreSQL, printed as a table and written to bench/results/.

    python -m bench [--scale 0.01] [--seconds 20] [--clients 32] [--workers 2]

Every throughput is also given as a ratio to the baseline of the same run that matches it.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from api.seed import Seeder
from api.settings import Settings
from api.wiring import Linli
from bench import baselines, load, servers
from bench.world import next_slot, prepare
from domain.actors import Actor, Role
from workflows.engine import Meta

RESULTS = Path(__file__).parent / "results"
ADMIN_TOKEN = "bench-admin-token-0123456789"
console = Console()


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scale", default=os.environ.get("LINLI_BENCH_SCALE", "0.01"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get(
        "LINLI_BENCH_DATABASE_URL", os.environ.get("LINLI_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test")))
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--keep", action="store_true", help="keep the bench schema afterwards")
    return parser.parse_args(argv)


def _seed(settings: Settings, scale: str) -> dict:
    system = Linli(settings)
    try:
        seeder, started = Seeder(system, 1.0 if scale == "fuzhou" else float(scale)), time.perf_counter()
        seeder.run()
        seeded = time.perf_counter() - started
        events = sum(a.recorder.max_notification_id() or 0 for a in system.contexts.values())
        started = time.perf_counter()
        system.projector.catch_up()
        system.projector.compact()
        projected = time.perf_counter() - started
        totals = {r["metric"]: r["value"] for r in system.db.rows("SELECT metric, value FROM stats WHERE dimension = ''")}
        return {"events": events, "seconds": round(seeded, 2), "per_second": round(events / seeded, 1),
                "projection_catch_up_seconds": round(projected, 2), "stats": totals}
    finally:
        system.shutdown()


def _rebuild(settings: Settings) -> dict:
    system = Linli(settings)
    try:
        events = sum(a.recorder.max_notification_id() or 0 for a in system.contexts.values())
        started = time.perf_counter()
        system.projector.rebuild()
        elapsed = time.perf_counter() - started
        return {"events": events, "views": len([v for v in system.projector.views if v.rebuilt_by_default]),
                "seconds": round(elapsed, 2), "per_second": round(events / elapsed, 1)}
    finally:
        system.shutdown()


def _replay(settings: Settings) -> dict:
    """A demand with 1,000 events (999 revisions of a draft), read at its head and at version 500."""
    system = Linli(settings)
    try:
        org = system.registry.register(Meta(Actor("admin", Role.ADMIN)), "organisation", uuid.uuid4(), name="回放",
                                       kind="党组织", grid_id=_any_grid(system), district="鼓楼区").value
        owner, now = Actor(str(org.id), Role.ORG), system.clock.now()
        demand_id = uuid.uuid4()
        with system.demands.engine.batch(size=10_000):
            system.demands.post_demand(Meta(owner), demand_id, owner.id, title="回放需求", description="", category="助老服务",
                                       grid_id="g", needed=1, claim_deadline=now + timedelta(days=1),
                                       starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=1),
                                       auto_confirm=False)
            for k in range(999):
                system.demands.act_on_demand(Meta(owner), demand_id, "revise", title=f"回放需求{k}")
        timings = {}
        for label, version in (("head", None), ("version_500", 500)):
            samples = []
            for _ in range(50):
                started = time.perf_counter()
                got = system.demands.repository.get(demand_id, version=version)
                samples.append(time.perf_counter() - started)
            assert got.version == (version or 1000)
            timings[f"{label}_ms"] = round(statistics.median(samples) * 1000, 2)
        return timings
    finally:
        system.shutdown()


def _any_grid(system: Linli) -> str:
    return system.db.rows("SELECT key FROM stats WHERE dimension = 'grid' LIMIT 1")[0]["key"]


def _mix(base: str, world, clients: int, seconds: float) -> dict:
    """claim, confirm, check in, complete, verify, book, approve, file and handle service requests."""
    owner = {"Authorization": f"Bearer {world.owner_token}"}
    dept = {"Authorization": f"Bearer {world.dept_token}"}

    async def episode(client, tally, i, n):
        w = world.clients[i]
        member = {"Authorization": f"Bearer {w.member_tokens[n % len(w.member_tokens)]}"}
        demand = w.manual_demands[(n // len(w.member_tokens)) % len(w.manual_demands)]
        claim = await tally.call(client, "POST", f"/demands/{demand}/claims", json={}, headers=member)
        if claim.status_code == 201:
            await tally.call(client, "POST", f"/claims/{claim.json()['id']}/actions/confirm", headers=owner)
        if n < len(w.prepared_claims):
            prepared = w.prepared_claims[n]
            await tally.call(client, "POST", f"/claims/{prepared}/actions/check_in", headers=owner)
            await tally.call(client, "POST", f"/claims/{prepared}/actions/complete", json={"hours": 2}, headers=owner)
            await tally.call(client, "POST", f"/claims/{prepared}/actions/verify", json={"rating": 5}, headers=owner)
        starts, ends = next_slot(w, datetime.now(UTC))
        await tally.call(client, "POST", f"/venues/{w.free_venue}/bookings", headers=member,
                         json={"starts_at": starts, "ends_at": ends, "attendees": 10})
        booking = await tally.call(client, "POST", f"/venues/{w.approval_venue}/bookings", headers=member,
                                   json={"starts_at": starts, "ends_at": ends, "attendees": 10})
        if booking.status_code == 201:
            await tally.call(client, "POST", f"/bookings/{booking.json()['id']}/actions/approve", headers=owner)
        applicant = {"Authorization": f"Bearer {w.applicant_token}"}
        filed = await tally.call(client, "POST", f"/service-items/{world.item_id}/requests", headers=applicant,
                                 json={"subject": "申请稳岗返还"})
        if filed.status_code == 201:
            request_id = filed.json()["id"]
            for step, body in (("accept", {}), ("start", {}), ("resolve", {"outcome": "approved"})):
                await tally.call(client, "POST", f"/service-requests/{request_id}/actions/{step}", json=body,
                                 headers=dept)

    return load.run(base, episode, clients, seconds)


def _claims(base: str, world, clients: int, seconds: float) -> dict:
    """Claims on auto-confirm demands: the operation the CRUD peer serves."""
    async def episode(client, tally, i, n):
        w = world.clients[i]
        member = {"Authorization": f"Bearer {w.member_tokens[n % len(w.member_tokens)]}"}
        demand = w.auto_demands[(n // len(w.member_tokens)) % len(w.auto_demands)]
        await tally.call(client, "POST", f"/demands/{demand}/claims", json={}, headers=member)

    return load.run(base, episode, clients, seconds)


def _peer(dsn: str, clients: int, seconds: float, workers: int) -> dict:
    peer = servers.peer(dsn, 8099, workers)
    try:
        import httpx

        demands = [httpx.post("http://127.0.0.1:8099/demands", json={"title": "peer", "needed": 10**9}).json()["id"]
                   for _ in range(clients)]

        async def episode(client, tally, i, n):
            await tally.call(client, "POST", f"/demands/{demands[i]}/claims", json={"claimant": f"c{i}-{n}"})

        figures = load.run("http://127.0.0.1:8099", episode, clients, seconds)
        figures["peak_rss_mb"] = peer.peak_rss_mb()
        return figures
    finally:
        peer.stop()


def _caught_up(base: str, limit: float = 600) -> float:
    """Seconds until /ready shows every read model at the head of every log."""
    import httpx

    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        views = httpx.get(f"{base}/ready", timeout=30).json()["projections"]
        if all(c["lag"] == 0 for contexts in views.values() for c in contexts.values()):
            break
        time.sleep(0.5)
    return round(time.perf_counter() - started, 1)


def _queries(base: str, world, repeat: int) -> dict:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    paths = {
        "board (status)": "/demands?status=open", "board (grid)": f"/demands?grid={world.grid_id}",
        "board (category)": "/demands?category=助老服务", "board (text)": "/demands?q=志愿",
        "stats": "/stats", "service record": f"/members/{world.member_id}/service-record",
        "venue availability": f"/venues/{world.venue_id}/availability?date={day}",
        "department queue": f"/departments/{world.dept_id}/queue",
        "audit history": f"/audit/aggregates/{world.audit_target}/history",
    }
    figures = {name: load.latency(base, [path], admin, repeat) for name, path in paths.items()}
    figures["audit events page"] = _audit_pages(base, admin)
    return figures


def _audit_pages(base: str, admin: dict) -> dict:
    """/audit/events at 100 rows a page: 100 pages followed by cursor from the start, then 100 from random cursors."""
    import random

    import httpx

    paths, after = [], 0
    with httpx.Client(base_url=base, headers=admin, timeout=30) as client:
        for _ in range(100):
            page = client.get("/audit/events", params={"limit": 100, "after": after}).json()
            paths.append(f"/audit/events?limit=100&after={after}")
            if page["next_after"] is None:
                break
            after = page["next_after"]
    rng = random.Random(1)
    paths += [f"/audit/events?limit=100&after={rng.randrange(0, after + 1)}" for _ in range(100)]
    return load.latency(base, paths, admin, 1)


def main(argv: list[str] | None = None) -> dict:
    opts = _options(argv)
    schema = f"bench_{int(time.time())}_{uuid.uuid4().hex[:4]}"
    dsn = f"{opts.database_url}?options=-csearch_path%3D{schema}"
    env = {"LINLI_DATABASE_URL": opts.database_url, "LINLI_DATABASE_SCHEMA": schema, "LINLI_ADMIN_TOKEN": ADMIN_TOKEN,
           "LINLI_TIMER_INTERVAL_SECONDS": "0", "LINLI_POOL_SIZE": "8"}
    settings = Settings(database_url=opts.database_url, database_schema=schema, admin_token=ADMIN_TOKEN,
                        timer_interval_seconds=0, pool_size=4)
    with psycopg.connect(opts.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    results: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "scale": opts.scale,
                     "clients": opts.clients, "seconds": opts.seconds, "server_workers": opts.workers,
                     "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform()}}
    try:
        console.print("[bold]a.[/bold] baselines")
        results["a_single_row_1"] = baselines.single_row_commits(dsn, 1, min(opts.seconds, 5))
        results["a_single_row_32"] = baselines.single_row_commits(dsn, 32, min(opts.seconds, 5))
        results["a_batched"] = baselines.batched_inserts(dsn)
        results["a_peer_claims"] = _peer(dsn, opts.clients, opts.seconds, opts.workers)
        console.print("[bold]b.[/bold] seed")
        results["b_seed"] = _seed(settings, opts.scale)
        console.print("[bold]c.[/bold] rebuild")
        results["c_rebuild"] = _rebuild(settings)
        console.print("[bold]d.[/bold] commands over HTTP")
        system = Linli(settings)
        world = prepare(system, opts.clients)
        system.projector.catch_up()
        system.shutdown()
        server = servers.linli(env, 8098, opts.workers, projections="worker")
        worker = servers.projection_worker(env)
        base = "http://127.0.0.1:8098"
        try:
            results["d_claims"] = _claims(base, world, opts.clients, opts.seconds)
            results["d_mix"] = _mix(base, world, opts.clients, opts.seconds)
            results["d_worker_catch_up_seconds"] = _caught_up(base)  # queries read a settled model
            console.print("[bold]e.[/bold] queries")
            results["e_queries"] = _queries(base, world, repeat=50)
            results["g_server_peak_rss_mb"] = server.peak_rss_mb()
            results["g_worker_peak_rss_mb"] = worker.peak_rss_mb()
        finally:
            server.stop()
            worker.stop()
        console.print("[bold]f.[/bold] replay")
        results["f_replay"] = _replay(settings)
        _ratios(results)
        _report(results)
        _write(results, Path(opts.out))
        return results
    finally:
        if not opts.keep:
            with psycopg.connect(opts.database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _ratios(r: dict) -> None:
    r["ratios"] = {
        "claims_vs_peer": round(r["d_claims"]["per_second"] / max(r["a_peer_claims"]["per_second"], 1e-9), 2),
        "mix_vs_single_row_32": round(r["d_mix"]["per_second"] / max(r["a_single_row_32"]["per_second"], 1e-9), 2),
        "seed_vs_batched_rows": round(r["b_seed"]["per_second"] / max(r["a_batched"]["per_second"], 1e-9), 2),
        "rebuild_vs_batched_rows": round(r["c_rebuild"]["per_second"] / max(r["a_batched"]["per_second"], 1e-9), 2),
    }


def _report(r: dict) -> None:
    table = Table("figure", "value", "ratio to baseline", title=f"Linli bench, scale {r['scale']}")
    table.add_row("a. insert+commit, 1 client", f"{r['a_single_row_1']['per_second']:,}/s", "")
    table.add_row("a. insert+commit, 32 clients", f"{r['a_single_row_32']['per_second']:,}/s", "")
    table.add_row("a. batched inserts", f"{r['a_batched']['per_second']:,} rows/s", "")
    p = r["a_peer_claims"]
    table.add_row("a. CRUD peer claims", f"{p['per_second']:,}/s p50 {p['p50_ms']} p99 {p['p99_ms']} ms", "")
    table.add_row("b. seed", f"{r['b_seed']['per_second']:,} events/s ({r['b_seed']['events']:,} events)",
                  f"{r['ratios']['seed_vs_batched_rows']}× batched rows")
    table.add_row("c. projection rebuild", f"{r['c_rebuild']['per_second']:,} events/s",
                  f"{r['ratios']['rebuild_vs_batched_rows']}× batched rows")
    for key, label, ratio in (("d_claims", "d. claims over HTTP", "claims_vs_peer"),
                              ("d_mix", "d. command mix over HTTP", "mix_vs_single_row_32")):
        d = r[key]
        table.add_row(label, f"{d['per_second']:,}/s p50 {d['p50_ms']} p99 {d['p99_ms']} ms, {d['errors']} errors",
                      f"{r['ratios'][ratio]}×")
    for name, q in r["e_queries"].items():
        table.add_row(f"e. {name}", f"p50 {q['p50_ms']} p99 {q['p99_ms']} ms", "")
    table.add_row("d. projection worker caught up", f"{r['d_worker_catch_up_seconds']} s after the load", "")
    table.add_row("f. replay 1,000 events", f"head {r['f_replay']['head_ms']} ms, v500 {r['f_replay']['version_500_ms']} ms", "")
    table.add_row("g. peak RSS", f"server {r['g_server_peak_rss_mb']} MB, worker {r['g_worker_peak_rss_mb']} MB", "")
    console.print(table)


def _write(r: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(r, ensure_ascii=False, indent=2, default=str)
    (out / "latest.json").write_text(text)
    console.print(f"written to {out / 'latest.json'}")


if __name__ == "__main__":
    main(sys.argv[1:])
