"""The console's journeys, each as its users would take it in the browser; each asserts what the
page shows and leaves screenshots in var/screenshots/."""
import pytest

from tests.browser.city import action, city, expect, local, sign_in, sign_out
from tests.browser.conftest import shoot


@pytest.fixture
def api(server):
    return city(server)


def test_an_organisation_publishes_a_demand_and_the_operator_approves_it(page, api):
    org = api.org()
    sign_in(page, org)
    page.goto("/console/demands")
    page.get_by_label("标题").fill("三坊七巷助老陪护")
    page.get_by_label("类别", exact=True).last.fill("助老服务")
    page.locator("#n-grid").select_option(api.grid())
    page.get_by_label("需要人数").fill("2")
    page.get_by_label("认领截止").fill(local(3).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("开始时间").fill(local(4, 9).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("结束时间").fill(local(4, 12).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="发布", exact=True).click()
    expect(page.locator("#demand-status")).to_have_text("待审核")
    expect(page.locator("h1")).to_have_text("三坊七巷助老陪护")
    shoot(page, "journey-1-org-submitted-demand")
    demand_page = page.url

    sign_out(page)
    sign_in(page, api.admin)
    expect(page.locator(".todo")).to_contain_text("三坊七巷助老陪护")
    shoot(page, "journey-1-admin-todo")
    page.goto(demand_page)
    page.locator('button[data-trigger="approve"]').click()
    expect(page.locator(".flash")).to_contain_text("已审核通过")
    expect(page.locator("#demand-status")).to_have_text("已发布")
    shoot(page, "journey-1-admin-approved")


def test_a_member_claims_and_the_organisation_confirms_checks_in_completes_and_verifies(page, api):
    org = api.org()
    member = api.member(org=org)
    demand = api.demand(org, "open", title="西湖公园环境整治")
    sign_in(page, member)
    page.goto(f"/console/demands/{demand['id']}")
    page.get_by_role("button", name="认领", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("已认领（待确认）")
    shoot(page, "journey-2-member-claimed")

    sign_out(page)
    sign_in(page, org)
    expect(page.locator(".todo")).to_contain_text("西湖公园环境整治")
    page.goto(f"/console/demands/{demand['id']}")
    claims = page.locator("#claims")
    expect(claims).to_contain_text("待确认")
    action(page, "confirm", claims).get_by_role("button").click()
    expect(claims).to_contain_text("已确认")
    page.locator('button[data-trigger="start"]').click()
    expect(page.locator("#demand-status")).to_have_text("进行中")
    action(page, "check_in", claims).get_by_role("button").click()
    expect(claims).to_contain_text("已签到")
    completing = action(page, "complete", claims)
    completing.get_by_label("服务时长（小时）").fill("3")
    completing.get_by_role("button").click()
    expect(claims).to_contain_text("已完成服务")
    verifying = action(page, "verify", claims)
    verifying.get_by_label("评分（1–5）").fill("5")
    verifying.get_by_role("button").click()
    expect(claims).to_contain_text("已核验")
    shoot(page, "journey-2-org-verified")

    sign_out(page)
    sign_in(page, member)
    page.goto("/console/record")
    expect(page.locator("#total-hours")).to_have_text("3.0")
    shoot(page, "journey-2-member-service-record")


def test_a_booking_refused_by_a_rule_shows_why(page, api):
    org = api.org()
    member = api.member(org=org)
    venue = api.venue(org, min_notice_hours=48, name="鼓楼区党群服务中心报告厅")
    sign_in(page, member)
    page.goto(f"/console/venues/{venue['id']}")
    page.get_by_label("日期").fill(local(1).date().isoformat())
    page.get_by_label("开始").fill("10:00")
    page.get_by_label("结束").fill("12:00")
    page.get_by_role("button", name="提交预约").click()
    expect(page.locator(".flash")).to_contain_text("预约提前量不足")
    expect(page.locator(".flash")).to_contain_text("48")
    shoot(page, "journey-3-booking-refused")

    page.get_by_label("日期").fill(local(5).date().isoformat())
    page.get_by_role("button", name="提交预约").click()
    expect(page.locator(".flash")).to_contain_text("预约已提交（已确认）")
    expect(page.locator("#week .booking")).to_contain_text("10:00–12:00")
    shoot(page, "journey-3-booking-in-week")


def test_a_department_accepts_and_resolves_a_request_and_the_light_changes(page, api):
    dept = api.department()
    _, request = api.service_request_in("submitted", handler=dept)
    sign_in(page, dept)
    page.goto("/console/desk")
    row = page.locator(f'tr[data-request="{request["id"]}"]')
    expect(row.locator(".light")).to_have_attribute("data-sla", "none")
    shoot(page, "journey-4-desk-before")
    row.get_by_role("link").click()
    page.locator('button[data-trigger="accept"]').click()
    expect(page.locator("#sla-light")).to_have_attribute("data-sla", "on_time")
    expect(page.locator("#sla-light")).to_have_text("按时")
    page.goto("/console/desk")
    expect(row.locator(".light")).to_have_attribute("data-sla", "on_time")
    shoot(page, "journey-4-desk-accepted")
    row.get_by_role("link").click()
    resolving = action(page, "resolve")
    resolving.get_by_label("办理结果").select_option("approved")
    resolving.get_by_label("办结说明").fill("已兑现稳岗返还")
    resolving.get_by_role("button").click()
    expect(page.locator("#request-status")).to_have_text("已办结")
    expect(page.locator("#sla-light")).to_have_attribute("data-sla", "stopped")
    page.goto("/console/desk?status=all")
    expect(row.locator(".light")).to_have_attribute("data-sla", "stopped")
    shoot(page, "journey-4-desk-resolved")


def test_an_auditor_opens_a_timeline_and_a_past_state(page, api):
    org = api.org()
    demand = api.demand(org, "open", title="仓山区法律咨询")
    sign_in(page, api.auditor())
    page.goto(f"/console/audit?aggregate_id={demand['id']}")
    expect(page.locator("table.list tbody tr")).to_have_count(3)  # posted, submitted, approved
    page.get_by_role("button", name="校验全部历史").click()
    expect(page.locator("#verify-result")).to_contain_text("校验通过")
    shoot(page, "journey-5-audit-index")
    page.locator("table.list tbody tr").first.get_by_role("link").click()
    expect(page.locator("#timeline > li")).to_have_count(3)
    expect(page.locator("#timeline")).to_contain_text("pending_review")
    shoot(page, "journey-5-timeline")
    page.get_by_role("link", name="查看 v1 时的状态").click()
    expect(page.locator("#past-state")).to_contain_text("v1 时的状态")
    expect(page.locator("#past-state")).to_contain_text("draft")
    shoot(page, "journey-5-past-state")
