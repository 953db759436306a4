"""An intruder with write access to the store cannot rewrite history unseen: checkpoints are
signed with a key the database never holds, chain, and fall due at a cadence; verification
recomputes everything from the events and names what it finds. One test per attack."""
import json
import logging

from projections.chain import verify
from projections.signing import AuditKeys, Cadence, generate, load_private, load_public, seal
from tests.integration.conftest import signed_system
from tests.integration.intruder import Intruder
from tests.support import Api, new_system

COMPLETED, FORGED = b'"hours":1.0', b'"hours":24.0'


def an_hour_served_then_more(api: Api) -> None:
    """A member completes 1 hour of service; four more demands follow (demands log: 24 events)."""
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open", needed=1)
    claim = api.claim(demand, member)
    api.act("claims", claim["id"], "confirm", owner)
    api.act("demands", demand["id"], "start", owner)
    api.act("claims", claim["id"], "check_in", member)
    api.act("claims", claim["id"], "complete", member, {"hours": 1})
    for _ in range(4):
        api.demand(owner, "open")


def demands_events(api: Api) -> int:
    return api.system.demands.recorder.max_notification_id()


def problems(api: Api, context: str = "demands") -> list[str]:
    report = api.ok(api.get("/audit/verify", api.admin))
    return [f["problem"] for f in report["findings"] if f["context"] == context]


