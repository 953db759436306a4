"""`linli serve` started as the least-privilege API role: the owner migrates and grants, the server
starts without DDL, serves commands and reads, and the role it runs as cannot change history."""
import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.concurrency.live import ADMIN, Proc, free_port, linli_env, wait_until
from tests.integration.test_least_privilege import HISTORY, as_role, refused, role  # noqa: F401 - a fixture

pytestmark = pytest.mark.postgres


def test_linli_serve_as_the_api_role_serves_and_cannot_change_history(
        pg_url, pg_schema, role, procs, tmp_path):  # noqa: F811 - the imported fixture
    owner_env = {"LINLI_DATABASE_URL": pg_url, "LINLI_DATABASE_SCHEMA": pg_schema}
    assert CliRunner().invoke(app, ["db", "migrate"], env=owner_env).exit_code == 0
    api_role = role("api")
    assert CliRunner().invoke(app, ["db", "roles", "--api", api_role, "--auditor", role("auditor")],
                              env=owner_env).exit_code == 0
    port = free_port()
    server = Proc("server", ["serve", "--port", str(port)],
                  linli_env(pg_url.replace("root@", f"{api_role}@"), pg_schema), tmp_path)
    procs.append(server.start())
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert server.alive, server.tail()
        try:
            return httpx.get(f"{url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, 120, f"the server did not answer /health\n{server.tail()}", interval=0.25)
    with httpx.Client(base_url=url, headers=ADMIN, timeout=30) as client:
        def created(path: str, body: dict) -> dict:
            reply = client.post(path, json=body)
            assert reply.status_code == 201, reply.text
            return reply.json()

        grid = created("/grids", {"code": "G1", "name": "三坊七巷", "type": "街区型", "district": "鼓楼区"})
        org = created("/organisations", {"name": "社区党委", "kind": "党组织", "grid_id": grid["id"],
                                         "district": "鼓楼区"})
        member = created("/members", {"name": "张三丰", "organisation_id": org["id"], "grid_id": grid["id"]})
        erased = client.post(f"/members/{member['id']}/actions/erase", json={"reason": "本人申请"})
        assert erased.status_code == 200 and erased.json()["name"] == "已删除", erased.text
        assert client.get(f"/members/{member['id']}").json()["name"] == "已删除"
        assert client.get("/stats").json()["members"] == 1
        assert client.get("/audit/verify").json()["ok"] is True
    with as_role(pg_url, api_role, pg_schema) as conn:
        assert conn.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE usename = %s", (api_role,)).fetchone()[0] > 1
        for table in HISTORY:
            for statement in (f"DELETE FROM {table}", f"TRUNCATE {table}"):
                assert refused(conn, statement), statement
    with psycopg.connect(pg_url) as conn:
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = %s", (pg_schema,))}
    assert owners == {"root"}
