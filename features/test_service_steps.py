"""服务清单与企业诉求: service items (DESIGN §3 "ServiceItem") and the requests enterprises file
under them ("ServiceRequest"), with the promised-time clock on working days, spoken as the
platform's users speak and driven through the HTTP API (§4). Every scenario runs on SQLite and on
PostgreSQL (`api` is parametrised).

A step phrased with 尝试 ("tries to") keeps the response for a following 那么操作被拒绝 step; every
other action must succeed. Chinese labels are translated to wire names once, in the dicts below.
Times are Beijing time (UTC+8) written with their weekday, which the steps check, since the
promised time counts working days only. 时间来到… sets the fake clock; 定时任务运行 runs the
system's timers once, as the server's loop would.
"""
import re
from datetime import datetime, timedelta

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from domain import sla
from domain.city import CITY_TZ
from tests.support import ACTION_BODIES, APPLICANT_STEPS, REQUEST_PATHS, Api, Party, Scene

scenarios("service_items.feature", "service_requests.feature")

ITEM_STATUS = {"草稿": "draft", "审核中": "in_review", "已发布": "published", "已暂停": "suspended",
               "已停用": "retired", "已作废": "discarded"}
REQUEST_STATUS = {"已提交": "submitted", "已退回": "returned", "已受理": "accepted", "不予受理": "not_accepted",
                  "办理中": "in_progress", "待企业补充": "awaiting_applicant", "已办结": "resolved",
                  "已关闭": "closed", "已撤回": "withdrawn"}
ITEM_ACTIONS = {"提交": "submit", "发布": "publish", "退回": "return", "暂停": "suspend", "恢复": "resume",
                "停用": "retire", "作废": "discard", "修订": "revise", "发布修订": "publish_revision"}
REQUEST_ACTIONS = {"退回补正": "return", "重新提交": "resubmit", "受理": "accept", "不予受理": "not_accept",
                   "转办": "transfer", "开始办理": "start", "通知企业补充材料": "await_applicant",
                   "补充回复": "respond", "办结": "resolve", "评价": "evaluate", "重新打开": "reopen", "撤回": "withdraw"}
SLA_STATES = {"未开始": None, "正常": "on_time", "预警": "warning", "督办": "breached", "暂停": "paused",
              "已停止": "stopped"}
SLA_EVENTS = {"时限预警": "ServiceRequest.SlaWarning", "督办": "ServiceRequest.SlaBreached"}
FLAGS = {"没有预警或督办标记": (False, False), "已标记预警": (True, False), "已标记预警和督办": (True, True)}
# the event that started the clock a timer fired on (起因是…)
CAUSES = {"该事项的发布": "ServiceItem.Published", "该事项的修订发布": "ServiceItem.RevisionPublished",
          "该诉求的受理": "ServiceRequest.Accepted", "企业的补充回复": "ServiceRequest.Resumed"}
OUTCOMES = {"同意": "approved", "不同意": "denied", "已答复": "answered"}
# 操作被拒绝，原因是"…" → (HTTP status, problem type)
# item content as the specs write it: label → wire field
ITEM_FIELDS = {"名称": "title", "类别": "category", "办理方式": "mode", "承诺时限": "promised_days",
               "政策依据": "basis", "申报条件": "eligibility", "申报材料": "materials", "有效期至": "valid_to"}
# what an item the specs do not spell out says
ITEM_DEFAULTS = {"mode": "依申请", "basis": "《福州市进一步优化营商环境行动方案》",
                 "eligibility": "在福州市依法登记注册的企业", "materials": "营业执照、法定代表人身份证"}
DISTRICTS = ("鼓楼", "台江", "仓山", "晋安", "马尾", "长乐")
WEEKDAYS = "一二三四五六日"
HOUR = 3600