def test_checkpoints_chain_and_fall_due_every_n_events(signed, key_pair):
    an_hour_served_then_more(signed)
    rows = signed.system.db.rows("SELECT * FROM audit_checkpoints WHERE context = 'demands' ORDER BY seq")

    assert [(r["seq"], r["position"], r["events"]) for r in rows] == [(n, 4 * n, 4 * n) for n in range(1, 7)]
    assert [r["previous"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    public = load_public(key_pair[1])
    keys = AuditKeys(public=public, cadence=Cadence(4, 3600))
    assert verify(signed.system.db, signed.system.contexts, keys) == []
    assert signed.ok(signed.get("/audit/verify", signed.admin)) == {"ok": True, "signed": True, "findings": []}


def test_a_checkpoint_falls_due_once_activity_has_run_t_seconds(backend, key_pair):
    system = signed_system(backend, key_pair, audit_checkpoint_events=1000, audit_checkpoint_seconds=3)
    try:
        with Api.serving(system) as api:
            api.org()
            api.clock.advance(seconds=3.1)  # events are dated by the system's clock
            due = system.registry.recorder.max_notification_id() + 1
            api.org()
            rows = system.db.rows("SELECT context, position, events FROM audit_checkpoints")
            assert rows == [{"context": "registry", "position": due, "events": due}]
            assert api.ok(api.get("/audit/verify", api.admin))["ok"] is True
    finally:
        system.shutdown()


def test_the_signing_key_never_reaches_the_database(signed, key_pair):
    an_hour_served_then_more(signed)
    secret = load_private(key_pair[0]).private_bytes_raw()
    tables = ("audit_chain", "audit_checkpoints", "tracking")
    dump = repr([signed.system.db.rows(f"SELECT * FROM {t}") for t in tables])
    assert secret.hex() not in dump and key_pair[0].decode().splitlines()[1] not in dump


def test_a_rewrite_rechained_with_its_checkpoints_deleted_is_caught_as_missing_checkpoints(signed):
    an_hour_served_then_more(signed)
    intruder = Intruder(signed.system)
    position = intruder.position_of("Claim.Completed")
    intruder.rewrite("demands", position, COMPLETED, FORGED)
    intruder.rechain("demands")
    intruder.delete_checkpoints("demands", position)

    found, unsigned = problems(signed), demands_events(signed) - 8
    assert any(f"a checkpoint is missing: {unsigned} events" in p and "after checkpoint 2" in p
               for p in found), found


def test_a_live_server_does_not_sign_a_rewrite_whose_chain_was_moved_back(signed, caplog):
    an_hour_served_then_more(signed)
    intruder = Intruder(signed.system)
    position = intruder.position_of("Claim.Completed")
    intruder.rewrite("demands", position, COMPLETED, FORGED)
    intruder.delete_checkpoints("demands", position)
    intruder.move_chain_back("demands", position)
    before = intruder.views("SELECT COUNT(*) FROM audit_checkpoints")

    found = problems(signed)  # verify reads only: it neither chains the forgery nor signs it
    assert intruder.views("SELECT position FROM tracking WHERE view = 'audit_chain' AND context = 'demands'") == [
        (position - 1,)]
    with caplog.at_level(logging.ERROR, logger="linli.audit"):
        signed.demand(signed.org(), "open")  # the command's inline projection chains on, but will not sign
    assert intruder.views("SELECT COUNT(*) FROM audit_checkpoints") == before
    assert "no longer holds checkpoint 6" in caplog.text
    assert any("a checkpoint is missing" in p for p in found), found
    assert any(f"a checkpoint is missing: {demands_events(signed) - 8} events" in p for p in problems(signed))


def signed_checkpoints(system, context: str = "demands") -> int:
    return system.db.rows("SELECT COUNT(*) AS n FROM audit_checkpoints WHERE context = %s", (context,))[0]["n"]


def test_a_restarted_signer_remembers_its_newest_checkpoint_and_will_not_sign_a_chain_moved_back_meanwhile(
        backend, key_pair, tmp_path, caplog):
    witness = tmp_path / "audit-witness.json"
    system = signed_system(backend, key_pair, audit_witness_file=str(witness))
    try:
        with Api.serving(system) as api:
            an_hour_served_then_more(api)
        assert json.loads(witness.read_text())["demands"]["seq"] == 6
        intruder = Intruder(system)  # while the signer is down
        position = intruder.position_of("Claim.Completed")
        intruder.rewrite("demands", position, COMPLETED, FORGED)
        intruder.delete_checkpoints("demands", position)
        intruder.move_chain_back("demands", position)
        left = signed_checkpoints(system)
    finally:
        system.shutdown()

    restarted = signed_system(backend, key_pair, audit_witness_file=str(witness))
    try:
        with caplog.at_level(logging.ERROR, logger="linli.audit"), Api.serving(restarted) as api:
            api.demand(api.org(), "open")
            assert signed_checkpoints(restarted) == left
            assert "no longer holds checkpoint 6" in caplog.text
    finally:
        restarted.shutdown()

    forgetful = signed_system(backend, key_pair)  # without the file, a restarted signer signs the forgery
    try:
        with Api.serving(forgetful) as api:
            api.demand(api.org(), "open")
            assert signed_checkpoints(forgetful) > left
    finally:
        forgetful.shutdown()


def test_cutting_off_events_that_a_checkpoint_signed_is_caught(signed):
    an_hour_served_then_more(signed)
    intruder = Intruder(signed.system)
    intruder.delete_events("demands", [22, 23, 24])
    intruder.views("DELETE FROM audit_chain WHERE context = 'demands' AND position > 21")

    assert "checkpoint 6 signs position 24, which the store no longer holds" in problems(signed)


def test_a_rewrite_rechained_is_caught_by_the_stored_checkpoints_even_without_a_key(signed):
    an_hour_served_then_more(signed)
    intruder = Intruder(signed.system)
    position = intruder.position_of("Claim.Completed")
    intruder.rewrite("demands", position, COMPLETED, FORGED)
    intruder.rechain("demands")

    found = verify(signed.system.db, signed.system.contexts, AuditKeys())
    assert "history up to position 12 differs from signed checkpoint 3" in [f.problem for f in found], found


def test_checkpoints_signed_again_with_another_key_are_caught(signed):
    an_hour_served_then_more(signed)
    intruder = Intruder(signed.system)
    position = intruder.position_of("Claim.Completed")
    intruder.rewrite("demands", position, COMPLETED, FORGED)
    intruder.rechain("demands")
    own_key = load_private(generate()[0])
    for (seq,) in intruder.views("SELECT seq FROM audit_checkpoints WHERE context = 'demands' AND position >= %s",
                                 (position,)):
        row = signed.system.db.rows("SELECT * FROM audit_checkpoints WHERE context = 'demands' AND seq = %s",
                                    (seq,))[0]
        head = intruder.views("SELECT hash FROM audit_chain WHERE context = 'demands' AND position = %s",
                              (row["position"],))[0][0]
        previous = signed.system.db.rows("SELECT hash FROM audit_checkpoints WHERE context = 'demands' AND seq = %s",
                                         (seq - 1,))[0]["hash"]
        forged = seal(own_key, {**{k: row[k] for k in ("context", "seq", "position", "events", "every_events",
                                                       "every_seconds")}, "head": head, "previous": previous})
        intruder.views("UPDATE audit_checkpoints SET head = %s, previous = %s, hash = %s, signature = %s "
                       "WHERE context = 'demands' AND seq = %s",
                       (forged["head"], forged["previous"], forged["hash"], forged["signature"], seq))

    found = problems(signed)
    assert "checkpoint 3 is badly signed (not by this public key)" in found, found


def test_a_checkpoint_removed_from_the_middle_is_caught(signed):
    an_hour_served_then_more(signed)
    Intruder(signed.system).views("DELETE FROM audit_checkpoints WHERE context = 'demands' AND seq = 3")

    assert "checkpoint 3 is missing (the next one is 4)" in problems(signed)


def test_forged_audit_index_rows_are_caught(signed):
    an_hour_served_then_more(signed)
    intruder = Intruder(signed.system)
    intruder.views("UPDATE audit_events SET actor_id = 'forged-actor' WHERE context = 'demands' AND position > 3")

    assert "the audit index differs from the event (actor_id)" in problems(signed)
    assert signed.ok(signed.get("/audit/verify", signed.admin))["ok"] is False


def test_checkpoints_out_of_order_are_caught_even_when_well_signed(signed, key_pair):
    an_hour_served_then_more(signed)
    last = signed.system.db.rows("SELECT * FROM audit_checkpoints WHERE context = 'demands' ORDER BY seq DESC")[0]
    earlier = seal(load_private(key_pair[0]), {**{k: last[k] for k in ("context", "events", "every_events",
                                                                      "every_seconds", "head")},
                                               "seq": last["seq"] + 1, "previous": last["hash"], "position": 2})
    Intruder(signed.system).views(
        "INSERT INTO audit_checkpoints (context, seq, position, previous, head, events, every_events, "
        "every_seconds, hash, signature) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        tuple(earlier[k] for k in ("context", "seq", "position", "previous", "head", "events", "every_events",
                                   "every_seconds", "hash", "signature")))

    assert f"checkpoint 7 is out of order (position 2 is not after {last['position']})" in problems(signed)


