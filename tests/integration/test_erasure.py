"""A member can be forgotten (PIPL's right to deletion) while history still verifies: their
personal data is sealed under a key of their own, and erasing them destroys that key."""
import json
import logging
import time

import psycopg
from typer.testing import CliRunner

from api.cli import app as cli
from projections.chain import export
from projections.signing import AuditKeys, Cadence, load_public
from projections.verify_export import check
from tests.integration.conftest import signed_system
from tests.integration.test_audit_cli import store_env
from tests.support import Api, new_system

NAME = "张三丰"
NOTE, PURPOSE = f"{NAME}带两位邻居来", f"{NAME}召集的楼道议事会"
ERASED = "已删除"


def a_member_with_a_claim_and_a_booking(api: Api) -> dict:
    owner = api.org()
    member = api.member(NAME)
    demand = api.demand(owner, "open")
    claim = api.ok(api.post(f"/demands/{demand['id']}/claims", {"headcount": 1, "note": NOTE}, member), 201)
    venue = api.venue(owner)
    booking = api.ok(api.post(f"/venues/{venue['id']}/bookings",
                              {**api.slot(), "attendees": 5, "purpose": PURPOSE}, member), 201)
    return {"owner": owner, "member": member, "demand": demand, "claim": claim, "venue": venue, "booking": booking}


def erase(api: Api, member_id: str, by=None, status: int = 200) -> dict:
    return api.ok(api.post(f"/members/{member_id}/actions/erase", {"reason": "本人申请删除个人信息"},
                           by or api.admin), status)


def stored_states(system) -> list[bytes]:
    return [bytes(n.state) for app in system.contexts.values()
            for n in app.recorder.select_notifications(1, 1_000_000)]


