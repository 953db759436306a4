"""The seeded city is generated through the applications and is the same for the same seed."""
import psycopg

from api.seed import Seeder, counts
from tests.support import new_system


def seed_city(settings: dict, seed: int) -> dict:
    system = new_system(**settings)
    try:
        Seeder(system, 0.0005, seed).run()
        system.projector.catch_up()
        return {r["metric"]: r["value"] for r in system.db.rows("SELECT metric, value FROM stats WHERE dimension = ''")}
    finally:
        system.shutdown()


def two_stores(backend: dict, tmp_path) -> tuple[dict, dict]:
    if "data_dir" in backend:
        return {"data_dir": tmp_path / "one"}, {"data_dir": tmp_path / "two"}
    return backend, {**backend, "database_schema": backend["database_schema"] + "_b"}


def test_the_same_seed_gives_the_same_city_twice(backend, tmp_path):
    one, two = two_stores(backend, tmp_path)
    try:
        first, second = seed_city(one, 11), seed_city(two, 11)
    finally:
        if "database_url" in two:
            with psycopg.connect(two["database_url"], autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{two["database_schema"]}" CASCADE')
    assert first == second
    expected = counts(0.0005)
    assert {k: first[k] for k in ("organisations", "members", "demands_published", "claims", "venues_shared",
                                   "services_shared")} == {
        "organisations": expected["organisations"], "members": expected["members"],
        "demands_published": expected["demands"], "claims": expected["claims"], "venues_shared": expected["venues"],
        "services_shared": expected["services"]}
    assert first["departments"] == 19 and first["policy_items"] == 51