def test_a_store_from_before_signed_checkpoints_is_migrated_and_signed_anew(backend, key_pair):
    system = new_system(**backend)
    try:
        with Api.serving(system) as api:
            an_hour_served_then_more(api)
        with system.db.transaction() as tx:  # the tables as the release before signed checkpoints made them
            tx.execute("DROP TABLE audit_chain")
            tx.execute("DROP TABLE audit_checkpoints")
            tx.execute("CREATE TABLE audit_chain (context TEXT NOT NULL, position BIGINT NOT NULL, "
                       "hash TEXT NOT NULL, PRIMARY KEY (context, position))")
            tx.execute("CREATE TABLE audit_checkpoints (context TEXT NOT NULL, position BIGINT NOT NULL, "
                       "hash TEXT NOT NULL, signature TEXT NOT NULL, PRIMARY KEY (context, position))")
            tx.execute("INSERT INTO audit_checkpoints VALUES ('demands', 24, 'h', 'hmac')")
    finally:
        system.shutdown()

    upgraded = signed_system(backend, key_pair)
    try:
        with Api.serving(upgraded) as api:
            upgraded.project()  # the chain is made again from the events
            assert upgraded.db.rows("SELECT context, position, signature FROM audit_checkpoints_v1") == [
                {"context": "demands", "position": 24, "signature": "hmac"}]
            signed = upgraded.db.rows("SELECT position FROM audit_checkpoints WHERE context = 'demands' ORDER BY seq")
            assert [r["position"] for r in signed] == [4, 8, 12, 16, 20, 24]
            keys = AuditKeys(public=load_public(key_pair[1]), cadence=Cadence(4, 3600))
            assert verify(upgraded.db, upgraded.contexts, keys) == []
            api.demand(api.org(), "open")
            assert verify(upgraded.db, upgraded.contexts, keys) == []
    finally:
        upgraded.shutdown()
