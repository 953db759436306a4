"""Fixtures the fault-injection tests share: a PostgreSQL system of their own, and the subprocesses
they start."""
import pytest

from tests.concurrency.live import local_system


@pytest.fixture
def system(pg_url, pg_schema):
    linli = local_system(pg_url, pg_schema)
    yield linli
    linli.shutdown()


@pytest.fixture
def procs():
    """Every subprocess a test starts; all are ended when it finishes, whatever happened."""
    started = []
    yield started
    for proc in started:
        proc.stop(timeout=20)
