"""Auditors check history with the public key alone, from a read-only store, and never change it."""
import hashlib
import json
import subprocess
import sys
import uuid

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.integration.conftest import signed_system
from tests.integration.intruder import Intruder
from tests.integration.test_tamper_evidence import an_hour_served_then_more
from tests.support import Api

runner = CliRunner()


@pytest.fixture
def keys(tmp_path) -> tuple:
    """`linli audit keygen`: the private key for the signing processes, the public one for auditors."""
    private, public = tmp_path / "audit-key.pem", tmp_path / "audit-key.pub.pem"
    made = runner.invoke(app, ["audit", "keygen", "--private", str(private), "--public", str(public)])
    assert made.exit_code == 0, made.output
    return private, public


def a_signed_history(backend: dict, keys: tuple) -> None:
    system = signed_system(backend, (keys[0].read_bytes(), keys[1].read_bytes()))
    try:
        with Api.serving(system) as api:
            an_hour_served_then_more(api)
    finally:
        system.shutdown()


def store_env(backend: dict, **more) -> dict:
    """The environment of an auditor's shell: where the store is, and no signing key."""
    env = {"LINLI_AUDIT_KEY": None, "LINLI_AUDIT_KEY_FILE": None, "LINLI_AUDIT_CHECKPOINT_EVENTS": "4", **more}
    if "data_dir" in backend:
        return {**env, "LINLI_DATA_DIR": str(backend["data_dir"]), "LINLI_DATABASE_URL": None}
    return {**env, "LINLI_DATABASE_URL": backend["database_url"],
            "LINLI_DATABASE_SCHEMA": backend["database_schema"]}


def audit(env: dict, *args: str):
    return runner.invoke(app, ["audit", *args], env=env)


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(keys):
    private, public = keys
    assert private.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    again = runner.invoke(app, ["audit", "keygen", "--private", str(private), "--public", str(public)])
    assert again.exit_code != 0 and "exists" in again.output


def test_verify_with_the_public_key_alone_and_name_what_it_finds(backend, keys):
    a_signed_history(backend, keys)
    env = store_env(backend)
    clean = audit(env, "verify", "--public-key", str(keys[1]))
    assert clean.exit_code == 0 and "history verifies" in clean.output, clean.output

    other = runner.invoke(app, ["audit", "keygen", "--private", f"{keys[0]}.x", "--public", f"{keys[1]}.x"])
    assert other.exit_code == 0
    wrong = audit(env, "verify", "--public-key", str(keys[1]) + ".x")
    assert wrong.exit_code == 1 and "checkpoint 1 is badly signed" in wrong.output


def files_of(directory) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_verify_on_a_read_only_copy_of_the_sqlite_files_succeeds_and_writes_nothing(tmp_path, keys):
    a_signed_history({"data_dir": tmp_path / "var"}, keys)
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in (tmp_path / "var").glob("*.sqlite"):
        (copy / file.name).write_bytes(file.read_bytes())
        (copy / file.name).chmod(0o444)
    copy.chmod(0o555)
    before = files_of(copy)

    commands = (["verify", "--public-key", str(keys[1])], ["anchor"], ["export", "-o", str(tmp_path / "x.jsonl")])
    for args in commands:
        result = audit(store_env({"data_dir": copy}), *args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    assert files_of(copy) == before


@pytest.mark.postgres
def test_verify_through_a_role_that_may_only_read_succeeds_and_writes_nothing(pg_url, pg_schema, keys):
    backend = {"database_url": pg_url, "database_schema": pg_schema, "pool_size": 2}
    a_signed_history(backend, keys)
    role = f"linli_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE {role} LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA "{pg_schema}" TO {role}')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{pg_schema}" TO {role}')
    try:
        reader = pg_url.replace("root@", f"{role}@")
        with psycopg.connect(reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f'INSERT INTO "{pg_schema}".tracking VALUES (%s, %s, %s)', ("x", "x", 1))
        result = audit(store_env({**backend, "database_url": reader}), "verify", "--public-key", str(keys[1]))
        assert result.exit_code == 0 and "history verifies" in result.output, (result.output, result.exception)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_an_export_verifies_standalone_with_the_public_key_and_a_forged_checkpoint_is_caught(tmp_path, keys):
    a_signed_history({"data_dir": tmp_path / "var"}, keys)
    export = tmp_path / "export.jsonl"
    assert audit(store_env({"data_dir": tmp_path / "var"}), "export", "-o", str(export)).exit_code == 0
    lines = export.read_text(encoding="utf-8").splitlines()
    assert sum('"checkpoint"' in line for line in lines) >= 6

    def standalone(path):
        return subprocess.run([sys.executable, "-m", "projections.verify_export", str(path), "--public-key",
                               str(keys[1])], capture_output=True, text=True, check=False)

    ok = standalone(export)
    assert ok.returncode == 0 and "export verifies" in ok.stdout, ok.stdout + ok.stderr
    number, line = next((n, line) for n, line in enumerate(lines) if '"checkpoint"' in line)
    checkpoint = json.loads(line)
    checkpoint["checkpoint"]["events"] += 1
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join([*lines[:number], json.dumps(checkpoint), *lines[number + 1:]]), encoding="utf-8")
    caught = standalone(forged)
    assert caught.returncode == 1 and f"line {number + 1}" in caught.stdout
    assert "does not match its hash" in caught.stdout


def test_an_anchor_catches_a_cut_off_tail_that_took_its_checkpoints_along(backend, keys, tmp_path):
    a_signed_history(backend, keys)
    env = store_env(backend)
    published = audit(env, "anchor")
    assert published.exit_code == 0
    anchor = tmp_path / "anchor.json"
    anchor.write_text(published.output, encoding="utf-8")
    assert json.loads(published.output)["checkpoints"]["demands"]["seq"] == 6

    system = signed_system(backend, (keys[0].read_bytes(), keys[1].read_bytes()))
    try:
        intruder, last = Intruder(system), system.demands.recorder.max_notification_id()
        intruder.delete_events("demands", [last - 2, last - 1, last])
        intruder.views("DELETE FROM audit_chain WHERE context = 'demands' AND position > %s", (last - 3,))
        intruder.delete_checkpoints("demands", last - 2)
    finally:
        system.shutdown()

    without = audit(env, "verify", "--public-key", str(keys[1]))
    assert without.exit_code == 0, without.output  # nothing left in the store shows the cut: the anchor does
    caught = audit(env, "verify", "--public-key", str(keys[1]), "--anchor", str(anchor))
    assert caught.exit_code == 1 and "no longer holds anchored checkpoint 6" in caught.output, caught.output
