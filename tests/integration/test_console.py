"""The console without a browser: its assets are the pinned ones, its forms refuse cross-site
posts, its session cookie is out of scripts' and other sites' reach, it stays out of the OpenAPI
document, and each role sees only what the API shows it."""
import hashlib
import json
import re
from pathlib import Path

import pytest

from api.console.dashboard import figures
from api.console.demo import demo_accounts
from api.console.pages import ENV
from api.console.session import Session
from api.seed import Seeder

VENDOR = Path(__file__).resolve().parents[2] / "api" / "console" / "static" / "vendor"
TEMPLATES = VENDOR.parents[1] / "templates"


def test_every_vendored_file_is_the_pinned_one():
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    files = {p.name for p in VENDOR.iterdir() if p.name != "manifest.json"}
    assert files == set(manifest)
    for name, entry in manifest.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert entry["version"] in name


def test_templates_load_nothing_from_elsewhere():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r'(src|href|action)="(https?:)?//', text), template.name


def _signed_in(api, party) -> str:
    api.client.cookies.clear()
    page = api.client.get("/console/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    token = party.headers["Authorization"].removeprefix("Bearer ")
    reply = api.client.post("/console/signin", data={"csrf": csrf, "token": token, "next": "/"}, follow_redirects=False)
    assert reply.status_code == 303
    cookie = next(c for c in reply.headers.get_list("set-cookie") if c.startswith("linli_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    return re.search(r'name="csrf" value="([^"]+)"', api.client.get("/").text).group(1)


def test_a_form_without_the_session_csrf_token_changes_nothing(api):
    owner = api.org()
    demand = api.demand(owner, "pending_review")
    _signed_in(api, api.admin)
    before = api.event_count()
    form = {"collection": "demands", "id": demand["id"], "trigger": "approve", "next": "/"}
    for csrf in ("", "forged"):
        reply = api.client.post("/console/act", data={**form, "csrf": csrf}, follow_redirects=False)
        assert reply.status_code == 303
    assert api.event_count() == before
    assert "CSRF" in api.client.get("/").text


def test_a_signed_in_form_acts_as_the_user(api):
    owner = api.org()
    demand = api.demand(owner, "pending_review")
    csrf = _signed_in(api, api.admin)
    api.client.post("/console/act", data={"collection": "demands", "id": demand["id"], "trigger": "approve",
                                          "next": "/", "csrf": csrf})
    assert api.ok(api.get(f"/demands/{demand['id']}"))["status"] == "open"


def test_a_sign_in_with_a_bad_token_is_refused(api):
    page = api.client.get("/console/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    reply = api.client.post("/console/signin", data={"csrf": csrf, "token": "no-such-token"})
    assert "令牌无效" in reply.text and "linli_session" not in api.client.cookies


def test_each_role_sees_only_what_the_api_shows_it(api):
    owner, stranger = api.org(), api.org()
    member = api.member(org=owner)
    demand = api.demand(owner, "open")
    api.claim(demand, member)
    _signed_in(api, stranger)
    assert "暂无认领" in api.client.get(f"/console/demands/{demand['id']}").text
    assert "审计" not in api.client.get("/").text.split("<main", 1)[0]
    assert "暂无事件" in api.client.get("/console/audit").text
    _signed_in(api, owner)
    assert "待确认" in api.client.get(f"/console/demands/{demand['id']}").text


def test_console_pages_stay_out_of_the_openapi_document(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/console")]


def test_the_demo_store_gets_a_token_for_each_role(system):
    if system.settings.postgres:
        with pytest.raises(ValueError):
            demo_accounts(system)
        return
    Seeder(system, 0.0005).run()
    system.project()
    assert {a["role"] for a in demo_accounts(system)} == {"admin", "auditor", "org", "member", "dept"}


def test_the_dashboard_shows_district_and_grid_type_breakdowns_when_stats_carry_them():
    stats = {"claims": 7, "by_month": {"2025-01": {"claims": 3}, "2025-02": {"claims": 4}},
             "by_district": {"鼓楼区": {"claims": 5}, "台江区": {"claims": 2}},
             "by_grid_type": {"小区型": {"demands_published": 2}}}
    page = ENV.get_template("home.html").render(session=Session(None, None, "x"), nav=[], path="/", flash=None,
                                                nonce="n", todo=[], **figures(stats))
    for words in ("按区", "鼓楼区", "台江区", "按网格类型", "小区型", "2025-02"):
        assert words in page
    plain = ENV.get_template("home.html").render(session=Session(None, None, "x"), nav=[], path="/", flash=None,
                                                 nonce="n", todo=[], **figures({"by_month": {}}))
    assert "统计尚未按区和网格类型细分" in plain


def test_the_operators_todo_lists_what_awaits_review_and_publishing_works_from_the_item_page(api):
    owner, dept = api.org(), api.department()
    demand = api.demand(owner, "pending_review", title="马尾区儿童关爱")
    item = api.item(dept, "in_review", title="创业担保贷款贴息")
    csrf = _signed_in(api, api.admin)
    home = api.client.get("/").text
    assert "马尾区儿童关爱" in home and f"/console/demands/{demand['id']}" in home
    assert "创业担保贷款贴息" in home and f"/console/items/{item['id']}" in home
    assert 'data-trigger="publish"' in api.client.get(f"/console/items/{item['id']}").text
    api.client.post("/console/act", data={"collection": "service-items", "id": item["id"], "trigger": "publish",
                                          "next": "/", "csrf": csrf})
    assert api.ok(api.get(f"/service-items/{item['id']}"))["status"] == "published"


def test_each_party_sees_what_awaits_it_and_nothing_of_others(api):
    owner, other = api.org(), api.org()
    member = api.member(org=owner)
    demand = api.demand(owner, "open", title="台江区医疗义诊")
    claim = api.claim(demand, member)
    venue = api.venue(owner, requires_approval=True, name="台江区党群服务中心")
    api.book(venue, member)
    dept = api.department()
    api.service_request_in("submitted", handler=dept)

    _signed_in(api, owner)
    home = api.client.get("/").text
    assert "台江区医疗义诊" in home and "台江区党群服务中心" in home
    _signed_in(api, other)
    home = api.client.get("/").text
    assert "台江区医疗义诊" not in home and "台江区党群服务中心" not in home
    api.act("claims", claim["id"], "confirm", owner)
    _signed_in(api, member)
    assert "台江区医疗义诊" in api.client.get("/").text  # to check in
    _signed_in(api, dept)
    assert "申请稳岗返还" in api.client.get("/").text  # to accept


def test_a_demand_page_shows_the_waitlist_in_order_with_the_owners_buttons(api):
    owner = api.org()
    first, second = api.member(org=owner), api.member(org=owner)
    demand = api.demand(owner, "open", needed=1)
    api.act("claims", api.claim(demand, first)["id"], "confirm", owner)
    waiting = api.claim(demand, second)
    api.act("claims", waiting["id"], "waitlist", owner)
    _signed_in(api, owner)
    page = api.client.get(f"/console/demands/{demand['id']}").text
    waitlist = page[page.index('id="waitlist"'):]
    assert second.id[:8] in waitlist and first.id[:8] not in waitlist.split("</ol>")[0]
    row = page[page.index(f'data-claim="{waiting["id"]}"'):].split("</tr>")[0]
    assert 'data-trigger="confirm"' in row and 'data-trigger="decline"' in row


def test_pages_allow_scripts_styles_and_connections_from_this_server_only(api):
    reply = api.client.get("/")
    policy = reply.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy and "connect-src 'self'" in policy
    assert reply.headers["x-frame-options"] == "DENY"
    for script in re.findall(r'<script src="([^"]+)"', reply.text):
        assert api.client.get(script).status_code == 200, script


@pytest.mark.parametrize("days, starts, ends, words", [
    (3, "06:00", "07:00", "不在场地开放时间内"),
    (60, "10:00", "12:00", "超出可提前预约的天数"),
    (5, "10:00", "12:00", "场地该时段停用（闭馆）"),
    (3, "10:00", "12:00", None),
])
def test_the_booking_form_says_which_rule_refused_it(api, days, starts, ends, words):
    from datetime import timedelta

    from domain.city import CITY_TZ

    owner, member = api.org(), api.member()
    day = (api.clock.now().astimezone(CITY_TZ) + timedelta(days=days)).date()
    fifth = (api.clock.now().astimezone(CITY_TZ) + timedelta(days=5)).date()
    closed = {"starts_at": f"{fifth}T00:00:00+08:00", "ends_at": f"{fifth + timedelta(days=1)}T00:00:00+08:00",
              "reason": "装修"}
    venue = api.venue(owner, blackouts=[closed])
    csrf = _signed_in(api, member)
    reply = api.client.post(f"/console/venues/{venue['id']}/bookings",
                            data={"csrf": csrf, "date": day.isoformat(), "starts": starts, "ends": ends,
                                  "attendees": "10", "purpose": "支部学习"})
    if words is None:
        assert "预约已提交（已确认）" in reply.text
    else:
        assert f"预约未成功，{words}" in reply.text


@pytest.mark.parametrize("elsewhere", ["//evil.example/", "/\t/evil.example/", "/\\evil.example", "https://evil.example/"])
def test_signing_in_never_sends_the_browser_to_another_site(api, elsewhere):
    page = api.client.get("/console/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    token = api.admin.headers["Authorization"].removeprefix("Bearer ")
    reply = api.client.post("/console/signin", data={"csrf": csrf, "token": token, "next": elsewhere},
                            follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/"


def test_an_auditor_signed_in_to_the_console_changes_nothing(api):
    owner = api.org()
    demand = api.demand(owner, "pending_review")
    csrf = _signed_in(api, api.auditor())
    before = api.event_count()
    reply = api.client.post("/console/act", data={"collection": "demands", "id": demand["id"], "trigger": "approve",
                                                  "next": f"/console/demands/{demand['id']}", "csrf": csrf})
    assert "无权进行该操作" in reply.text
    assert api.event_count() == before
