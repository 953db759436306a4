"""Steps for the auditor's specs: trace, reconstruct, detect."""
import sqlite3

import psycopg
import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from tests.support import Api

scenarios("audit.feature")

CLAIM_STEPS = {"认领": "Claim.Made", "确认": "Claim.Confirmed", "签到": "Claim.CheckedIn", "完工": "Claim.Completed",
               "核实": "Claim.Verified"}
BOOKING_STATUS = {"已确认": "confirmed", "已取消": "cancelled"}


@pytest.fixture(autouse=True)
def scene(api: Api) -> dict:
    """Named parties and records of one scenario (autouse: every scenario runs on each backend)."""
    return {"api": api}


def _history(api: Api, record_id: str) -> list[dict]:
    return api.ok(api.get(f"/audit/aggregates/{record_id}/history", api.auditor_party))["events"]


@given(parsers.parse('审计员"{name}"已登记'))
def an_auditor(scene):
    api = scene["api"]
    api.auditor_party = api.auditor()


@given(parsers.parse('组织"{org}"发布需求"{title}"，需要 {needed:d} 人，已审核通过'))
def a_published_demand(scene, org, title, needed):
    api = scene["api"]
    scene["owner"] = api.org(org)
    scene["demand"] = api.demand(scene["owner"], "open", title=title, needed=needed)


@given(parsers.parse('党员"{name}"认领该需求，组织确认'))
def claimed_and_confirmed(scene, name):
    api = scene["api"]
    scene["member"] = api.member(name)
    scene["claim"] = api.claim(scene["demand"], scene["member"])
    api.act("claims", scene["claim"]["id"], "confirm", scene["owner"])


@given(parsers.parse("需求开始，张三签到，完成 {hours:d} 小时服务，组织核实"))
def served_and_verified(scene, hours):
    api, claim = scene["api"], scene["claim"]["id"]
    api.act("demands", scene["demand"]["id"], "start", scene["owner"])
    api.act("claims", claim, "check_in", scene["member"])
    api.act("claims", claim, "complete", scene["member"], {"hours": hours})
    api.act("claims", claim, "verify", scene["owner"], {"rating": 5})


@when("审计员查看张三这条认领的历史")
def read_claim_history(scene):
    scene["history"] = _history(scene["api"], scene["claim"]["id"])


@then(parsers.parse('历史依次是 "{steps}"'))
def history_in_order(scene, steps):
    assert [e["type"] for e in scene["history"]] == [CLAIM_STEPS[s] for s in steps.split("、")]


@then("每一步都写明了操作人、角色和缘由编号")
def every_step_says_who_and_why(scene):
    for event in scene["history"]:
        assert event["actor_id"] and event["actor_role"] and event["correlation_id"] and event["causation_id"]


@then('需求的"已满员"一步由系统完成，起因是那次确认')
def filled_by_the_system_because_of_the_confirmation(scene):
    confirmed = next(e for e in scene["history"] if e["type"] == "Claim.Confirmed")
    filled = next(e for e in _history(scene["api"], scene["demand"]["id"]) if e["type"] == "Demand.Filled")
    assert filled["actor_role"] == "system"
    assert filled["causation_id"] == f"{scene['claim']['id']}:{confirmed['version']}"


@then(parsers.parse("张三的志愿服务记录有 {hours:d} 小时"))
def service_record_hours(scene, hours):
    api = scene["api"]
    record = api.ok(api.get(f"/members/{scene['member'].id}/service-record", api.auditor_party))
    assert record["total_hours"] == hours


@given(parsers.parse('组织"{org}"共享场地"{name}"，预约需要审批'))
def a_venue_with_approval(scene, org, name):
    api = scene["api"]
    scene["owner"] = api.org(org)
    scene["venue"] = api.venue(scene["owner"], name=name, requires_approval=True)


@given(parsers.parse('党员"{name}"预约该场地，组织批准'))
def booked_and_approved(scene, name):
    api = scene["api"]
    scene["booking"] = api.book(scene["venue"], api.member(name))
    api.act("bookings", scene["booking"]["id"], "approve", scene["owner"])


@given(parsers.parse('组织以"{reason}"为由取消了这条预约'))
def cancelled_by_the_owner(scene, reason):
    scene["api"].act("bookings", scene["booking"]["id"], "cancel", scene["owner"], {"reason": reason})


