"""场地共享: venues and their bookings (DESIGN §3 "Venue and VenueBooking", §4) spoken as the
platform's users speak, driven through the HTTP API. Every scenario runs on SQLite and on
PostgreSQL (the `api` fixture is parametrised).

A step phrased with 尝试 ("tries to") keeps the response for a following 那么…被拒绝 step; every
other action must succeed. Chinese labels are translated to wire names once, in the dicts below.
Times are Beijing time (UTC+8); "3天后10:00至12:00" is a slot by `Api.slot(days, hour, hours)`
counted from the fake clock's local date, and 时间来到… moves that clock.
"""
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from domain.city import CITY_TZ
from tests.support import Api, Party

# Generated scenario tests reach `api` only through their steps, at run time; naming it here puts it
# in every test's fixture closure, so the backend parametrisation (SQLite, PostgreSQL) applies.
pytestmark = pytest.mark.usefixtures("api")

scenarios(
    "venue_booking.feature",
    "venue_cancellation.feature",
    "venue_check_in.feature",
    "venue_rules.feature",
)

BOOKING_STATUS = {"待审批": "requested", "已确认": "confirmed", "已拒绝": "rejected", "已取消": "cancelled",
                  "已签到": "checked_in", "已完成": "completed", "未到场": "no_show", "已过期": "expired"}
VENUE_STATUS = {"开放": "active", "暂停": "suspended", "停用": "retired"}
ROLES = {"组织": "org", "党员": "member"}
BOOKING_ACTIONS = {"批准": "approve", "拒绝": "reject", "取消": "cancel", "签到": "check_in", "完成": "complete"}
VENUE_ACTIONS = {"暂停开放": "suspend", "恢复开放": "resume", "停用": "retire"}
# 操作被拒绝，原因是"…" → (HTTP status, problem type)
REFUSALS = {"时段已被占用": (409, "slot-taken"), "当前状态不允许": (409, "invalid-transition"),
            "已过取消时限": (409, "guard-failed"), "不在签到时间内": (409, "guard-failed"),
            "须说明理由": (422, "validation"), "无权操作": (403, "forbidden"), "找不到该记录": (404, "not-found")}
# 预约被拒绝，违反规则"…" → the `rule` a 422 booking-rule problem names
RULES = {"提前预约时限": "notice", "最远预约天数": "advance", "开放时间": "open-hours", "停用时段": "blackout",
         "容量": "capacity", "跨天": "one-day"}
# the event of a booking that set the deadline a timer fired (起因是该预约的…)
CAUSES = {"提交": "Requested", "批准": "Approved", "签到": "CheckedIn"}

NAMES = r'(?P<names>"[^"]+"(?:、"[^"]+")*)'
WHO = r'"(?P<who>[^"]+)"'  # whose booking
BY = r'"(?P<by>[^"]+)"'  # who acts
VENUE = r'"(?P<venue>[^"]+)"'
TRY = r"(?P<attempt>尝试)?"
DAY = r"(?P<day>今天|明天|\d+天后)"
SLOT = r"(?P<slot>(?:今天|明天|\d+天后)\d{2}:00至(?:次日)?\d{2}:00)"
MOMENT = r"(?P<moment>(?:开始|结束)(?:时|[前后]\d+(?:分钟|小时)))"
SETTING = r'(?P<setting>提前预约时限|最远预约天数|开放时间|停用时段|容量|取消锁定时限)为"(?P<value>[^"]+)"'


