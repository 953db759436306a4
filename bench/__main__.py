"""`make bench`: one run against PostgreSQL, printed as tables and written to bench/results/.

    python -m bench [--scale 0.01] [--seconds 15] [--connections 32] [--threads 2] [--workers 2] [--quick]

Claims in three shapes (bench/shapes.py) and the command mix (bench/mix.py) are loaded with wrk
when it is installed (`make system-packages`), on the CRUD peer and on Linli in the same run.
Every throughput is also given as a ratio to the baseline of the same run that matches it.
"""
import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from api.seed import seed_city
from api.settings import Settings
from api.wiring import Linli
from bench import baselines, invariant, load, mix, servers, shapes, wrk
from bench.report import console
from bench import report
from bench.world import prepare, prepare_claims
from domain.actors import Actor, Role
from workflows.clock import FakeClock
from workflows.engine import Meta

RESULTS = Path(__file__).parent / "results"
ADMIN_TOKEN = "bench-admin-token-0123456789"
# distinct claimants per second of a run: the hot shape uses one per claim (twice the peer's hot rate here);
# past them a lane's claims answer 409 duplicate-claim, counted as such
CLAIMANTS_PER_SECOND = 1_000
QUICK_WORLD = {"members_per_client": 10, "demands_per_client": 5, "demands_in_progress": 2}
QUICK = {"scale": "0.0002", "seconds": 1.0, "connections": 4, "workers": 1, "hot_needed": 3, "claimants": 400,
         "query_repeat": 5, "pool_size": 3}


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scale", default=os.environ.get("LINLI_BENCH_SCALE", "0.01"))
    parser.add_argument("--seconds", type=float, default=15.0, help="each load run")
    parser.add_argument("--connections", "--clients", dest="connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="server processes, Linli's and the peer's")
    parser.add_argument("--hot-needed", type=int, default=100, help="`needed` of the hot demand")
    parser.add_argument("--claimants", type=int, default=None,
                        help=f"distinct member tokens for the claim shapes (default {CLAIMANTS_PER_SECOND:,} per second)")
    parser.add_argument("--query-repeat", type=int, default=50)
    parser.add_argument("--pool-size", type=int, default=10, help="LINLI_POOL_SIZE (connections per process) of the servers")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: " + ", ".join(f"{k.replace('_', '-')} {v}" for k, v in QUICK.items()))
    parser.add_argument("--database-url", default=os.environ.get(
        "LINLI_BENCH_DATABASE_URL", os.environ.get("LINLI_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test")))
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--keep", action="store_true", help="keep the bench schema afterwards")
    opts = parser.parse_args(argv)
    if opts.quick:  # what the command line names explicitly wins
        for key, value in QUICK.items():
            if getattr(opts, key) == parser.get_default(key):
                setattr(opts, key, value)
    if opts.claimants is None:
        opts.claimants = int(opts.seconds * CLAIMANTS_PER_SECOND)
    return opts


def _seed(settings: Settings, scale: str) -> dict:
    """`linli seed`'s path: the registry, then the other contexts in processes of their own, then the
    read models in bulk and the deadlines due on the way (api/seed.py)."""
    system = Linli(settings, FakeClock())
    try:
        timings = seed_city(system, 1.0 if scale == "fuzhou" else float(scale))
        events = sum(a.recorder.max_notification_id() or 0 for a in system.contexts.values())
        seeded, projected = timings["seed_seconds"], timings["read_models_seconds"]
        totals = {r["metric"]: r["value"] for r in system.db.rows("SELECT metric, value FROM stats WHERE dimension = ''")}
        months = len(system.db.rows("SELECT DISTINCT key FROM stats WHERE dimension = 'month'"))
        return {"events": events, "seconds": seeded, "per_second": round(events / seeded, 1),
                "projection_catch_up_seconds": projected, "total_seconds": round(seeded + projected, 2),
                "deadlines_fired": timings["deadlines_fired"], "months": months, "stats": totals}
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
                                       grid_id=_any_grid(system), needed=1, claim_deadline=now + timedelta(days=1),
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
           "LINLI_TIMER_INTERVAL_SECONDS": "0", "LINLI_POOL_SIZE": str(opts.pool_size)}
    settings = Settings(database_url=opts.database_url, database_schema=schema, admin_token=ADMIN_TOKEN,
                        timer_interval_seconds=0, pool_size=4)
    with psycopg.connect(opts.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    results: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "scale": opts.scale,
                     "client": "wrk" if wrk.available() else "python", "connections": opts.connections,
                     "threads": opts.threads, "seconds": opts.seconds, "server_workers": opts.workers,
                     "claimants": opts.claimants, "hot_needed": opts.hot_needed, "pool_size": opts.pool_size,
                     "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "platform": platform.platform(), "load_average": os.getloadavg()}}
    started = time.perf_counter()

    def stage(name: str) -> None:
        """Print the stage, and record when it began (seconds into the run)."""
        results["stages_began_at_seconds"][name] = round(time.perf_counter() - started, 1)
        console.print(f"[bold]{name}[/bold]")

    results["stages_began_at_seconds"] = {}
    try:
        stage("a. baselines")
        results["a_single_row_1"] = baselines.single_row_commits(dsn, 1, min(opts.seconds, 5))
        results["a_single_row_32"] = baselines.single_row_commits(dsn, 32, min(opts.seconds, 5))
        results["a_batched"] = baselines.batched_inserts(dsn)
        stage("b. seed")
        results["b_seed"] = _seed(settings, opts.scale)
        stage("c. rebuild")
        results["c_rebuild"] = _rebuild(settings)
        stage(f"d. claims in three shapes ({results['client']}): the CRUD peer")
        results["d_peer"] = _peer(dsn, opts)
        stage("d. claims in three shapes: Linli")
        system = Linli(settings)
        try:
            world = prepare(system, opts.connections, **(QUICK_WORLD if opts.quick else {}))
            claims = prepare_claims(system, opts.claimants, opts.connections * shapes.PRIVATE_PER_CONNECTION,
                                    shapes.SPREAD_DEMANDS, opts.hot_needed)
            system.projector.catch_up()
        finally:
            system.shutdown()
        port = servers.free_port()
        server = servers.linli(env, port, opts.workers, projections="worker")
        worker = servers.projection_worker(env)
        base = f"http://127.0.0.1:{port}"
        try:
            results["d_linli"] = shapes.run_linli(base, claims, opts.connections, opts.threads, opts.seconds, worker)
            results["d_hot_invariant"] = _hot_invariant(settings, base, claims.hot, results["d_linli"]["hot"])
            stage("d. command mix")
            results["d_mix"] = mix.run(base, world, opts.connections, opts.threads, opts.seconds)
            results["d_worker_catch_up_seconds"] = shapes.caught_up(base, worker)  # queries read a settled model
            stage("e. queries")
            results["e_queries"] = _queries(base, world, repeat=opts.query_repeat)
            results["g_server_peak_rss_mb"] = server.peak_rss_mb()
            results["g_worker_peak_rss_mb"] = worker.peak_rss_mb()
        finally:
            server.stop()
            worker.stop()
        stage("f. replay")
        results["f_replay"] = _replay(settings)
        results["total_seconds"] = round(time.perf_counter() - started, 1)
        report.ratios(results)
        report.tables(results)
        report.write(results, Path(opts.out))
        return results
    finally:
        if not opts.keep:
            with psycopg.connect(opts.database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _peer(dsn: str, opts: argparse.Namespace) -> dict:
    port = servers.free_port()
    peer = servers.peer(dsn, port, opts.workers)
    try:
        figures = shapes.run_peer(f"http://127.0.0.1:{port}", opts.connections, opts.threads, opts.seconds,
                                  opts.hot_needed)
        figures["peak_rss_mb"] = peer.peak_rss_mb()
        return figures
    finally:
        peer.stop()


def _hot_invariant(settings: Settings, base: str, hot: str, figures: dict) -> dict:
    system = Linli(settings)
    try:
        return invariant.hot_demand(system, base, ADMIN_TOKEN, hot, {int(k): v for k, v in figures["statuses"].items()})
    finally:
        system.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
