"""Every page, as the role it is for: no serious or critical axe-core violation, a label on every
control, every control reachable with the keyboard, charts drawn as SVG (text stays text), and
reading and signing in without JavaScript."""
import pytest

from tests.browser.city import city, expect, sign_in
from tests.browser.conftest import shoot

CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, summary"


@pytest.fixture(scope="session")
def server(sqlite_server) -> str:
    """Pages are checked once, on SQLite (the journeys cover both stores)."""
    return sqlite_server


@pytest.fixture(scope="module")
def scene(server):
    api = city(server)
    org = api.org()
    member = api.member(org=org)
    dept = api.department()
    demand = api.demand(org, "open", title="晋安区文明宣传")
    api.claim(demand, member)
    venue = api.venue(org)
    _, request = api.service_request_in("accepted", handler=dept)
    review = api.item(dept, "in_review", title="创业担保贷款贴息")
    return {"anonymous": None, "org": org, "member": member, "dept": dept, "admin": api.admin,
            "auditor": api.auditor(), "demand": demand["id"], "venue": venue["id"], "request": request["id"], "item": review["id"],
            "member_id": member.id}


PAGES = [
    ("anonymous", "home", "/"), ("anonymous", "demands", "/console/demands"), ("anonymous", "venues", "/console/venues"),
    ("anonymous", "workflows", "/console/workflows"), ("anonymous", "signin", "/console/signin"),
    ("org", "home", "/"), ("org", "demands", "/console/demands"), ("org", "demand", "/console/demands/{demand}"),
    ("member", "demand", "/console/demands/{demand}"), ("member", "venue", "/console/venues/{venue}"),
    ("member", "record", "/console/record"), ("dept", "desk", "/console/desk"),
    ("dept", "request", "/console/requests/{request}"), ("admin", "home", "/"),
    ("admin", "item", "/console/items/{item}"),
    ("auditor", "audit", "/console/audit?verify=1"), ("auditor", "timeline", "/console/audit/{demand}?version=1"),
]


def _unlabelled(page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')).map(el => el.outerHTML)""")


def _reached_by_tab(page) -> tuple[set[str], set[str]]:
    """(what Tab reached, every visible control), each control named by a path through the document.
    A date or time field takes a Tab stop per part, so the budget is a few presses per control."""
    name = """el => { const path = []; for (let e = el; e && e !== document.body; e = e.parentElement)
        path.unshift(e.tagName + ':' + [...e.parentElement.children].indexOf(e)); return path.join('/'); }"""
    controls = set(page.evaluate(f"""() => [...document.querySelectorAll('{CONTROLS}')]
        .filter(el => el.getClientRects().length > 0 && !el.closest('details:not([open]) > :not(summary)'))
        .map({name})"""))
    reached = set()
    page.locator("body").focus()
    for _ in range(4 * len(controls) + 10):
        page.keyboard.press("Tab")
        reached.add(page.evaluate(f"() => document.activeElement === document.body ? '' : ({name})(document.activeElement)"))
        if controls <= reached:
            break
    return reached, controls


@pytest.mark.parametrize("role, name, path", PAGES, ids=[f"{r}-{n}" for r, n, _ in PAGES])
def test_each_page_is_accessible_to_its_role(page, scene, role, name, path):
    if scene[role] is not None:
        sign_in(page, scene[role])
    page.goto(path.format(**scene))
    expect(page.locator("main h1")).to_be_visible()
    shoot(page, f"page-{role}-{name}")
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    grave = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in found
             if v["impact"] in ("serious", "critical")]
    assert not grave, grave
    assert not _unlabelled(page)
    reached, controls = _reached_by_tab(page)
    assert controls <= reached, sorted(controls - reached)[:5]


def test_charts_are_svg_with_their_words_in_the_page(page, scene):
    page.goto("/")
    expect(page.locator("#trend svg")).to_be_visible()
    expect(page.locator("#trend svg")).to_contain_text("发布需求")
    page.goto("/console/workflows")
    expect(page.locator("#wf-chart-demand svg")).to_contain_text("待审核")


def test_reading_and_signing_in_work_without_javascript(browser, server, scene):
    context = browser.new_context(base_url=server, java_script_enabled=False, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.locator("#figure-organisations")).not_to_have_text("0")
        expect(page.locator("#trend-title")).to_be_visible()
        page.goto("/console/demands?status=open")
        expect(page.locator("table.list")).to_contain_text("晋安区文明宣传")
        sign_in(page, scene["org"])
        page.goto(f"/console/demands/{scene['demand']}")
        expect(page.locator("#claims")).to_contain_text("待确认")
        shoot(page, "no-javascript-demand")
    finally:
        context.close()