def names_in(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


def days_of(text: str) -> int:
    return {"今天": 0, "明天": 1}[text] if text in ("今天", "明天") else int(text.removesuffix("天后"))


def slot_of(api: Api, text: str) -> dict:
    """'3天后10:00至12:00' (or '…至次日02:00') → {starts_at, ends_at} by Api.slot."""
    day, start, next_day, end = re.fullmatch(r"(今天|明天|\d+天后)(\d{2}):00至(次日)?(\d{2}):00", text).groups()
    hours = int(end) + (24 if next_day else 0) - int(start)
    return api.slot(days=days_of(day), hour=int(start), hours=hours)


def local_day(api: Api, text: str) -> str:
    return (api.clock.now().astimezone(CITY_TZ).date() + timedelta(days=days_of(text))).isoformat()


def moment_of(booking: dict, text: str) -> datetime:
    """'开始前16分钟', '开始时', '结束时', '开始后1小时' → the instant, relative to the booking."""
    anchor, sign, n, unit = re.fullmatch(r"(开始|结束)(?:时|([前后])(\d+)(分钟|小时))", text).groups()
    at = datetime.fromisoformat(booking["starts_at" if anchor == "开始" else "ends_at"])
    if sign:
        delta = timedelta(**{"minutes" if unit == "分钟" else "hours": int(n)})
        at += delta if sign == "后" else -delta
    return at


def hhmm(intervals: list[dict]) -> str:
    return "、".join(f"{i['starts_at'][11:16]}至{i['ends_at'][11:16]}" for i in intervals) or "无"


# -- the scene -----------------------------------------------------------------------------------
@pytest.fixture
def ctx(api: Api) -> dict:
    """Who is who, the venues named, each requester's latest booking, the last 尝试 response."""
    return {"api": api, "parties": {"平台管理员": api.admin}, "venues": {}, "bookings": {}, "response": None,
            "fired": None, "events_before": None, "sent": None}


def party(ctx: dict, name: str) -> Party:
    assert name in ctx["parties"], f"nobody called {name!r} here (known: {', '.join(ctx['parties'])})"
    return ctx["parties"][name]


def venue_named(ctx: dict, name: str) -> dict:
    assert name in ctx["venues"], f"no venue {name!r} has been shared"
    return ctx["venues"][name]


def booking_of(ctx: dict, who: str) -> dict:
    assert who in ctx["bookings"], f"{who} has made no booking"
    return ctx["bookings"][who]


def current_booking(ctx: dict, who: str, by: Party | None = None) -> dict:
    api = ctx["api"]
    return api.ok(api.get(f"/bookings/{booking_of(ctx, who)['id']}", by or api.admin))


def send(ctx: dict, path: str, body: dict, by: Party, attempt: str | None, status: int = 200) -> dict | None:
    """POST; a 尝试 step keeps the response for the refusal step, others must succeed."""
    api = ctx["api"]
    response = api.post(path, body, by)
    if attempt:
        ctx["response"] = response
        return response.json() if response.status_code == status else None
    return api.ok(response, status)


def act(ctx: dict, who: str, trigger: str, by: str, attempt: str | None, body: dict | None = None) -> None:
    path = f"/bookings/{booking_of(ctx, who)['id']}/actions/{trigger}"
    send(ctx, path, body or {}, party(ctx, by), attempt)


def booking_events(ctx: dict, who: str) -> list:
    """The stored events of one booking, each with the who/why metadata the engine stamped on it."""
    return list(ctx["api"].system.venues.events.get(UUID(booking_of(ctx, who)["id"])))


# -- who, where, when ------------------------------------------------------------------------------
@given(parsers.re(r"现在是北京时间(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日(?P<hh>\d{2}):(?P<mm>\d{2})"))
def now_is(ctx, y, m, d, hh, mm):
    ctx["api"].clock.set(datetime(int(y), int(m), int(d), int(hh), int(mm), tzinfo=CITY_TZ))


@given(parsers.re(r"平台上有组织" + NAMES))
def organisations(ctx, names):
    for name in names_in(names):
        ctx["parties"][name] = ctx["api"].org(name)


@given(parsers.re(r"有党员" + NAMES))
def members(ctx, names):
    for name in names_in(names):
        ctx["parties"][name] = ctx["api"].member(name)


def venue_settings(api: Api, setting: str | None, value: str | None) -> dict:
    if setting is None:
        return {}
    if setting == "开放时间":
        opens, closes = value.split("至")
        return {"opens_at": opens, "closes_at": closes}
    if setting == "停用时段":
        return {"blackouts": [{**slot_of(api, value), "reason": "场地维护"}]}
    field = {"提前预约时限": "min_notice_hours", "最远预约天数": "max_advance_days", "容量": "capacity",
             "取消锁定时限": "cancel_lock_hours"}[setting]
    return {field: int(re.fullmatch(r"(\d+)(?:小时|天|人)", value).group(1))}


@given(parsers.re(BY + r"共享了场地" + VENUE + r"，预约(?P<approval>无需审批|需经审批)(?:，" + SETTING + ")?"))
def venue_shared(ctx, by, venue, approval, setting, value):
    api = ctx["api"]
    settings = {"name": venue, "requires_approval": approval == "需经审批", **venue_settings(api, setting, value)}
    ctx["venues"][venue] = api.venue(party(ctx, by), **settings)


@given(parsers.re(r"时间来到" + WHO + r"的预约" + MOMENT))
@when(parsers.re(r"时间来到" + WHO + r"的预约" + MOMENT))
def time_comes(ctx, who, moment):
    ctx["api"].clock.set(moment_of(booking_of(ctx, who), moment))


# -- booking ---------------------------------------------------------------------------------------
def book(ctx, who, venue, slot, attendees, attempt):
    api = ctx["api"]
    body = {**slot_of(api, slot), "attendees": int(attendees or 10), "purpose": "支部主题党日活动"}
    made = send(ctx, f"/venues/{venue_named(ctx, venue)['id']}/bookings", body, party(ctx, who), attempt, 201)
    if made is not None:
        ctx["bookings"][who] = made


@given(parsers.re(WHO + r"已预约" + VENUE + SLOT))
def booked(ctx, who, venue, slot):
    book(ctx, who, venue, slot, None, None)


@when(parsers.re(WHO + TRY + r"预约" + VENUE + SLOT + r"(?:，(?P<attendees>\d+)人参加)?"))
def books(ctx, who, attempt, venue, slot, attendees):
    book(ctx, who, venue, slot, attendees, attempt)


@when(parsers.re(WHO + TRY + r"以UTC时间预约" + VENUE + SLOT))
def books_in_utc(ctx, who, attempt, venue, slot):
    """The same slot, written with a +00:00 offset (the local date may then differ from the UTC one)."""
    api = ctx["api"]
    utc = {k: datetime.fromisoformat(v).astimezone(UTC).isoformat() for k, v in slot_of(api, slot).items()}
    made = send(ctx, f"/venues/{venue_named(ctx, venue)['id']}/bookings",
                {**utc, "attendees": 10, "purpose": "支部主题党日活动"}, party(ctx, who), attempt, 201)
    if made is not None:
        ctx["bookings"][who] = made


@when(parsers.re(WHO + r"预约" + VENUE + SLOT + r"，申请编号为\"(?P<key>[^\"]+)\""))
def books_with_key(ctx, who, venue, slot, key):
    api = ctx["api"]
    path = f"/venues/{venue_named(ctx, venue)['id']}/bookings"
    body = {**slot_of(api, slot), "attendees": 10, "purpose": "支部主题党日活动"}
    ctx["bookings"][who] = api.ok(api.post(path, body, party(ctx, who), {"Idempotency-Key": key}), 201)
    ctx["sent"] = (who, path, body)


@when(parsers.re(WHO + r"重新提交申请编号为\"(?P<key>[^\"]+)\"的同一预约"))
def resubmits(ctx, who, key):
    _, path, body = ctx["sent"]
    ctx["response"] = ctx["api"].post(path, body, party(ctx, who), {"Idempotency-Key": key})


# -- acting on a booking ---------------------------------------------------------------------------
@given(parsers.re(BY + r"已批准" + WHO + r"的预约"))
def approved(ctx, by, who):
    act(ctx, who, "approve", by, None)


@when(parsers.re(BY + TRY + r"批准" + WHO + r"的预约"))
def approves(ctx, by, attempt, who):
    act(ctx, who, "approve", by, attempt)


@given(parsers.re(BY + TRY + r"以\"(?P<reason>[^\"]+)\"为由(?P<action>拒绝|取消)" + WHO + r"的预约"))
@when(parsers.re(BY + TRY + r"以\"(?P<reason>[^\"]+)\"为由(?P<action>拒绝|取消)" + WHO + r"的预约"))
def acts_with_reason(ctx, by, attempt, reason, action, who):
    act(ctx, who, BOOKING_ACTIONS[action], by, attempt, {"reason": reason})


@when(parsers.re(BY + TRY + r"(?P<action>拒绝|取消)" + WHO + r"的预约(?:，不说明理由)?"))
def acts_without_reason(ctx, by, attempt, action, who):
    act(ctx, who, BOOKING_ACTIONS[action], by, attempt)


@given(parsers.re(WHO + TRY + r"取消自己的预约"))
@when(parsers.re(WHO + TRY + r"取消自己的预约"))
def cancels_own(ctx, who, attempt):
    act(ctx, who, "cancel", who, attempt)


@when(parsers.re(WHO + TRY + r"签到"))
def checks_in(ctx, who, attempt):
    act(ctx, who, "check_in", who, attempt)


@when(parsers.re(BY + TRY + r"为" + WHO + r"的预约签到"))
def checks_in_for(ctx, by, attempt, who):
    act(ctx, who, "check_in", by, attempt)


@given(parsers.re(WHO + r"已在预约开始时签到"))
def checked_in_at_start(ctx, who):
    ctx["api"].clock.set(moment_of(booking_of(ctx, who), "开始时"))
    act(ctx, who, "check_in", who, None)


@when(parsers.re(BY + TRY + r"确认" + WHO + r"的预约已完成"))
def completes(ctx, by, attempt, who):
    act(ctx, who, "complete", by, attempt)


@when(parsers.re(BY + TRY + r"将" + WHO + r"的预约记为未到场"))
def marks_no_show(ctx, by, attempt, who):
    act(ctx, who, "no_show", by, attempt)


@given("定时任务运行")
@when("定时任务运行")
def timers_run(ctx):
    ctx["fired"] = ctx["api"].tick()


@when("定时任务再次运行")
def timers_run_again(ctx):
    ctx["events_before"] = ctx["api"].event_count()
    ctx["fired"] = ctx["api"].tick()


# -- acting on a venue -----------------------------------------------------------------------------
@when(parsers.re(BY + TRY + r"(?P<action>暂停开放|恢复开放|停用)场地" + VENUE))
def acts_on_venue(ctx, by, attempt, action, venue):
    path = f"/venues/{venue_named(ctx, venue)['id']}/actions/{VENUE_ACTIONS[action]}"
    send(ctx, path, {}, party(ctx, by), attempt)


# -- outcomes --------------------------------------------------------------------------------------
@then(parsers.re(WHO + r"的预约状态(?:为|仍为)\"(?P<label>[^\"]+)\""))
def booking_status_is(ctx, who, label):
    api, last = ctx["api"], ctx["response"]
    refused_before = last is not None and last.status_code >= 300
    hint = f" (the last 尝试 was refused: {last.status_code} {last.text})" if refused_before else ""
    booking = current_booking(ctx, who)
    assert booking["status"] == BOOKING_STATUS[label], f"{who}'s booking is {booking['status']}{hint}"
    listed = api.ok(api.get(f"/venues/{booking['venue_id']}/bookings", api.admin))["items"]
    row = next((b for b in listed if b["id"] == booking["id"]), None)
    assert row is not None and row["status"] == booking["status"], f"the venue's booking list says {row}"


@then(parsers.re(WHO + r"的预约是" + VENUE + SLOT + r"，(?P<attendees>\d+)人参加"))
def booking_is(ctx, who, venue, slot, attendees):
    booking = current_booking(ctx, who)
    wanted = slot_of(ctx["api"], slot)
    assert booking["venue_id"] == venue_named(ctx, venue)["id"]
    assert (datetime.fromisoformat(booking["starts_at"]), datetime.fromisoformat(booking["ends_at"])) == (
        datetime.fromisoformat(wanted["starts_at"]), datetime.fromisoformat(wanted["ends_at"]))
    assert booking["attendees"] == int(attendees)
    assert booking["requester_id"] == party(ctx, who).id


@then(parsers.re(WHO + r"的预约由(?P<role>组织|党员)提出"))
def booking_made_by(ctx, who, role):
    booking = current_booking(ctx, who)
    assert (booking["requester_role"], booking["requester_id"]) == (ROLES[role], party(ctx, who).id)


@then(parsers.re(WHO + r"对自己的预约可以\"(?P<actions>[^\"]+)\""))
def own_allowed_actions(ctx, who, actions):
    allowed = current_booking(ctx, who, party(ctx, who))["allowed_actions"]
    assert sorted(allowed) == sorted(BOOKING_ACTIONS[a] for a in actions.split("、"))


@then(parsers.re(BY + r"对" + WHO + r"的预约可以\"(?P<actions>[^\"]+)\""))
def allowed_actions(ctx, by, who, actions):
    allowed = current_booking(ctx, who, party(ctx, by))["allowed_actions"]
    assert sorted(allowed) == sorted(BOOKING_ACTIONS[a] for a in actions.split("、"))


@then(parsers.re(WHO + r"的预约记有理由\"(?P<reason>[^\"]+)\""))
def booking_reason(ctx, who, reason):
    assert current_booking(ctx, who)["reason"] == reason


def free_time(ctx: dict, venue: str, day: str) -> str:
    api = ctx["api"]
    return hhmm(api.ok(api.get(f"/venues/{venue_named(ctx, venue)['id']}/availability", date=day))["free"])


@then(parsers.re(VENUE + DAY + r"的空闲时段为\"(?P<free>[^\"]+)\""))
def free_on_day(ctx, venue, day, free):
    assert free_time(ctx, venue, local_day(ctx["api"], day)) == free


@then(parsers.re(VENUE + r"在" + WHO + r"预约当天的空闲时段为\"(?P<free>[^\"]+)\""))
def free_on_booking_day(ctx, venue, who, free):
    day = datetime.fromisoformat(booking_of(ctx, who)["starts_at"]).astimezone(CITY_TZ).date().isoformat()
    assert free_time(ctx, venue, day) == free


def refused(ctx: dict, status: int, kind: str) -> dict:
    response = ctx["response"]
    assert response is not None, "no step tried anything"
    assert (response.status_code, response.headers["content-type"]) == (status, "application/problem+json"), \
        response.text
    problem = response.json()
    assert problem["type"] == f"/problems/{kind}", problem
    return problem


@then(parsers.re(r"(?:操作|预约)被拒绝，原因是\"(?P<label>[^\"]+)\""))
def refused_because(ctx, label):
    refused(ctx, *REFUSALS[label])


@then(parsers.re(r"预约被拒绝，违反规则\"(?P<rule>[^\"]+)\""))
def refused_by_rule(ctx, rule):
    problem = refused(ctx, 422, "booking-rule")
    assert problem["rule"] == RULES[rule], problem


@then(parsers.re(r"预约被拒绝，因为场地\"(?P<label>[^\"]+)\""))
def refused_by_venue_status(ctx, label):
    problem = refused(ctx, 409, "guard-failed")
    assert problem["current_status"] == VENUE_STATUS[label], problem


@then(parsers.re(WHO + r"名下(?:没有预约|只有(?P<n>\d+)个预约)"))
def bookings_held(ctx, who, n):
    api = ctx["api"]
    mine = api.ok(api.get("/bookings", party(ctx, who)))
    assert (mine["total"], len(mine["items"])) == (int(n or 0), int(n or 0)), mine


@then("重新提交得到的是原来那个预约")
def replayed(ctx):
    response = ctx["response"]
    assert response.status_code == 201, response.text
    assert response.headers.get("Idempotent-Replayed") == "true", dict(response.headers)
    assert response.json()["id"] == booking_of(ctx, ctx["sent"][0])["id"]


@then(parsers.re(r"平台统计显示共享场地(?P<venues>\d+)个、场地预约(?P<bookings>\d+)次"))
def stats_show(ctx, venues, bookings):
    api = ctx["api"]
    stats = api.ok(api.get("/stats"))
    assert (stats["venues_shared"], stats["bookings"]) == (int(venues), int(bookings)), stats


@then(parsers.re(r"场地" + VENUE + r"的状态为\"(?P<label>[^\"]+)\""))
def venue_status_is(ctx, venue, label):
    api = ctx["api"]
    assert api.ok(api.get(f"/venues/{venue_named(ctx, venue)['id']}"))["status"] == VENUE_STATUS[label]


@then(parsers.re(WHO + r"的预约由系统置为\"(?P<label>[^\"]+)\"，起因是该预约的(?P<cause>提交|批准|签到)"))
def set_by_the_system(ctx, who, label, cause):
    events = booking_events(ctx, who)
    last = events[-1]
    assert last.status == BOOKING_STATUS[label], type(last).__name__
    assert (last.meta["actor_id"], last.meta["actor_role"]) == ("system", "system"), last.meta
    causes = [e for e in events if type(e).__name__ == CAUSES[cause]]
    assert causes, f"{who}'s booking has no {CAUSES[cause]} event"
    cause_id = f"{causes[-1].originator_id}:{causes[-1].originator_version}"
    assert last.meta["causation_id"] == cause_id, last.meta


@then("定时任务没有处理任何事项")
def timers_did_nothing(ctx):
    assert ctx["fired"] == 0


@then("没有产生新的事件")
def no_new_events(ctx):
    assert ctx["api"].event_count() == ctx["events_before"]