NAME = r'"(?P<name>[^"]+)"'
WHO = r'"(?P<who>[^"]+)"'
NAMES = r'(?P<names>"[^"]+"(?:、"[^"]+")*)'
ITEM = r'服务事项"(?P<title>[^"]+)"'
TRY = r"(?P<attempt>尝试)?"
MOMENT = r"北京时间(?P<moment>\d{4}年\d{1,2}月\d{1,2}日（周[一二三四五六日]）\d{2}:\d{2})"
DATE = r"\d{4}年\d{1,2}月\d{1,2}日"
CATEGORY = r"(?P<category>减免类|奖补类|权益类|资质类|咨询类|其他)"


def quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


def at_moment(text: str) -> datetime:
    """'2026年6月8日（周一）09:00' in Beijing time; the weekday must be right."""
    found = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日（周(.)）(\d{2}):(\d{2})", text)
    y, m, d, weekday, hh, mm = found.groups()
    at = datetime(int(y), int(m), int(d), int(hh), int(mm), tzinfo=CITY_TZ)
    assert WEEKDAYS[at.weekday()] == weekday, f"{text}: that day is a 周{WEEKDAYS[at.weekday()]}"
    return at


def end_of(day: str) -> datetime:
    """'有效期至2026年6月30日': valid until that day's end, Beijing time."""
    y, m, d = map(int, re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", day).groups())
    return datetime(y, m, d, tzinfo=CITY_TZ) + timedelta(days=1)


def field_value(field: str, text: str):
    if field == "promised_days":
        return int(re.fullmatch(r"(\d+)个工作日", text).group(1))
    return end_of(text) if field == "valid_to" else text


def content_of(datatable) -> dict:
    """A one-row table of item content (labels as headers) → wire fields (valid_to a datetime)."""
    header, values = datatable
    fields = [ITEM_FIELDS[label] for label in header]
    return {field: field_value(field, value) for field, value in zip(fields, values, strict=True)}


def wire(content: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in content.items()}


def assert_content(shown: dict, datatable) -> None:
    for field, expected in content_of(datatable).items():
        value = datetime.fromisoformat(shown[field]) if field == "valid_to" else shown[field]
        assert value == expected, f"{field}: {shown[field]!r}, expected {expected!r}"


class ServiceScene(Scene):
    """Also: the items named, and the request the scenario speaks of (该诉求)."""

    def __init__(self, api: Api):
        super().__init__(api)
        self.items: dict[str, dict] = {}
        self.request: dict | None = None
        self.first_due: datetime | None = None  # the due time set at acceptance

    def name_of(self, party_id: str) -> str:
        return next(name for name, p in self.parties.items() if p.id == party_id)

    def item(self, title: str, by: Party | None = None) -> dict:
        assert title in self.items, f"no service item {title!r} here"
        return self.api.ok(self.api.get(f"/service-items/{self.items[title]['id']}", by or self.api.admin))

    def current_request(self, by: Party | None = None) -> dict:
        assert self.request is not None, "no request has been filed"
        return self.api.ok(self.api.get(f"/service-requests/{self.request['id']}", by or self.api.admin))

    def send(self, path: str, body: dict, by: Party, attempt: str | None, status: int = 200) -> dict | None:
        """POST; a 尝试 step keeps the response for the refusal step, others must succeed."""
        response = self.api.post(path, body, by)
        if attempt:
            self.response = response
            return response.json() if response.status_code == status else None
        return self.api.ok(response, status)

    def history(self, record_id: str) -> list[dict]:
        return self.api.ok(self.api.get(f"/audit/aggregates/{record_id}/history", self.api.admin))["events"]

    def queued(self, name: str) -> dict | None:
        dept = self.who(name)
        queue = self.api.ok(self.api.get(f"/departments/{dept.id}/queue", dept))
        return next((row for row in queue["items"] if row["id"] == self.request["id"]), None)


@pytest.fixture(autouse=True)
def scene(api: Api) -> ServiceScene:
    """Autouse, so that every scenario depends on `api` up front and runs once per backend."""
    return ServiceScene(api)


# -- who, when ------------------------------------------------------------------------------------
@given(parsers.re(r"平台上有部门" + NAMES))
def departments(scene, names):
    for name in quoted(names):
        scene.parties[name] = scene.api.department(name)


@given(parsers.re(r"平台上有企业" + NAMES))
def enterprises(scene, names):
    api = scene.api
    for name in quoted(names):
        district = next((d for d in DISTRICTS if d in name), "鼓楼") + "区"
        body = {"name": name, "kind": "非公企业", "grid_id": api.grid(), "district": district}
        scene.parties[name] = api.token("org", api.ok(api.post("/organisations", body, api.admin), 201)["id"])


@given(parsers.re(r"现在是" + MOMENT))
@given(parsers.re(r"时间来到" + MOMENT))
@when(parsers.re(r"时间来到" + MOMENT))
def time_comes(scene, moment):
    scene.api.clock.set(at_moment(moment))


@when(parsers.re(r"时间过去(?P<days>\d+)天"))
def days_pass(scene, days):
    scene.api.clock.advance(days=int(days))




# -- service items ---------------------------------------------------------------------------------
@given(parsers.re(WHO + r"(?P<how>起草|提交审核|发布)了" + CATEGORY + ITEM
                  + r"(?:，承诺时限(?P<days>\d+)个工作日)?(?:，有效期至(?P<until>" + DATE + r"))?"))
def an_item(scene, who, how, category, title, days, until):
    status = {"起草": "draft", "提交审核": "in_review", "发布": "published"}[how]
    content = {**ITEM_DEFAULTS, "title": title, "category": category}
    if days:
        content["promised_days"] = int(days)
    if until:
        content["valid_to"] = end_of(until).isoformat()
    scene.items[title] = scene.api.item(scene.who(who), status, **content)


@when(parsers.re(WHO + r"起草服务事项："))
def drafts_an_item(scene, who, datatable):
    content = wire(content_of(datatable))
    body = scene.api.item_body(**{**ITEM_DEFAULTS, **content})
    scene.items[content["title"]] = scene.api.ok(scene.api.post("/service-items", body, scene.who(who)), 201)


def act_on_item(scene, title: str, trigger: str, who: str, attempt: str | None, body: dict | None = None):
    path = f"/service-items/{scene.items[title]['id']}/actions/{trigger}"
    scene.send(path, body or {}, scene.who(who), attempt)


@given(parsers.re(WHO + TRY + r"(?P<action>提交|发布|恢复|停用|作废)" + ITEM))
@when(parsers.re(WHO + TRY + r"(?P<action>提交|发布|恢复|停用|作废)" + ITEM))
def acts_on_item(scene, who, attempt, action, title):
    act_on_item(scene, title, ITEM_ACTIONS[action], who, attempt)


@given(parsers.re(WHO + TRY + r'以"(?P<reason>[^"]+)"为由(?P<action>退回|暂停)' + ITEM))
@when(parsers.re(WHO + TRY + r'以"(?P<reason>[^"]+)"为由(?P<action>退回|暂停)' + ITEM))
def acts_on_item_with_reason(scene, who, attempt, reason, action, title):
    act_on_item(scene, title, ITEM_ACTIONS[action], who, attempt, {"reason": reason})


@when(parsers.re(WHO + r"尝试退回" + ITEM + r"，不说明理由"))
def returns_without_reason(scene, who, title):
    act_on_item(scene, title, "return", who, "尝试")


@given(parsers.re(WHO + r"修订" + ITEM + r"："))
@when(parsers.re(WHO + r"修订" + ITEM + r"："))
def revises(scene, who, title, datatable):
    act_on_item(scene, title, "revise", who, None, wire(content_of(datatable)))


@given(parsers.re(WHO + TRY + r"发布" + ITEM + r"的修订"))
@when(parsers.re(WHO + TRY + r"发布" + ITEM + r"的修订"))
def publishes_the_revision(scene, who, attempt, title):
    act_on_item(scene, title, "publish_revision", who, attempt)


@then(parsers.re(ITEM + r'的状态(?:仍)?为"(?P<label>[^"]+)"'))
def item_status(scene, title, label):
    item = scene.item(title)
    assert item["status"] == ITEM_STATUS[label], item["status"]
    api = scene.api
    listed = api.ok(api.get("/service-items", api.admin, status=item["status"], page_size=100))
    assert item["id"] in [row["id"] for row in listed["items"]], "the catalogue's read model disagrees"


@then(parsers.re(ITEM + r'记有理由"(?P<reason>[^"]+)"'))
def item_reason(scene, title, reason):
    assert scene.item(title)["reason"] == reason


@then(parsers.re(ITEM + r"由" + WHO + r"牵头办理"))
def item_department(scene, title, who):
    item = scene.item(title)
    assert (item["provider_role"], item["department_id"]) == ("dept", scene.who(who).id), item


@then(parsers.re(WHO + r'对' + ITEM + r'(?:可以"(?P<actions>[^"]+)"|不能进行任何操作)'))
def item_allowed_actions(scene, who, title, actions):
    wanted = [ITEM_ACTIONS[a] for a in actions.split("、")] if actions else []
    assert sorted(scene.item(title, scene.who(who))["allowed_actions"]) == sorted(wanted)


@then(parsers.re(r'服务清单(?:的"(?P<label>[^"]+)"事项)?中(?P<has>有|没有)' + ITEM))
def in_the_catalogue(scene, label, has, title):
    """What anyone (anonymous) finds in the catalogue: published items unless a status is named."""
    listing = scene.api.ok(scene.api.get("/service-items", status=ITEM_STATUS[label or "已发布"], page_size=100))
    assert (scene.items[title]["id"] in [row["id"] for row in listing["items"]]) == (has == "有"), listing


@then(parsers.re(WHO + r"看不到" + ITEM))
def cannot_see_item(scene, who, title):
    response = scene.api.get(f"/service-items/{scene.items[title]['id']}", scene.who(who))
    assert response.status_code == 404, response.text


@then(parsers.re(ITEM + r"对外显示第(?P<n>\d+)版内容："))
def served_content(scene, title, n, datatable):
    """What an anonymous visitor is served, on the item and in the catalogue."""
    api, item_id = scene.api, scene.items[title]["id"]
    shown = api.ok(api.get(f"/service-items/{item_id}"))
    assert shown["content_version"] == int(n), shown
    assert_content(shown, datatable)
    row = next(r for r in api.ok(api.get("/service-items", page_size=100))["items"] if r["id"] == item_id)
    assert row["content_version"] == int(n), row
    assert_content(row, datatable)


@then(parsers.re(ITEM + r"的第(?P<n>\d+)版内容仍可查阅："))
def earlier_version(scene, title, n, datatable):
    version = scene.api.ok(scene.api.get(f"/service-items/{scene.items[title]['id']}/versions/{n}"))
    assert version["content_version"] == int(n)
    assert_content(version, datatable)


@then(parsers.re(WHO + r"看到" + ITEM + r"有待发布的修订："))
def sees_the_staged_revision(scene, who, title, datatable):
    item = scene.item(title, scene.who(who))
    assert item["has_staged_revision"] is True
    assert_content(item["staged_revision"], datatable)


@then(parsers.re(WHO + r"看不到" + ITEM + r"的待发布修订"))
def cannot_see_the_staged_revision(scene, who, title):
    assert "staged_revision" not in scene.item(title, scene.who(who))


def caused_by(scene, record_id: str, event_type: str, actor: str, cause: str) -> None:
    """The record's events of `event_type` were made by the system, caused by its latest `cause` event."""
    events = scene.history(record_id)
    made = [e for e in events if e["type"] == event_type]
    assert made, f"no {event_type} in {[e['type'] for e in events]}"
    causes = [e for e in events if e["type"] == CAUSES[cause]]
    assert causes, f"no {CAUSES[cause]} in {[e['type'] for e in events]}"
    for event in made:
        assert (event["actor_id"], event["actor_role"]) == (actor, actor), event
        assert event["causation_id"] == f"{record_id}:{causes[-1]['version']}", event


@then(parsers.re(ITEM + r"由系统停用，起因是(?P<cause>该事项的发布|该事项的修订发布)"))
def retired_by_the_system(scene, title, cause):
    item_id = scene.items[title]["id"]
    assert scene.history(item_id)[-1]["type"] == "ServiceItem.Retired"
    caused_by(scene, item_id, "ServiceItem.Retired", "system", cause)


@then(parsers.re(r"平台统计显示惠企政策(?P<n>\d+)项"))
def policy_items(scene, n):
    stats = scene.api.ok(scene.api.get("/stats"))
    assert stats["policy_items"] == int(n), stats


# -- filing and handling requests --------------------------------------------------------------------
@given(parsers.re(WHO + TRY + r"就" + ITEM + r'提出(?:了)?诉求"(?P<subject>[^"]+)"'))
@when(parsers.re(WHO + TRY + r"就" + ITEM + r'提出(?:了)?诉求"(?P<subject>[^"]+)"'))
def files_a_request(scene, who, attempt, title, subject):
    path = f"/service-items/{scene.items[title]['id']}/requests"
    filed = scene.send(path, {"subject": subject, "detail": ""}, scene.who(who), attempt, 201)
    if filed is not None:
        scene.request = filed


@given(parsers.re(WHO + r"在" + ITEM + r'下有一条"(?P<label>[^"]+)"的诉求'))
def a_request_in_state(scene, who, title, label):
    """Filed under the item and driven along tests.support.REQUEST_PATHS by the item's department."""
    applicant = scene.who(who)
    handler = scene.who(scene.name_of(scene.items[title]["department_id"]))
    files_a_request(scene, who, None, title, "申请设立有限责任公司")
    for trigger in REQUEST_PATHS[REQUEST_STATUS[label]]:
        scene.api.act("service-requests", scene.request["id"], trigger,
                      applicant if trigger in APPLICANT_STEPS else handler)


def act_on_request(scene, trigger: str, who: str, attempt: str | None, body: dict | None = None) -> None:
    path = f"/service-requests/{scene.request['id']}/actions/{trigger}"
    done = scene.send(path, body or {}, scene.who(who), attempt)
    if trigger == "accept" and done is not None:
        scene.first_due = datetime.fromisoformat(done["due_at"])


@given(parsers.re(WHO + r"(?P<action>受理|开始办理)该诉求"))
@when(parsers.re(WHO + r"(?P<action>受理|开始办理)该诉求"))
def handles(scene, who, action):
    act_on_request(scene, REQUEST_ACTIONS[action], who, None)


@when(parsers.re(WHO + r"尝试(?P<action>受理|开始办理|办结|评价|重新提交|补充回复|撤回|重新打开)该诉求"))
def tries(scene, who, action):
    trigger = REQUEST_ACTIONS[action]
    act_on_request(scene, trigger, who, "尝试", ACTION_BODIES.get(trigger, {}))


@given(parsers.re(WHO + TRY + r'以"(?P<reason>[^"]+)"为由(?P<action>退回补正|不予受理|撤回|重新打开)该诉求'))
@when(parsers.re(WHO + TRY + r'以"(?P<reason>[^"]+)"为由(?P<action>退回补正|不予受理|撤回|重新打开)该诉求'))
def acts_with_reason(scene, who, attempt, reason, action):
    act_on_request(scene, REQUEST_ACTIONS[action], who, attempt, {"reason": reason})


@when(parsers.re(WHO + r"尝试(?P<action>退回补正|不予受理)该诉求，不说明理由"))
def acts_without_reason(scene, who, action):
    act_on_request(scene, REQUEST_ACTIONS[action], who, "尝试")


@when(parsers.re(WHO + r'补正后重新提交该诉求，说明"(?P<detail>[^"]+)"'))
def resubmits(scene, who, detail):
    act_on_request(scene, "resubmit", who, None, {"detail": detail})


@given(parsers.re(WHO + r'通知企业补充材料"(?P<reason>[^"]+)"'))
@when(parsers.re(WHO + r'通知企业补充材料"(?P<reason>[^"]+)"'))
def awaits_the_applicant(scene, who, reason):
    act_on_request(scene, "await_applicant", who, None, {"reason": reason})


@when(parsers.re(WHO + r"补充材料后回复"))
def responds(scene, who):
    act_on_request(scene, "respond", who, None)


@given(parsers.re(WHO + TRY + r'以"(?P<reason>[^"]+)"为由将该诉求转办给' + NAME))
@when(parsers.re(WHO + TRY + r'以"(?P<reason>[^"]+)"为由将该诉求转办给' + NAME))
def transfers(scene, who, attempt, reason, name):
    act_on_request(scene, "transfer", who, attempt, {"department_id": scene.who(name).id, "reason": reason})


@given(parsers.re(WHO + r'办结该诉求，结果为"(?P<outcome>[^"]+)"，说明"(?P<note>[^"]+)"'))
@when(parsers.re(WHO + r'办结该诉求，结果为"(?P<outcome>[^"]+)"，说明"(?P<note>[^"]+)"'))
def resolves(scene, who, outcome, note):
    act_on_request(scene, "resolve", who, None, {"outcome": OUTCOMES[outcome], "note": note})


@given(parsers.re(WHO + r'评价该诉求(?P<rating>\d)分(?:，意见"(?P<feedback>[^"]+)")?'))
@when(parsers.re(WHO + r'评价该诉求(?P<rating>\d)分(?:，意见"(?P<feedback>[^"]+)")?'))
def evaluates(scene, who, rating, feedback):
    act_on_request(scene, "evaluate", who, None, {"rating": int(rating), "feedback": feedback})


# -- what everyone sees of a request ------------------------------------------------------------------
@then(parsers.re(r'诉求状态(?:仍)?为"(?P<label>[^"]+)"'))
def request_status(scene, label):
    last = scene.response
    refused_before = last is not None and last.status_code >= 300
    hint = f" (the last 尝试 got {last.status_code} {last.text})" if refused_before else ""
    request = scene.current_request()
    assert request["status"] == REQUEST_STATUS[label], f"{request['status']}{hint}"
    if request["department_id"]:
        row = scene.queued(scene.name_of(request["department_id"]))
        assert row is not None and row["status"] == request["status"], f"the queue says {row}"


@then(parsers.re(r'返回的当前状态为"(?P<label>[^"]+)"'))
def refusal_names_current_status(scene, label):
    problem = scene.response.json()
    assert problem["current_status"] == REQUEST_STATUS[label], problem
    assert isinstance(problem["allowed_actions"], list), problem


@then(parsers.re(r"该诉求由" + WHO + r"办理(?:，承诺时限(?P<days>\d+)个工作日)?"))
def handled_by(scene, who, days):
    request = scene.current_request()
    assert (request["handler_role"], request["department_id"]) == ("dept", scene.who(who).id), request
    if days:
        assert request["promised_days"] == int(days), request


@then(parsers.re(r'诉求的(?P<field>理由|说明)为"(?P<text>[^"]+)"'))
def request_text(scene, field, text):
    request = scene.current_request(scene.who(scene.name_of(scene.request["applicant_id"])))
    assert request[{"理由": "reason", "说明": "detail"}[field]] == text, request


@then(parsers.re(r'诉求的办理结果为"(?P<outcome>[^"]+)"，说明"(?P<note>[^"]+)"'))
def request_outcome(scene, outcome, note):
    request = scene.current_request()
    assert (request["outcome"], request["note"]) == (OUTCOMES[outcome], note), request


@then(parsers.re(WHO + r'对该诉求(?:可以"(?P<actions>[^"]+)"|不能进行任何操作)'))
def request_allowed_actions(scene, who, actions):
    wanted = [REQUEST_ACTIONS[a] for a in actions.split("、")] if actions else []
    assert sorted(scene.current_request(scene.who(who))["allowed_actions"]) == sorted(wanted)


@then(parsers.re(WHO + r"看不到该诉求"))
def cannot_see_request(scene, who):
    response = scene.api.get(f"/service-requests/{scene.request['id']}", scene.who(who))
    assert response.status_code == 403, response.text


@then("该诉求尚未开始计时")
def clock_not_started(scene):
    request = scene.current_request()
    assert (request["sla"], request["due_at"], request["remaining_seconds"]) == (None, None, None), request


@then(parsers.re(r'该诉求的计时状态为"(?P<label>[^"]+)"(?:，办理期限为' + MOMENT + ")?"))
def clock_state(scene, label, moment):
    request = scene.current_request()
    assert request["sla"] == SLA_STATES[label], request
    if label == "已停止":
        assert request["due_at"] is None, request
    if moment:
        assert datetime.fromisoformat(request["due_at"]) == at_moment(moment), request["due_at"]


@then(parsers.re(r"该诉求暂停计时，剩余(?P<hours>\d+)个工作小时"))
def clock_paused(scene, hours):
    request = scene.current_request(scene.who(scene.name_of(scene.request["applicant_id"])))
    assert (request["sla"], request["due_at"]) == ("paused", None), request
    assert request["remaining_seconds"] == int(hours) * HOUR, request


@then(parsers.re(r"办理期限比受理时顺延了(?P<hours>\d+)个工作小时"))
def due_moved_by(scene, hours):
    due = datetime.fromisoformat(scene.current_request()["due_at"])
    assert sla.working_seconds(scene.first_due, due) == int(hours) * HOUR, (scene.first_due, due)


@then(parsers.re(r"系统(?:尚未对该诉求发出时限提醒|对该诉求依次发出了" + NAMES + r"，起因是(?P<cause>该诉求的受理|企业的补充回复))"))
def sla_events(scene, names, cause):
    request_id = scene.request["id"]
    sent = [e["type"] for e in scene.history(request_id) if e["type"] in SLA_EVENTS.values()]
    assert sent == [SLA_EVENTS[n] for n in quoted(names or "")], sent
    for kind in set(sent):
        caused_by(scene, request_id, kind, "system", cause)


@then(parsers.re(NAME + r"的待办队列中(?P<has>有|没有)该诉求"))
def in_the_queue(scene, name, has):
    assert (scene.queued(name) is not None) == (has == "有")


@then(parsers.re(NAME + r'的待办队列中该诉求的计时状态为"(?P<label>[^"]+)"，(?P<flags>'
                 + "|".join(FLAGS) + ")"))
def queue_flags(scene, name, label, flags):
    row = scene.queued(name)
    assert row is not None, f"{name}'s queue does not hold the request"
    assert row["sla"] == SLA_STATES[label], row
    assert (row["sla_warned"], row["sla_breached"]) == FLAGS[flags], row


@then(parsers.re(NAME + r"的待办队列中该诉求(?:尚未逾期|已逾期(?P<hours>\d+)小时)"))
def queue_overdue(scene, name, hours):
    row = scene.queued(name)
    assert row is not None, f"{name}'s queue does not hold the request"
    assert row["overdue"] is bool(hours), row
    if hours:
        assert row["remaining_seconds"] == -int(hours) * HOUR, row