@when("审计员查看这条预约在取消之前的状态")
def state_before_cancellation(scene):
    api = scene["api"]
    history = _history(api, scene["booking"]["id"])
    before = next(e for e in history if e["type"] == "Booking.Cancelled")["version"] - 1
    scene["before"] = api.ok(api.get(f"/audit/aggregates/{scene['booking']['id']}/state", api.auditor_party,
                                     version=before))["state"]


@then(parsers.parse('还原出的预约状态是"{label}"，没有取消理由'))
def reconstructed_state(scene, label):
    assert scene["before"]["status"] == BOOKING_STATUS[label] and scene["before"]["reason"] is None


@then(parsers.parse('当前的预约状态是"{label}"，理由是"{reason}"'))
def current_state(scene, label, reason):
    api = scene["api"]
    now = api.ok(api.get(f"/bookings/{scene['booking']['id']}", scene["owner"]))
    assert (now["status"], now["reason"]) == (BOOKING_STATUS[label], reason)


@given("审计员核验历史，结果无误")
@then("审计员核验历史，结果无误")
def verified_clean(scene):
    api = scene["api"]
    assert api.ok(api.get("/audit/verify", api.auditor_party))["ok"] is True


@when("有人绕过应用直接改写了一条已存储的需求事件")
def tamper_with_a_stored_event(scene):
    system = scene["api"].system
    if system.settings.postgres:
        with psycopg.connect(system.settings.database_url, autocommit=True) as conn, conn.transaction():
            conn.execute("SET LOCAL linli.allow_history_rewrite = 'on'")
            conn.execute(f'UPDATE "{system.settings.database_schema}".demands_events '
                         "SET state = state || ' '::bytea WHERE notification_id = 1")
    else:
        with sqlite3.connect(system.settings.data_dir / "demands.sqlite") as conn:
            conn.execute("UPDATE stored_events SET state = CAST(state || X'20' AS BLOB) WHERE rowid = 1")


@then(parsers.parse('审计员再次核验，发现"{context}"日志中被改写的位置'))
def tampering_found(scene, context):
    api = scene["api"]
    report = api.ok(api.get("/audit/verify", api.auditor_party))
    assert report["ok"] is False
    assert {"context": context, "position": 1} in [{"context": f["context"], "position": f["position"]}
                                                    for f in report["findings"]]


@given(parsers.parse('党员"{name}"认领该需求，备注"{note}"'))
def claimed_with_a_note(scene, name, note):
    api = scene["api"]
    scene["member"], scene["name"], scene["note"] = api.member(name), name, note
    scene["claim"] = api.ok(api.post(f"/demands/{scene['demand']['id']}/claims", {"headcount": 1, "note": note},
                                     scene["member"]), 201)


@when(parsers.parse('平台运营者以"{reason}"为由删除党员"{name}"的个人信息'))
def erase_the_member(scene, reason, name):
    api = scene["api"]
    api.ok(api.post(f"/members/{scene['member'].id}/actions/erase", {"reason": reason}, api.admin))


@then(parsers.parse('党员档案、认领和审计历史中，姓名和备注都显示为"{erased}"'))
def shown_as_erased(scene, erased):
    api, auditor = scene["api"], scene["api"].auditor_party
    member = api.ok(api.get(f"/members/{scene['member'].id}", auditor))
    claim = api.ok(api.get(f"/claims/{scene['claim']['id']}", scene["owner"]))
    histories = [_history(api, scene["member"].id), _history(api, scene["claim"]["id"])]
    assert (member["name"], claim["note"]) == (erased, erased)
    assert histories[0][0]["data"]["name"] == erased and histories[1][0]["data"]["note"] == erased
    assert scene["name"] not in str(histories) and scene["note"] not in str(histories)


@then(parsers.parse('删除记录写明了操作人和缘由"{reason}"'))
def erasure_recorded(scene, reason):
    last = _history(scene["api"], scene["member"].id)[-1]
    assert (last["type"], last["actor_role"], last["reason"]) == ("Member.Erased", "admin", reason)


@then("组织无权删除党员的个人信息")
def an_org_may_not_erase(scene):
    api = scene["api"]
    refused = api.post(f"/members/{scene['member'].id}/actions/erase", {"reason": "想删"}, scene["owner"])
    assert refused.status_code == 403
