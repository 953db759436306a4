"""The seeded city is generated through the applications, has a past, and is the same for the same seed."""
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from api.seed import HISTORY, counts, seed_city
from domain.city import CITY_TZ
from tests.support import new_system


def two_stores(backend: dict, tmp_path) -> tuple[dict, dict]:
    if "data_dir" in backend:
        return {"data_dir": tmp_path / "one"}, {"data_dir": tmp_path / "two"}
    return backend, {**backend, "database_schema": backend["database_schema"] + "_b"}


def drop(store: dict) -> None:
    if "database_url" in store:
        with psycopg.connect(store["database_url"], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{store["database_schema"]}" CASCADE')


def linli_seed(store: dict, *args: str) -> None:
    """`linli seed …` in a shell of its own whose environment names the store."""
    env = {**os.environ, "LINLI_POOL_SIZE": "2"}
    if "data_dir" in store:
        env.update(LINLI_DATA_DIR=str(store["data_dir"]))
        env.pop("LINLI_DATABASE_URL", None)
    else:
        env.update(LINLI_DATABASE_URL=store["database_url"], LINLI_DATABASE_SCHEMA=store["database_schema"])
    done = subprocess.run([str(Path(sys.executable).with_name("linli")), "seed", *args], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def city(store: dict) -> tuple[list, list]:
    """(every row of the statistics, every event's context, aggregate, version, type and time)."""
    system = new_system(**store)
    try:
        stats = sorted((r["metric"], r["dimension"], r["key"], r["value"])
                       for r in system.db.rows("SELECT metric, dimension, key, value FROM stats"))
        events = []
        for name, app in system.contexts.items():
            for n in app.recorder.select_notifications(1, 10**7):
                event = app.mapper.to_domain_event(n)
                events.append((name, str(event.originator_id), event.originator_version, type(event).__qualname__,
                               event.timestamp.isoformat()))
        return stats, events
    finally:
        system.shutdown()


def test_the_same_seed_gives_the_same_city_with_the_same_past_twice(backend, tmp_path):
    one, two = two_stores(backend, tmp_path)
    try:
        linli_seed(one, "--scale", "0.01", "--seed", "7")
        linli_seed(two, "--scale", "0.01", "--seed", "7")
        (stats, events), (stats_again, events_again) = city(one), city(two)
    finally:
        drop(two)
    assert stats == stats_again
    assert events == events_again
    times = [datetime.fromisoformat(e[4]).astimezone(CITY_TZ) for e in events]
    assert len({(t.year, t.month) for t in times}) >= 20
    assert max(times) - min(times) > HISTORY - timedelta(days=31)
    assert max(times) <= datetime.now(CITY_TZ)
    assert len({key for metric, dimension, key, _ in stats if dimension == "month" and metric == "claims"}) >= 18
    kinds = {e[3] for e in events}  # deadlines that fell due on the way fired at their moments
    assert {"ServiceRequest.SlaWarning", "ServiceRequest.SlaBreached", "Demand.Expired", "Claim.MarkedNoShow",
            "Booking.Expired", "Booking.Completed"} <= kinds


def test_a_serial_seed_gives_the_city_of_a_parallel_one_with_scale_s_counts(backend, tmp_path):
    one, two = two_stores(backend, tmp_path)
    until = datetime(2026, 6, 1, tzinfo=CITY_TZ)
    totals = []
    try:
        for store, parallel in ((one, True), (two, False)):
            system = new_system(**store)
            try:
                seed_city(system, 0.0005, 11, until, parallel=parallel)
                totals.append(sorted((r["metric"], r["dimension"], r["key"], r["value"])
                                     for r in system.db.rows("SELECT metric, dimension, key, value FROM stats")))
            finally:
                system.shutdown()
    finally:
        drop(two)
    assert totals[0] == totals[1]
    first = {metric: value for metric, dimension, _, value in totals[0] if dimension == ""}
    expected = counts(0.0005)
    assert {k: first[k] for k in ("organisations", "members", "demands_published", "claims", "venues_shared",
                                   "services_shared")} == {
        "organisations": expected["organisations"], "members": expected["members"],
        "demands_published": expected["demands"], "claims": expected["claims"], "venues_shared": expected["venues"],
        "services_shared": expected["services"]}
    assert first["departments"] == 19 and first["policy_items"] == 51


def test_a_running_system_names_the_seeded_accounts_but_only_a_settable_clock_seeds(tmp_path):
    """`linli tokens demo` reads the seed's ids from a system on the wall clock (the demo accounts)."""
    from api.seed import Seeder
    from api.settings import Settings
    from api.wiring import Linli

    system = Linli(Settings(data_dir=tmp_path / "var", timer_interval_seconds=0))
    try:
        seeder = Seeder(system, 0.0, 7)
        assert seeder._id("org", 0) == Seeder(system, 0.0, 7)._id("org", 0)
        with pytest.raises(TypeError):
            seeder.run()
    finally:
        system.shutdown()