def every_read_model_row(system) -> str:
    """Every row of every table that is not an event store's, as text."""
    if system.settings.postgres:
        with psycopg.connect(system.settings.database_url) as conn:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                                 (system.settings.database_schema,))]
    else:
        tables = [r["name"] for r in system.db.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return repr([system.db.rows(f'SELECT * FROM "{t}"') for t in tables if not t.endswith(("_events", "_snapshots"))])


def surfaces(api: Api, world: dict) -> str:
    """Everything an auditor, the operator and the parties can read about the member, as text."""
    member, claim, booking, auditor = world["member"], world["claim"], world["booking"], api.auditor()
    replies = [
        api.get(f"/members/{member.id}", api.admin),
        api.get(f"/claims/{claim['id']}", world["owner"]),
        api.get(f"/demands/{world['demand']['id']}/claims", world["owner"]),
        api.get(f"/bookings/{booking['id']}", world["owner"]),
        api.get(f"/venues/{world['venue']['id']}/bookings", world["owner"]),
        api.get("/audit/events", auditor, limit=1000),
    ]
    for record in (member.id, claim["id"], booking["id"]):
        replies += [api.get(f"/audit/aggregates/{record}/history", auditor),
                    api.get(f"/audit/aggregates/{record}/state", auditor, version=1)]
    for reply in replies:
        assert reply.status_code == 200, reply.text
    return json.dumps([r.json() for r in replies], ensure_ascii=False)


def test_personal_data_is_stored_sealed_from_the_start(api):
    world = a_member_with_a_claim_and_a_booking(api)

    assert not [s for s in stored_states(api.system) if NAME.encode() in s]
    assert NAME not in every_read_model_row(api.system).replace(NOTE, "").replace(PURPOSE, "")
    shown = surfaces(api, world)
    assert NAME in shown and NOTE in shown and PURPOSE in shown and ERASED not in shown


def test_an_erased_member_reads_as_erased_everywhere_and_history_still_verifies(signed, key_pair, caplog):
    caplog.set_level(logging.DEBUG)
    api = signed
    world = a_member_with_a_claim_and_a_booking(api)
    before = stored_states(api.system)

    erased = erase(api, world["member"].id)

    assert erased["name"] == ERASED
    shown = surfaces(api, world)
    assert NAME not in shown and ERASED in shown
    assert json.loads(shown)[1]["note"] == ERASED and json.loads(shown)[3]["purpose"] == ERASED
    assert not [s for s in stored_states(api.system) if NAME.encode() in s]
    assert set(before) <= set(stored_states(api.system))  # history itself is untouched: one event more
    assert NAME not in every_read_model_row(api.system)
    if not api.system.settings.postgres:  # the files themselves, their logs included
        assert not [f.name for f in api.system.settings.data_dir.iterdir() if NAME.encode() in f.read_bytes()]
    assert api.ok(api.get("/audit/verify", api.admin)) == {"ok": True, "signed": True, "findings": []}
    lines = [json.dumps(e, ensure_ascii=False) for e in export(api.system.db, api.system.contexts, None, None)]
    assert check(lines, load_public(key_pair[1]).public_bytes_raw()) is None and NAME not in "".join(lines)
    assert caplog.records and NAME not in caplog.text  # no log line, at any level


def test_the_erasure_says_who_when_and_why_and_running_it_again_changes_nothing(api):
    world = a_member_with_a_claim_and_a_booking(api)
    first = erase(api, world["member"].id)
    events = api.event_count()

    again = erase(api, world["member"].id)

    assert again["version"] == first["version"] and api.event_count() == events
    last = api.ok(api.get(f"/audit/aggregates/{world['member'].id}/history", api.auditor()))["events"][-1]
    assert (last["type"], last["actor_id"], last["actor_role"], last["reason"]) == (
        "Member.Erased", "admin", "admin", "本人申请删除个人信息")
    assert last["at"]


def test_only_the_operator_erases_and_an_unknown_member_is_not_found(api):
    world = a_member_with_a_claim_and_a_booking(api)
    events = api.event_count()
    for caller in (world["member"], world["owner"], api.auditor()):
        assert api.post(f"/members/{world['member'].id}/actions/erase", {"reason": "想删"}, caller).status_code == 403
    assert api.post(f"/members/{world['member'].id}/actions/erase", {"reason": "x"}).status_code == 401
    unknown = api.post("/members/6f1c8c3e-0000-4000-8000-000000000000/actions/erase", {"reason": "x"}, api.admin)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert api.post(f"/members/{world['owner'].id}/actions/erase", {"reason": "x"}, api.admin).status_code == 404
    assert api.post(f"/members/{world['member'].id}/actions/erase", {"reason": ""}, api.admin).status_code == 422
    assert api.event_count() == events
    assert NAME in surfaces(api, world)


def test_a_rebuild_after_an_erasure_keeps_it_erased(api):
    world = a_member_with_a_claim_and_a_booking(api)
    erase(api, world["member"].id)

    api.system.projector.rebuild()

    assert NAME not in surfaces(api, world) and NAME not in every_read_model_row(api.system)


def test_an_erased_member_acts_no_more_and_nothing_new_of_theirs_is_kept(api):
    world = a_member_with_a_claim_and_a_booking(api)
    erase(api, world["member"].id)
    demand = api.demand(world["owner"], "open")

    refused = api.post(f"/demands/{demand['id']}/claims", {"headcount": 1, "note": f"{NAME}又来了"}, world["member"])
    assert refused.status_code == 401
    token = api.token("member", world["member"].id)  # an operator's mistake: a new token for the erased member
    later = api.ok(api.post(f"/demands/{demand['id']}/claims", {"headcount": 1, "note": f"{NAME}又来了"}, token), 201)
    api.system.people.forget()  # what a later request, or another process, reads back
    assert api.ok(api.get(f"/claims/{later['id']}", api.admin))["note"] == ERASED
    assert not [s for s in stored_states(api.system) if NAME.encode() in s]


def test_another_process_forgets_within_a_second(backend):
    first, second = new_system(**backend), new_system(**backend)
    try:
        with Api.serving(first) as one, Api.serving(second) as other:
            world = a_member_with_a_claim_and_a_booking(one)
            assert other.ok(other.get(f"/claims/{world['claim']['id']}", other.admin))["note"] == NOTE  # cached

            erase(one, world["member"].id)
            time.sleep(1.1)

            assert other.ok(other.get(f"/claims/{world['claim']['id']}", other.admin))["note"] == ERASED
            assert other.ok(other.get(f"/members/{world['member'].id}", other.admin))["name"] == ERASED
    finally:
        first.shutdown()
        second.shutdown()


def test_linli_people_erase_forgets_a_member_and_the_store_still_verifies(backend, key_pair):
    system = signed_system(backend, key_pair)
    try:
        with Api.serving(system) as api:
            world = a_member_with_a_claim_and_a_booking(api)
    finally:
        system.shutdown()
    env = store_env(backend)
    run = CliRunner().invoke(cli, ["people", "erase", world["member"].id, "--reason", "本人申请"], env=env)
    assert run.exit_code == 0, run.output
    again = CliRunner().invoke(cli, ["people", "erase", world["member"].id, "--reason", "本人申请"], env=env)
    assert again.exit_code == 0, again.output
    unknown = CliRunner().invoke(cli, ["people", "erase", world["owner"].id, "--reason", "x"], env=env)
    assert unknown.exit_code == 1 and "no member" in unknown.output

    system = signed_system(backend, key_pair)
    try:
        with Api.serving(system) as api:
            assert NAME not in surfaces(api, world)
            keys = AuditKeys(public=load_public(key_pair[1]), cadence=Cadence(4, 3600))
            from projections.chain import verify

            assert verify(system.db, system.contexts, keys) == []
    finally:
        system.shutdown()


def test_a_stored_reply_does_not_replay_what_an_erasure_removed(api):
    body = {"name": NAME, "organisation_id": api.org().id, "grid_id": api.grid(), "flowing": False}
    key = {"Idempotency-Key": "register-zhang"}
    member = api.ok(api.post("/members", body, api.admin, headers=key), 201)
    assert NAME in every_read_model_row(api.system)  # the stored reply, kept for retries

    erase(api, member["id"])

    assert NAME not in every_read_model_row(api.system)
    again = api.post("/members", body, api.admin, headers=key)
    assert again.json()["id"] == member["id"] and again.json()["name"] == ERASED


def test_events_stored_before_sealing_still_decode_and_their_member_can_be_erased(api):
    from uuid import uuid4

    from eventsourcing.persistence import Mapper

    from domain.registry import Member

    plain = Mapper(api.system.registry.mapper.transcoder)  # the library's own, as before sealing
    member = Member.register(uuid4(), "李四", api.org().id, api.grid(), False)
    api.system.registry.recorder.insert_events([plain.to_stored_event(e) for e in member.collect_events()])
    api.system.project()

    assert api.ok(api.get(f"/members/{member.id}", api.admin))["name"] == "李四"
    assert erase(api, str(member.id))["name"] == ERASED
    assert api.ok(api.get(f"/members/{member.id}", api.admin))["name"] == ERASED
    assert api.ok(api.get("/audit/verify", api.admin))["ok"] is True


def test_the_console_shows_an_erased_member_as_erased(api):
    from tests.integration.test_console import _signed_in

    world = a_member_with_a_claim_and_a_booking(api)
    _signed_in(api, api.admin)
    pages = [f"/console/audit/{world['member'].id}?version=1", f"/console/audit/{world['claim']['id']}",
             f"/console/audit?aggregate_id={world['claim']['id']}", f"/console/demands/{world['demand']['id']}"]
    assert NAME in "".join(api.client.get(page).text for page in pages)

    erase(api, world["member"].id)

    shown = [api.client.get(page) for page in pages]
    assert all(page.status_code == 200 for page in shown)
    assert NAME not in "".join(page.text for page in shown) and ERASED in shown[0].text


def test_the_reason_a_member_gives_is_theirs_too(api):
    world = a_member_with_a_claim_and_a_booking(api)
    reason = f"{NAME}住院了"
    api.act("claims", world["claim"]["id"], "cancel", world["member"], {"reason": reason})
    api.act("bookings", world["booking"]["id"], "cancel", world["member"], {"reason": reason})
    assert not [s for s in stored_states(api.system) if reason.encode() in s]
    assert NAME not in every_read_model_row(api.system).replace(NOTE, "").replace(PURPOSE, "").replace(reason, "")
    assert api.ok(api.get(f"/claims/{world['claim']['id']}", world["owner"]))["reason"] == reason
    assert reason in surfaces(api, world)

    erase(api, world["member"].id)

    shown = surfaces(api, world)
    assert NAME not in shown and NAME not in every_read_model_row(api.system)
    assert api.ok(api.get(f"/claims/{world['claim']['id']}", world["owner"]))["reason"] == ERASED
    assert api.ok(api.get(f"/bookings/{world['booking']['id']}", world["owner"]))["reason"] == ERASED
    assert api.ok(api.get("/audit/verify", api.admin))["ok"] is True


def test_text_that_only_looks_sealed_opens_to_nothing_and_stops_no_reply(api):
    owner = api.org()
    for forged in ('{"_personal_": {"person": 1, "box": "x"}}',
                   '{"_personal_": {"person": "not a member", "nonce": "x", "box": "x"}}'):
        demand = api.demand(owner, "open")
        api.act("demands", demand["id"], "withdraw", owner, {"reason": forged})

        rows = api.ok(api.get("/audit/events", api.auditor(), aggregate_id=demand["id"]))["items"]

        assert rows[-1]["reason"] == ERASED
    assert api.ok(api.get("/audit/verify", api.admin))["ok"] is True
