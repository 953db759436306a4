"""Auditors see every change with who, when and why, replay any record, and detect rewrites."""
import random
from datetime import datetime, timedelta

import pytest

from projections.signing import generate


def events_of(api, aggregate_id: str) -> list[dict]:
    return api.ok(api.get(f"/audit/aggregates/{aggregate_id}/history", api.admin))["events"]


def test_every_event_of_every_context_says_who_when_and_why(api):
    owner = api.org()
    api.demand(owner, "filled")
    api.booking_in("confirmed")
    api.service_request_in("resolved")
    rows = api.ok(api.get("/audit/events", api.admin, limit=1000))["items"]

    assert {r["context"] for r in rows} == {"registry", "demands", "venues", "services"}
    for row in rows:
        assert row["actor_id"] and row["actor_role"] and row["correlation_id"] and row["causation_id"], row


def test_a_request_id_becomes_the_correlation_of_its_events(api):
    owner = api.org()
    response = api.post("/demands", api.demand_body(), owner, headers={"X-Request-ID": "req-audit-1"})
    assert response.headers["X-Request-ID"] == "req-audit-1"
    event = events_of(api, response.json()["id"])[0]
    assert (event["correlation_id"], event["causation_id"], event["actor_role"]) == ("req-audit-1", "req-audit-1", "org")


def test_a_policys_events_name_the_event_that_caused_them(api):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open")
    claim = api.claim(demand, member)
    api.act("demands", demand["id"], "withdraw", owner, {"reason": "活动取消"})

    withdrawn = [e for e in events_of(api, demand["id"]) if e["type"] == "Demand.Withdrawn"][0]
    cancelled = [e for e in events_of(api, claim["id"]) if e["type"] == "Claim.Cancelled"][0]
    assert cancelled["actor_role"] == "system"
    assert cancelled["causation_id"] == f"{demand['id']}:{withdrawn['version']}"
    assert cancelled["correlation_id"] == withdrawn["correlation_id"]


def test_a_timers_events_name_the_event_that_set_the_deadline(api):
    venue, booking = api.booking_in("no_show")
    history = events_of(api, booking["id"])
    approved = [e for e in history if e["type"] == "Booking.Approved"][0]
    no_show = [e for e in history if e["type"] == "Booking.MarkedNoShow"][0]
    assert no_show["actor_role"] == "system"
    assert no_show["causation_id"] == f"{booking['id']}:{approved['version']}"

    _, request = api.service_request_in("in_progress", promised_days=1)
    api.clock.set(datetime.fromisoformat(request["due_at"]) + timedelta(hours=1))
    api.tick()
    history = events_of(api, request["id"])
    accepted = [e for e in history if e["type"] == "ServiceRequest.Accepted"][0]
    for kind in ("ServiceRequest.SlaWarning", "ServiceRequest.SlaBreached"):
        fired = [e for e in history if e["type"] == kind]
        assert len(fired) == 1 and fired[0]["causation_id"] == f"{request['id']}:{accepted['version']}"


def test_history_shows_what_each_event_changed(api):
    owner = api.org()
    demand = api.demand(owner, "pending_review")
    submitted = [e for e in events_of(api, demand["id"]) if e["type"] == "Demand.Submitted"][0]
    assert submitted["changes"] == {"status": {"from": "draft", "to": "pending_review"}}


def test_state_at_a_version_or_an_instant_is_the_record_as_it_was(api):
    owner, members = api.org(), [api.member() for _ in range(3)]
    demand = api.demand(owner, "open", needed=3, auto_confirm=True)
    for member in members:
        api.clock.advance(minutes=5)
        api.claim(demand, member)
    api.clock.advance(minutes=5)
    api.act("demands", demand["id"], "start", owner)
    history = events_of(api, demand["id"])
    rng = random.Random(4)
    for version in rng.sample(range(1, len(history) + 1), k=min(6, len(history))):
        state = api.ok(api.get(f"/audit/aggregates/{demand['id']}/state", api.admin, version=version))["state"]
        replay = [e for e in history if e["version"] <= version]
        status = next((e["changes"]["status"]["to"] for e in reversed(replay) if "status" in e["changes"]), None)
        assert state["version"] == version and state["status"] == status
        instant = history[version - 1]["at"]  # events of one command share the clock's instant
        at = api.ok(api.get(f"/audit/aggregates/{demand['id']}/state", api.admin, at=instant))
        assert at["state"]["version"] == max(e["version"] for e in history if e["at"] == instant)


def test_auditors_read_audit_and_read_models_but_others_do_not_read_audit(api):
    auditor, owner = api.auditor(), api.org()
    assert api.get("/audit/events", auditor).status_code == 200
    assert api.get("/demands", auditor).status_code == 200
    assert api.get("/audit/events", owner).status_code == 403
    assert api.get("/audit/verify", auditor).json()["ok"] is True


