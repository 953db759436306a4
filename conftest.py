"""Fixtures every suite shares: a fresh Linli per test on SQLite and on PostgreSQL.

PostgreSQL is found through LINLI_TEST_DATABASE_URL (default postgresql://root@127.0.0.1:5432/test);
each test gets its own schema, dropped afterwards. Without a reachable server the PostgreSQL
cases skip with the reason, unless LINLI_REQUIRE_POSTGRES=1, where that is a failure.
"""
import os
import time
import uuid

import psycopg
import pytest
from pytest_bdd.parser import Step

from tests.support import Api, empty, new_system

PG_URL = os.environ.get("LINLI_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("LINLI_REQUIRE_POSTGRES") == "1"


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers; waits up to 60 s when it is required (it may be restarting)."""
    deadline = time.monotonic() + (60 if REQUIRE_PG else 3)
    while True:
        try:
            with psycopg.connect(PG_URL, connect_timeout=3):
                return None
        except psycopg.Error as error:
            if time.monotonic() > deadline:
                return f"PostgreSQL not reachable at {PG_URL}: {error}".strip()
            time.sleep(1)


@pytest.fixture(scope="session")
def pg_url() -> str:
    problem = _pg_reachable()
    if problem:
        if REQUIRE_PG:
            pytest.fail(f"LINLI_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)
    return PG_URL


@pytest.fixture
def pg_schema(pg_url):
    """A fresh schema for one test, dropped afterwards."""
    schema = f"linli_test_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_name(request) -> str:
    return request.param


@pytest.fixture
def backend(request, backend_name, tmp_path) -> dict:
    """Settings overrides for one fresh store of its own on the parametrised backend."""
    if backend_name == "sqlite":
        return {"data_dir": tmp_path / "var"}
    schema = request.getfixturevalue("pg_schema")
    return {"database_url": request.getfixturevalue("pg_url"), "database_schema": schema, "pool_size": 2}


@pytest.fixture(scope="session")
def shared_systems(tmp_path_factory):
    """One system per backend for the whole run, emptied before each test (building one per test
    costs more than most tests); dropped at the end."""
    systems: dict = {}
    yield systems
    for linli in systems.values():
        linli.shutdown()
        if linli.settings.postgres:
            with psycopg.connect(linli.settings.database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{linli.settings.database_schema}" CASCADE')


@pytest.fixture
def system(request, backend_name, shared_systems, tmp_path_factory):
    """An empty system on the parametrised backend, its clock at tests.support.START."""
    if backend_name not in shared_systems:
        if backend_name == "sqlite":
            settings = {"data_dir": tmp_path_factory.mktemp("shared") / "var"}
        else:
            settings = {"database_url": request.getfixturevalue("pg_url"), "pool_size": 2,
                        "database_schema": f"linli_test_{uuid.uuid4().hex[:12]}"}
        shared_systems[backend_name] = new_system(**settings)
    linli = shared_systems[backend_name]
    empty(linli)
    return linli


@pytest.fixture
def api(system) -> Api:
    with Api.serving(system) as api:
        yield api


def pytest_bdd_before_step_call(request, feature, scenario, step: Step, step_func, step_func_args):
    """An async step would never run and its scenario would pass: refuse it."""
    import inspect

    if inspect.iscoroutinefunction(step_func):
        raise TypeError(f"step '{step.name}' is async; pytest-bdd would skip its body. Make it a plain def.")
