"""On PostgreSQL the API's role may add to history and read it, never change it; the append-only
trigger's override counts only for the owner."""
import uuid

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.support import Api, new_system

pytestmark = pytest.mark.postgres
HISTORY = ("demands_events", "registry_events", "demands_snapshots", "audit_chain", "audit_checkpoints", "audit_events")


@pytest.fixture
def store(pg_url, pg_schema):
    """A migrated store with some history, owned by the test's superuser."""
    system = new_system(database_url=pg_url, database_schema=pg_schema, pool_size=2)
    try:
        with Api.serving(system) as api:
            api.demand(api.org(), "open")
    finally:
        system.shutdown()
    return pg_url, pg_schema


@pytest.fixture
def role(pg_url):
    """Names for roles created by a test, dropped afterwards (roles belong to the whole cluster)."""
    made = []

    def name(kind: str) -> str:
        made.append(f"linli_{kind}_{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for r in made:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (r,)).fetchone():
                conn.execute(f"DROP OWNED BY {r}")
                conn.execute(f"DROP ROLE {r}")


def as_role(url: str, name: str, schema: str):
    return psycopg.connect(url.replace("root@", f"{name}@"), autocommit=True, options=f"-c search_path={schema}")


def refused(conn, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_api_role_adds_to_history_and_reads_it_but_cannot_change_it(store, role):
    url, schema = store
    api, auditor = role("api"), role("auditor")
    made = CliRunner().invoke(app, ["db", "roles", "--api", api, "--auditor", auditor],
                              env={"LINLI_DATABASE_URL": url, "LINLI_DATABASE_SCHEMA": schema})
    assert made.exit_code == 0, made.output
    with as_role(url, api, schema) as conn:
        assert conn.execute("SELECT COUNT(*) FROM demands_events").fetchone()[0] > 0
        conn.execute("INSERT INTO demands_events (originator_id, originator_version, topic, state) "
                     "VALUES (gen_random_uuid(), 1, 'probe', 'probe')")
        conn.execute("INSERT INTO audit_chain (context, position, hash, at) VALUES ('probe', 1, 'h', 'now')")
        conn.execute("UPDATE tracking SET position = position")  # read models it keeps current
        for table in HISTORY:
            for statement in (f"UPDATE {table} SET position = position" if table.startswith("audit_")
                              else f"UPDATE {table} SET state = state", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                assert refused(conn, statement), statement
    with as_role(url, auditor, schema) as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit_checkpoints").fetchone() is not None
        assert refused(conn, "INSERT INTO tracking VALUES ('x', 'x', 1)")
        assert refused(conn, "INSERT INTO demands_events (originator_id, originator_version, topic, state) "
                             "VALUES (gen_random_uuid(), 1, 'probe', 'probe')")


def test_the_api_role_records_commands_through_the_event_store(store, role):
    from api.settings import Settings
    from api.wiring import event_store_env
    from domain.actors import Actor, Role
    from workflows.engine import Meta
    from workflows.registry import Registry

    url, schema = store
    api = role("api")
    assert CliRunner().invoke(app, ["db", "roles", "--api", api, "--auditor", role("auditor")],
                              env={"LINLI_DATABASE_URL": url, "LINLI_DATABASE_SCHEMA": schema}).exit_code == 0
    settings = Settings(database_url=url.replace("root@", f"{api}@"), database_schema=schema, pool_size=1)
    registry = Registry(env={**event_store_env(settings, "registry"), "CREATE_TABLE": "n"})  # the owner migrated
    try:
        before = registry.recorder.max_notification_id()
        registry.register(Meta(Actor("admin", Role.ADMIN)), "grid", uuid.uuid4(), code="G-API", name="鼓楼网格",
                          type="街区型", district="鼓楼区")
        assert registry.recorder.max_notification_id() == before + 1
    finally:
        registry.close()


def test_a_session_that_is_not_the_owner_cannot_switch_the_append_only_trigger_off(store, role):
    url, schema = store
    careless = role("careless")  # granted more than it should have been
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {careless} LOGIN")
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {careless}')
        conn.execute(f'GRANT SELECT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "{schema}" TO {careless}')
    with as_role(url, careless, schema) as conn:
        for statement in ("UPDATE demands_events SET state = state", "DELETE FROM demands_events",
                          "TRUNCATE demands_events", "UPDATE audit_chain SET hash = 'forged'"):
            with conn.transaction():
                conn.execute("SET LOCAL linli.allow_history_rewrite = 'on'")
                assert refused(conn, statement), statement
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():  # the owner's documented repair
        conn.execute("SET LOCAL linli.allow_history_rewrite = 'on'")
        conn.execute(f'UPDATE "{schema}".demands_events SET state = state WHERE notification_id = 1')


def test_a_server_started_as_the_api_role_runs_no_ddl_serves_and_cannot_change_history(pg_url, pg_schema, role):
    env = {"LINLI_DATABASE_URL": pg_url, "LINLI_DATABASE_SCHEMA": pg_schema}
    migrated = CliRunner().invoke(app, ["db", "migrate"], env=env)
    assert migrated.exit_code == 0, migrated.output
    api_role = role("api")
    made = CliRunner().invoke(app, ["db", "roles", "--api", api_role, "--auditor", role("auditor")], env=env)
    assert made.exit_code == 0, made.output
    as_api = pg_url.replace("root@", f"{api_role}@")

    system = new_system(database_url=as_api, database_schema=pg_schema, pool_size=2)
    try:
        assert system.migrating is False
        with Api.serving(system) as served:
            owner, member = served.org(), served.member()
            demand = served.demand(owner, "open")
            claim = served.claim(demand, member)
            served.act("claims", claim["id"], "confirm", owner)
            served.ok(served.post(f"/members/{member.id}/actions/erase", {"reason": "本人申请"}, served.admin))
            assert served.ok(served.get(f"/demands/{demand['id']}", owner))["confirmed"] == 1
            assert served.ok(served.get("/demands", owner, status="filled"))["total"] == 0
            assert served.ok(served.get("/audit/verify", served.admin))["ok"] is True
        for table in HISTORY:
            for statement in (f"DELETE FROM {table}", f"TRUNCATE {table}",
                              f"UPDATE {table} SET position = position" if table.startswith("audit_")
                              else f"UPDATE {table} SET state = state"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), system.db.transaction() as tx:
                    tx.execute(statement)
    finally:
        system.shutdown()
    with psycopg.connect(pg_url) as conn:  # the store's DDL is the owner's: nothing was created as the API role
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = %s", (pg_schema,))}
    assert owners == {"root"}


def test_the_api_role_refuses_to_start_a_store_nobody_migrated(pg_url, pg_schema, role):
    api_role = role("api")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{pg_schema}"')
        conn.execute(f'CREATE ROLE {api_role} LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA "{pg_schema}" TO {api_role}')
    refused = CliRunner().invoke(app, ["db", "migrate"], env={
        "LINLI_DATABASE_URL": pg_url.replace("root@", f"{api_role}@"), "LINLI_DATABASE_SCHEMA": pg_schema})
    assert refused.exit_code == 1 and "as the owner" in refused.output
