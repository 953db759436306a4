"""A read-model read whose pooled connection died (PostgreSQL restarted, or an administrator ended
the session) is run again on a fresh connection instead of failing, without a round trip to test
each connection before use (issue 10: that check cost a round trip per read)."""
import psycopg
import pytest

from tests.support import new_system

pytestmark = pytest.mark.postgres


def test_a_read_whose_connection_was_ended_runs_again_on_a_fresh_one(pg_url, pg_schema):
    name = f"pooled-reads-{pg_schema}"
    system = new_system(database_url=f"{pg_url}?application_name={name}", database_schema=pg_schema, pool_size=3)
    try:
        assert system.db.rows("SELECT 1 AS one") == [{"one": 1}]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE application_name = %s", (name,)).fetchone()[0]
        assert ended >= 1

        assert [system.db.rows("SELECT 2 AS two") for _ in range(3)] == [[{"two": 2}]] * 3
    finally:
        system.shutdown()
