"""Who reads what (DESIGN §6), every cell, on both backends: each GET route of the app's route table
(as its OpenAPI document lists them) × each kind of caller, by role and by relation to the records in the path. A route missing from
RULES fails, so a new route must say who reads it."""
import pytest

from api.app import create_app
from tests.support import BACKENDS, Api, module_api

CALLERS = ("anonymous", "admin", "auditor", "member", "members_org", "owner", "other_member", "other_org", "dept",
           "other_dept")
AUTHENTICATED = set(CALLERS) - {"anonymous"}
STAFF = {"admin", "auditor"}


class World:
    """`member` (of `members_org`) claimed `owner`'s demand and booked `owner`'s venue; `owner` filed a
    request under `dept`'s item; `other_member` belongs to `other_org`."""

    def __init__(self, api: Api):
        self.api = api
        members_org, owner, other_org = api.org(), api.org(), api.org()
        dept, other_dept = api.department(), api.department()
        member = api.member(org=members_org)
        self.parties = {"admin": api.admin, "auditor": api.auditor(), "member": member, "members_org": members_org,
                        "owner": owner, "other_member": api.member(org=other_org), "other_org": other_org,
                        "dept": dept, "other_dept": other_dept}
        demand = api.demand(owner, "open")
        claim = api.claim(demand, member)
        venue = api.venue(owner)
        booking = api.book(venue, member)
        item, request = api.service_request_in("accepted", handler=dept, applicant=owner)
        self.ids = {"demand_id": demand["id"], "claim_id": claim["id"], "member_id": member.id,
                    "venue_id": venue["id"], "booking_id": booking["id"], "item_id": item["id"],
                    "content_version": "1", "request_id": request["id"], "department_id": dept.id,
                    "aggregate_id": demand["id"], "name": "demand"}
        self.records = {"/grids/{record_id}": api.grid(), "/organisations/{record_id}": members_org.id,
                        "/members/{record_id}": member.id, "/departments/{record_id}": dept.id}
        self.query = {"/venues/{venue_id}/availability": {"date": api.slot()["starts_at"][:10]},
                      "/audit/aggregates/{aggregate_id}/state": {"version": 1}, "/bookings": {"requester": member.id}}
        self.claim, self.booking = claim["id"], booking["id"]

    def path(self, template: str) -> str:
        if template in self.records:
            return template.replace("{record_id}", self.records[template])
        return template.format(**self.ids)


def public():
    return {who: 200 for who in CALLERS}


def readers(*allowed: str, refused: int = 404) -> dict:
    """The record's parties and staff read it; any other caller is refused; no token is 401."""
    return {who: 200 if who in allowed else 401 if who == "anonymous" else refused for who in CALLERS}


def staff_only() -> dict:
    return readers(*STAFF, refused=403)


def signed_in() -> dict:
    return {who: 401 if who == "anonymous" else 200 for who in CALLERS}


PUBLIC_NAME = {"id", "status", "version", "allowed_actions", "name"}
RULES = {
    "/health": public(), "/ready": public(), "/metrics": public(), "/stats": public(),
    "/workflows": public(), "/workflows/{name}": public(),
    "/demands": public(), "/demands/{demand_id}": public(),
    "/venues": public(), "/venues/{venue_id}": public(), "/venues/{venue_id}/availability": public(),
    "/service-items": public(), "/service-items/{item_id}": public(),
    "/service-items/{item_id}/versions/{content_version}": public(),
    "/grids/{record_id}": public(), "/organisations/{record_id}": public(), "/departments/{record_id}": public(),
    "/demands/{demand_id}/claims": signed_in(), "/venues/{venue_id}/bookings": signed_in(), "/bookings": signed_in(),
    "/claims/{claim_id}": readers(*STAFF, "member", "owner"),
    "/bookings/{booking_id}": readers(*STAFF, "member", "owner"),
    "/members/{record_id}": readers(*STAFF, "member", "members_org"),
    "/members/{member_id}/service-record": readers(*STAFF, "member", "members_org"),
    "/service-requests/{request_id}": readers(*STAFF, "owner", "dept", "other_dept", refused=403),
    "/departments/{department_id}/queue": readers(*STAFF, "dept", refused=403),
    "/audit/events": staff_only(), "/audit/aggregates/{aggregate_id}/history": staff_only(),
    "/audit/aggregates/{aggregate_id}/state": staff_only(), "/audit/verify": staff_only(),
    "/auth/tokens": readers("admin", refused=403),
}
# lists every signed-in caller may ask for: whose rows each sees (the others see none)
LISTED = {"/demands/{demand_id}/claims": ("claim", {*STAFF, "member", "owner"}),
          "/venues/{venue_id}/bookings": ("booking", {*STAFF, "member", "owner"}),
          "/bookings": ("booking", {*STAFF, "member", "owner"})}
# registry records of no one in particular: without a token, only the name
NAMES_ONLY = ("/grids/{record_id}", "/organisations/{record_id}", "/departments/{record_id}")
ROUTES = sorted(path for path, operations in create_app().openapi()["paths"].items() if "get" in operations)


def test_every_get_route_says_who_reads_it():
    assert sorted(RULES) == ROUTES


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    with module_api(request, tmp_path_factory, "readers") as api:
        yield World(api)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES)
def test_each_route_answers_each_caller_as_the_rules_say(world, route, caller):
    by = world.parties.get(caller)

    response = world.api.get(world.path(route), by, **world.query.get(route, {}))

    assert response.status_code == RULES[route][caller], response.text
    if route in LISTED and caller != "anonymous":
        kind, sees = LISTED[route]
        expected = [getattr(world, kind)] if caller in sees else []
        assert [row["id"] for row in response.json()["items"]] == expected
    if route in NAMES_ONLY:
        fields = set(response.json())
        assert fields == PUBLIC_NAME if caller == "anonymous" else fields > PUBLIC_NAME