def test_every_state_changing_route_refuses_the_auditor_and_changes_nothing(api):
    auditor, owner, member = api.auditor(), api.org(), api.member()
    demand = api.demand(owner, "open")
    claim = api.claim(demand, member)
    venue, booking = api.booking_in("requested")
    item, request = api.service_request_in("submitted")
    ids = {"demand_id": demand["id"], "claim_id": claim["id"], "venue_id": venue["id"], "booking_id": booking["id"],
           "item_id": item["id"], "request_id": request["id"], "trigger": "cancel", "token_id": "any-token"}
    before = api.event_count()
    routes = [(method.upper(), path) for path, methods in api.client.app.openapi()["paths"].items()
              for method in methods if method in ("post", "put", "patch", "delete")]
    assert len(routes) >= 15
    for method, template in routes:
        path = template.format(**{**ids, "record_id": demand["id"]})
        response = api.client.request(method, path, json={}, headers=auditor.headers)
        assert response.status_code == 403, (method, path, response.text)
    assert api.event_count() == before


@pytest.mark.postgres
def test_rewrites_of_history_are_detected_and_named(pg_url, pg_schema):
    import psycopg

    from tests.support import Api, new_system

    system = new_system(database_url=pg_url, database_schema=pg_schema, pool_size=2, audit_key=generate()[0].decode())
    try:
        with Api.serving(system) as api:
            owner = api.org()
            api.demand(owner, "filled")
            assert api.ok(api.get("/audit/verify", api.admin)) == {"ok": True, "signed": True, "findings": []}

            def tamper(statement: str) -> list[dict]:
                with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
                    conn.execute("SET LOCAL linli.allow_history_rewrite = 'on'")
                    conn.execute(statement.format(s=pg_schema))
                return api.ok(api.get("/audit/verify", api.admin))["findings"]

            with psycopg.connect(pg_url, autocommit=True) as conn:
                with pytest.raises(psycopg.Error, match="append-only"):
                    conn.execute(f"UPDATE {pg_schema}.demands_events SET state = state")
                with pytest.raises(psycopg.Error, match="append-only"):
                    conn.execute(f"DELETE FROM {pg_schema}.demands_events")

            changed = tamper("UPDATE {s}.demands_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
                             "'\"needed\":2', '\"needed\":9'), 'UTF8') WHERE notification_id = 1")
            assert changed[0]["context"] == "demands" and changed[0]["position"] == 1

            deleted = tamper("DELETE FROM {s}.registry_events WHERE notification_id = 2")
            assert {"context": "registry", "position": 2} in [
                {"context": f["context"], "position": f["position"]} for f in deleted]
    finally:
        system.shutdown()


@pytest.mark.postgres
def test_a_rewrite_of_events_and_chain_without_the_key_breaks_a_signed_checkpoint(pg_url, pg_schema):
    import psycopg

    from projections.chain import GENESIS, entry_hash, stored_entries
    from tests.support import Api, new_system

    system = new_system(database_url=pg_url, database_schema=pg_schema, pool_size=2, audit_key=generate()[0].decode(),
                        audit_checkpoint_events=1)
    try:
        with Api.serving(system) as api:
            api.demand(api.org(), "open")
            with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
                conn.execute("SET LOCAL linli.allow_history_rewrite = 'on'")
                conn.execute(f"UPDATE {pg_schema}.demands_events SET state = convert_to(replace(convert_from("
                             "state, 'UTF8'), '\"needed\":2', '\"needed\":7'), 'UTF8') WHERE notification_id = 1")
            with psycopg.connect(pg_url, autocommit=True) as conn, conn.transaction():
                conn.execute("SET LOCAL linli.allow_history_rewrite = 'on'")  # a superuser may
                previous = GENESIS  # the forger recomputes the whole chain, but cannot sign it
                for position, originator_id, version, topic, state in stored_entries(system.demands):
                    previous = entry_hash(previous, position, originator_id, version, topic, state)
                    conn.execute(f"UPDATE {pg_schema}.audit_chain SET hash = %s WHERE context = 'demands' "
                                 "AND position = %s", (previous, position))
            findings = api.ok(api.get("/audit/verify", api.admin))["findings"]
            assert any(f["context"] == "demands" and "checkpoint" in f["problem"] for f in findings), findings
    finally:
        system.shutdown()


def test_an_export_verifies_standalone_and_a_one_byte_change_is_caught(api, tmp_path):
    import json

    from projections.chain import export
    from projections.verify_export import check

    api.demand(api.org(), "filled")
    api.system.projector.catch_up()
    lines = [json.dumps(e, ensure_ascii=False) for e in export(api.system.db, api.system.contexts, None, None)]
    assert len(lines) == api.event_count()
    assert check(lines) is None
    tampered = list(lines)
    tampered[3] = tampered[3].replace('"version": ', '"version": 1', 1)
    assert "line 4" in check(tampered)
