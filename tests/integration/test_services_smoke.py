"""A policy item published and revised; a request filed, handled on time, and one breached."""
from datetime import datetime, timedelta


def test_a_revision_is_not_served_until_it_is_published(api):
    dept = api.department()
    item = api.item(dept)
    api.act("service-items", item["id"], "revise", dept, {"title": "稳岗返还（2027版）"})
    assert api.ok(api.get(f"/service-items/{item['id']}"))["title"] == "稳岗返还"
    api.act("service-items", item["id"], "publish_revision", api.admin)
    served = api.ok(api.get(f"/service-items/{item['id']}"))
    assert (served["title"], served["content_version"]) == ("稳岗返还（2027版）", 2)
    assert api.ok(api.get(f"/service-items/{item['id']}/versions/1"))["title"] == "稳岗返还"


def test_an_overdue_request_is_warned_then_breached_once(api):
    dept = api.department()
    _, request = api.service_request_in("in_progress", handler=dept, promised_days=2)
    due = datetime.fromisoformat(request["due_at"])
    api.clock.set(due + timedelta(hours=1))
    api.tick()
    api.tick()
    seen = api.ok(api.get(f"/service-requests/{request['id']}", dept))
    assert (seen["sla"], seen["sla_warned"], seen["sla_breached"], seen["overdue"]) == ("breached", True, True, True)
    queue = api.ok(api.get(f"/departments/{dept.id}/queue", dept))
    assert queue["items"][0]["sla"] == "breached"
    api.act("service-requests", request["id"], "resolve", dept)
    stats = api.ok(api.get("/stats"))["service_requests"]
    assert stats["on_time_rate"] == 0 and stats["by_state"] == {"resolved": 1}
