"""Steps the demand and service specs share; each of their step modules provides a `scene` whose
`api` is the HTTP client and whose `response` is the last answer to a step phrased with 尝试.
(The venue specs keep their own steps: they carry a plain dict.)"""
from pytest_bdd import given, parsers, then, when

from tests.support import run_timers

REFUSALS = {"名额已满": (409, "capacity-exceeded"), "重复认领": (409, "duplicate-claim"),
            "当前状态不允许": (409, "invalid-transition"), "条件不满足": (409, "guard-failed"),
            "填写内容有误": (422, "validation"), "须说明理由": (422, "validation"),
            "无权操作": (403, "forbidden"), "找不到该记录": (404, "not-found")}


@given("定时任务运行")
@when("定时任务运行")
@when("定时任务再次运行")
def timers_run(scene):
    run_timers(scene)


@then("定时任务没有产生新的事件")
def nothing_fired(scene):
    assert scene.fired == 0
    assert scene.api.event_count() == scene.events_before


@then(parsers.re(r'操作被拒绝，原因是"(?P<label>[^"]+)"'))
def refused(scene, label):
    status, slug = REFUSALS[label]
    response = scene.response
    assert response is not None, "no step tried anything (尝试) before this check"
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}" and problem["status"] == status, problem
