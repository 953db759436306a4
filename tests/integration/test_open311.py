"""Open311 GeoReport v2 as its clients use it, on both backends: the public `georeport` client
library reads services, definitions and requests over HTTP from a live server, in JSON and XML;
requests are filed form-encoded as FixMyStreet files them; refusals are the spec's, and store
nothing."""
import threading
import time
from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest
import requests
import uvicorn
from georeport import GeoReport

from api.app import create_app
from tests.support import BACKENDS, START, Api, module_api

FORMATS = ("json", "xml")
NOW = START  # events carry the time of the store's clock: the tests' fake clock starts at START
SPAN = {"start_date": (NOW - timedelta(days=1)).isoformat(), "end_date": (NOW + timedelta(days=1)).isoformat()}


def _listed(found) -> list[dict]:
    """xmltodict gives one element as a dict, several as a list."""
    return found if isinstance(found, list) else [found]


class City:
    """`org` files under `dept`'s published item and posts demands; `other` is another organisation."""

    def __init__(self, api: Api, root: str):
        self.api, self.root = api, root
        self.dept, self.other_dept = api.department("市人社局"), api.department()
        self.org, self.other = api.org("鼓楼区某科技公司"), api.org()
        self.member, self.auditor = api.member(), api.auditor()
        self.item = api.item(self.dept, promised_days=5)
        self.draft_item = api.item(self.dept, status="draft")
        self.public_demand = api.demand(api.org(), "open", category="助老服务")
        self.private = self.filed()  # org's request under dept's item

    def key(self, party) -> str:
        return party.headers["Authorization"].split()[1]

    def client(self, fmt: str = "json", party=None) -> GeoReport:
        return GeoReport(self.root, jurisdiction="fuzhou", api_key=self.key(party) if party else None,
                         output_format=fmt)

    def file(self, fmt: str = "json", **fields) -> requests.Response:
        """A POST as FixMyStreet sends it: form-encoded, the api_key among the fields."""
        form = {"api_key": self.key(self.org), "jurisdiction_id": "fuzhou", "service_code": self.item["id"],
                "lat": "26.0745", "long": "119.2965", "address_string": "鼓楼区东街1号", "email": "a@example.com",
                "description": "企业参保3年，申请稳岗返还", "attribute[subject]": "申请稳岗返还", **fields}
        return requests.post(f"{self.root}/requests.{fmt}", data={k: v for k, v in form.items() if v is not None},
                             timeout=10)

    def demand_fields(self, **fields) -> dict:
        starts = self.api.clock.now() + timedelta(days=3)
        return {"service_code": "elderly-care", "lat": None, "long": None, "attribute[subject]": None,
                "description": "陪伴独居老人", "attribute[needed]": "2", "attribute[starts_at]": starts.isoformat(),
                "attribute[ends_at]": (starts + timedelta(hours=3)).isoformat(), **fields}

    def filed(self, fmt: str = "json", **fields) -> str:
        response = self.file(fmt, **fields)
        assert response.status_code == 201, response.text
        if fmt == "json":
            return response.json()[0]["service_request_id"]
        return ElementTree.fromstring(response.content).find("request/service_request_id").text


def _serve(api: Api):
    server = uvicorn.Server(uvicorn.Config(create_app(api.system, run_timers=False), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread


@pytest.fixture(scope="module", params=BACKENDS)
def city(request, tmp_path_factory):
    with module_api(request, tmp_path_factory, "open311") as api:
        server, thread = _serve(api)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield City(api, f"http://127.0.0.1:{port}/open311/v2")
        finally:
            server.should_exit = True
            thread.join(10)


# -- services -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_published_items_and_the_demand_categories(city, fmt):
    services = _listed(city.client(fmt).get_service_list())

    by_code = {s["service_code"]: s for s in services}
    assert by_code[city.item["id"]]["service_name"] == "稳岗返还"
    assert by_code[city.item["id"]]["group"] == "市人社局"
    assert city.draft_item["id"] not in by_code
    assert by_code["elderly-care"]["service_name"] == "助老服务"
    assert by_code["elderly-care"]["group"] == "邻里需求"
    assert {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} <= set(
        by_code["elderly-care"])
    assert str(by_code["elderly-care"]["metadata"]).lower() == "true"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_definition_names_what_a_request_of_the_service_needs(city, fmt):
    item = city.client(fmt).get_service_definition(city.item["id"])
    demand = city.client(fmt).get_service_definition("elderly-care")

    item_attributes = _listed(item["attributes"] if fmt == "json" else item["attributes"]["attribute"])
    demand_attributes = _listed(demand["attributes"] if fmt == "json" else demand["attributes"]["attribute"])
    assert [a["code"] for a in item_attributes] == ["subject"]
    required = {a["code"] for a in demand_attributes if str(a["required"]).lower() == "true"}
    assert required == {"needed", "starts_at", "ends_at"}
    assert {a["code"] for a in demand_attributes} >= {"grid_id", "claim_deadline", "title"}
    assert {"variable", "code", "datatype", "required", "datatype_description", "order", "description",
            "values"} <= set(demand_attributes[0])


def test_discovery_names_the_endpoint_and_both_formats(city):
    found = requests.get(f"{city.root}/discovery.xml", timeout=10)

    root = ElementTree.fromstring(found.content)
    assert found.headers["content-type"] == "text/xml; charset=utf-8"
    assert root.tag == "discovery" and root.find("changeset") is not None and root.find("contact") is not None
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.find("url").text == city.root
    assert {f.text for f in endpoint.findall("formats/format")} == {"application/json", "text/xml"}
    assert endpoint.find("specification").text and endpoint.find("type").text == "production"


# -- filing -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_filed_through_open311_is_the_same_aggregate_the_json_api_shows(city, fmt):
    request_id = city.filed(fmt)

    shown = city.api.ok(city.api.get(f"/service-requests/{request_id}", city.org))
    assert shown["status"] == "submitted" and shown["subject"] == "申请稳岗返还"
    assert (shown["lat"], shown["long"], shown["address_string"]) == (26.0745, 119.2965, "鼓楼区东街1号")
    history = city.api.ok(city.api.get(f"/audit/aggregates/{request_id}/history", city.api.admin))
    [filed] = history["events"]
    assert (history["context"], filed["type"]) == ("services", "ServiceRequest.Filed")
    assert (filed["actor_id"], filed["actor_role"]) == (city.org.id, "org")
    assert filed["data"]["location"]["address_string"] == "鼓楼区东街1号"


def test_the_sla_due_time_is_the_expected_datetime(city):
    request_id = city.filed()
    accepted = city.api.act("service-requests", request_id, "accept", city.dept)

    [found] = requests.get(f"{city.root}/requests/{request_id}.json", params={"api_key": city.key(city.org)},
                           timeout=10).json()

    assert accepted["due_at"] is not None
    assert found["expected_datetime"] == accepted["due_at"]
    assert found["agency_responsible"] == "市人社局" and found["status"] == "open"
    assert found["status_notes"] == "已受理"


def test_a_demand_filed_through_open311_is_posted_and_submitted_for_review(city):
    demand_id = city.filed(**city.demand_fields(address_id="FZ-GL-0001"))

    shown = city.api.ok(city.api.get(f"/demands/{demand_id}", city.org))
    assert shown["status"] == "pending_review" and shown["category"] == "助老服务" and shown["needed"] == 2
    assert shown["address_id"] == "FZ-GL-0001" and shown["organisation_id"] == city.org.id
    assert shown["grid_id"] == city.api.grid()  # the organisation's own grid by default


# -- reading requests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_are_read_by_id_code_status_and_dates(city, fmt):
    demand_id = city.filed(**city.demand_fields(lat="26.0745", long="119.2965"))
    city.api.act("demands", demand_id, "approve", city.api.admin)  # now on the public board
    client = city.client(fmt)  # the library sends no api_key on reads: what anyone may see

    by_id = _listed(client.get_service_requests(service_request_id=f"{demand_id},{city.public_demand['id']}"))
    by_code = _listed(client.get_service_requests(service_code="elderly-care", **SPAN))
    open_ones = _listed(client.get_service_requests(status="open", **SPAN))
    closed = requests.get(f"{city.root}/requests.{fmt}", params={"status": "closed", **SPAN}, timeout=10)
    one = client.get_service_request(demand_id)

    assert [r["service_request_id"] for r in by_id] == [demand_id, city.public_demand["id"]]
    assert demand_id in {r["service_request_id"] for r in by_code}
    assert {r["service_code"] for r in by_code} == {"elderly-care"}
    assert demand_id in {r["service_request_id"] for r in open_ones}
    assert closed.status_code == 200 and demand_id not in closed.text
    assert one["service_request_id"] == demand_id and one["service_name"] == "助老服务"
    assert one["status"] == "open" and one["status_notes"] == "已发布，可认领"
    assert float(one["lat"]) == 26.0745 and one["address"] == "鼓楼区东街1号"
    assert {"status", "status_notes", "service_name", "service_code", "description", "agency_responsible",
            "requested_datetime", "updated_datetime", "expected_datetime", "address", "lat", "long"} <= set(one)
    assert datetime.fromisoformat(one["requested_datetime"]).utcoffset() is not None


def test_a_single_request_is_still_a_one_element_list(city):
    request_id = city.filed()

    as_json = requests.get(f"{city.root}/requests/{request_id}.json", params={"api_key": city.key(city.org)},
                           timeout=10)
    as_xml = requests.get(f"{city.root}/requests/{request_id}.xml", params={"api_key": city.key(city.org)},
                          timeout=10)

    assert as_json.headers["content-type"] == "application/json; charset=utf-8"
    assert len(as_json.json()) == 1
    root = ElementTree.fromstring(as_xml.content)
    assert root.tag == "service_requests" and [r.tag for r in root] == ["request"]
    assert root.find("request/service_request_id").text == request_id


def test_a_token_answers_with_its_request(city):
    request_id = city.filed()

    found = requests.get(f"{city.root}/tokens/{request_id}.xml", params={"api_key": city.key(city.org)}, timeout=10)

    assert ElementTree.fromstring(found.content).find("request/service_request_id").text == request_id


def test_requests_page_through_with_the_paging_extension(city):
    city.api.clock.advance(milliseconds=1)  # requests are dated by the clock: these two are the newest,
    first = city.filed()                    # one after the other
    city.api.clock.advance(milliseconds=1)
    second = city.filed()
    query = {"api_key": city.key(city.org), "service_code": city.item["id"], "page_size": "1", **SPAN}

    pages = [requests.get(f"{city.root}/requests.json", params={**query, "page": str(n)}, timeout=10).json()
             for n in (1, 2)]

    assert [len(p) for p in pages] == [1, 1]
    assert [pages[0][0]["service_request_id"], pages[1][0]["service_request_id"]] == [second, first]


# -- privacy ------------------------------------------------------------------------------------------
def test_a_service_request_is_seen_by_its_enterprise_its_department_and_staff_only(city):
    request_id = city.filed()

    def sees(party) -> bool:
        params = {"api_key": city.key(party)} if party else {}
        one = requests.get(f"{city.root}/requests/{request_id}.json", params=params, timeout=10)
        listed = requests.get(f"{city.root}/requests.json", params={**params, **SPAN}, timeout=10)
        updates = requests.get(f"{city.root}/servicerequestupdates.json", params={**params, **SPAN}, timeout=10)
        assert (request_id in listed.text) == (one.status_code == 200) == (request_id in updates.text)
        return one.status_code == 200

    assert sees(city.org) and sees(city.dept) and sees(city.api.admin) and sees(city.auditor)
    assert not sees(None) and not sees(city.other) and not sees(city.other_dept) and not sees(city.member)


def test_the_public_sees_demands_on_the_board_and_no_draft(city):
    under_review = city.filed(**city.demand_fields())

    public = requests.get(f"{city.root}/requests.json", params=SPAN, timeout=10).json()
    own = requests.get(f"{city.root}/requests.json", params={"api_key": city.key(city.org), **SPAN}, timeout=10)

    ids = {r["service_request_id"] for r in public}
    assert city.public_demand["id"] in ids and under_review not in ids
    assert under_review in {r["service_request_id"] for r in own.json()}
    assert all(r["service_code"] != city.item["id"] for r in public)


# -- updates ------------------------------------------------------------------------------------------
def test_the_updates_feed_has_one_update_per_event(city):
    request_id = city.filed()
    for trigger, by, body in (("accept", city.dept, None), ("transfer", city.dept, {"department_id": city.other_dept.id}),
                              ("resolve", city.other_dept, None)):
        city.api.act("service-requests", request_id, trigger, by, body)
    demand = city.api.demand(city.org, "open", needed=1)
    city.api.claim(demand, city.api.member())  # pending
    claim = city.api.claim(demand, city.api.member())
    city.api.act("claims", claim["id"], "confirm", city.org)  # fills the demand

    feed = requests.get(f"{city.root}/servicerequestupdates.xml", params={"api_key": city.key(city.org), **SPAN},
                        timeout=10)

    root = ElementTree.fromstring(feed.content)
    assert root.tag == "service_requests_updates"
    updates = [{child.tag: child.text for child in u} for u in root.findall("request_update")]
    assert {"update_id", "service_request_id", "status", "updated_datetime", "description",
            "external_status_code"} <= set(updates[0])
    of_request = [u["external_status_code"] for u in updates if u["service_request_id"] == request_id]
    assert of_request == ["filed", "accepted", "transferred", "resolved"]
    assert [u["status"] for u in updates if u["service_request_id"] == request_id][-1] == "closed"
    of_demand = [u["external_status_code"] for u in updates if u["service_request_id"] == demand["id"]]
    assert of_demand[:3] == ["posted", "submitted", "approved"]
    assert of_demand.count("claim_noted") >= 2 and "filled" in of_demand
    assert len({u["update_id"] for u in updates}) == len(updates)


# -- refusals -----------------------------------------------------------------------------------------
def _refusal(response: requests.Response, fmt: str) -> tuple[int, str]:
    if fmt == "json":
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        [error] = response.json()
        assert set(error) == {"code", "description"}
        return error["code"], error["description"]
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "errors" and [e.tag for e in root] == ["error"]
    return int(root.find("error/code").text), root.find("error/description").text


BAD = {
    "unknown service code": (404, lambda city, fmt: city.file(fmt, service_code="no-such-service")),
    "draft item": (404, lambda city, fmt: city.file(fmt, service_code=city.draft_item["id"])),
    "missing location": (400, lambda city, fmt: city.file(fmt, lat=None, long=None, address_string=None)),
    "half a point": (400, lambda city, fmt: city.file(fmt, long=None, address_string=None)),
    "long description": (400, lambda city, fmt: city.file(fmt, description="长" * 4001)),
    "missing subject": (400, lambda city, fmt: city.file(fmt, **{"attribute[subject]": None})),
    "demand without times": (400, lambda city, fmt: city.file(
        fmt, **city.demand_fields(**{"attribute[starts_at]": None}))),
    "demand ending before it starts": (400, lambda city, fmt: city.file(
        fmt, **city.demand_fields(**{"attribute[ends_at]": "2026-06-01T00:00:00+08:00"}))),
    "bad api_key": (403, lambda city, fmt: city.file(fmt, api_key="not-a-token")),
    "no api_key": (403, lambda city, fmt: city.file(fmt, api_key=None)),
    "a member's api_key": (403, lambda city, fmt: city.file(fmt, api_key=city.key(city.member))),
    "a 91-day span": (400, lambda city, fmt: requests.get(f"{city.root}/requests.{fmt}", params={
        "start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"}, timeout=10)),
    "a date without offset": (400, lambda city, fmt: requests.get(f"{city.root}/requests.{fmt}", params={
        "start_date": "2026-01-01T00:00:00"}, timeout=10)),
    "an unknown status": (400, lambda city, fmt: requests.get(f"{city.root}/requests.{fmt}", params={
        "status": "pending"}, timeout=10)),
    "a bad api_key on a read": (403, lambda city, fmt: requests.get(f"{city.root}/requests.{fmt}", params={
        "api_key": "not-a-token"}, timeout=10)),
    "an unknown id": (404, lambda city, fmt: requests.get(
        f"{city.root}/requests/00000000-0000-0000-0000-000000000000.{fmt}", timeout=10)),
    "an unknown definition": (404, lambda city, fmt: requests.get(f"{city.root}/services/nothing.{fmt}",
                                                                  timeout=10)),
    "a NUL in a form field": (400, lambda city, fmt: city.file(fmt, description="坏\x00字")),
    "a NUL in an id": (404, lambda city, fmt: requests.get(f"{city.root}/requests/a%00b.{fmt}", timeout=10)),
    "a NUL in a token": (404, lambda city, fmt: requests.get(f"{city.root}/tokens/%00.{fmt}", timeout=10)),
    "a NUL in a service code": (404, lambda city, fmt: requests.get(f"{city.root}/services/a%00.{fmt}", timeout=10)),
    "an unknown endpoint": (404, lambda city, fmt: requests.get(f"{city.root}/nothing.{fmt}", timeout=10)),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_the_spec_status_and_error_body_and_stores_nothing(city, case, fmt):
    status, send = BAD[case]
    before = city.api.event_count()

    response = send(city, fmt)

    assert response.status_code == status, response.text
    code, description = _refusal(response, fmt)
    assert code == status and description
    assert city.api.event_count() == before


def test_an_unknown_format_is_404_in_json(city):
    response = requests.get(f"{city.root}/services.csv", timeout=10)

    assert response.status_code == 404 and _refusal(response, "json")[0] == 404


def test_the_json_api_refuses_half_a_point_and_stores_nothing(city):
    before = city.api.event_count()

    response = city.api.post("/demands", city.api.demand_body(lat=26.07), city.org)

    assert response.status_code == 422 and city.api.event_count() == before


# -- who reads what (DESIGN §6), per Open311 GET route -----------------------------------------------------
# The façade is kept out of the OpenAPI document (docs/open311.md), so test_who_reads_what does not
# see it: this table does the same job here, and a new Open311 GET route fails until it is in it.
CALLERS = ("anonymous", "admin", "auditor", "applicant", "handling_dept", "other_dept", "other_org", "member")
EVERYONE = {who: 200 for who in CALLERS}
PARTIES = {who: 200 if who in ("admin", "auditor", "applicant", "handling_dept") else 404 for who in CALLERS}
READERS = {
    "/open311/v2/discovery.{fmt}": EVERYONE, "/open311/v2/services.{fmt}": EVERYONE,
    "/open311/v2/services/{code}.{fmt}": EVERYONE,
    "/open311/v2/requests.{fmt}": EVERYONE, "/open311/v2/servicerequestupdates.{fmt}": EVERYONE,  # filtered rows
    "/open311/v2/requests/{request_id}.{fmt}": PARTIES, "/open311/v2/tokens/{token}.{fmt}": PARTIES,
    "/open311/v2/{rest:path}": {who: 404 for who in CALLERS},
}


def test_every_open311_get_route_says_who_reads_it_and_none_is_in_the_openapi_document():
    from api.open311.router import router

    paths = sorted({r.path for r in router.routes if "GET" in r.methods})
    document = create_app().openapi()["paths"]

    assert paths == sorted(READERS)
    assert not [p for p in document if p.startswith("/open311")]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", READERS)
def test_each_open311_route_answers_each_caller_as_the_rules_say(city, route, caller):
    parties = {"admin": city.api.admin, "auditor": city.auditor,
               "applicant": city.org, "handling_dept": city.dept, "other_dept": city.other_dept,
               "other_org": city.other, "member": city.member}
    path = route.replace("{rest:path}", "nothing").format(fmt="json", code=city.item["id"], request_id=city.private,
                                                          token=city.private)
    params = {"api_key": city.key(parties[caller])} if caller in parties else {}

    response = requests.get(city.root.removesuffix("/open311/v2") + path, params=params, timeout=10)

    assert response.status_code == READERS[route][caller], response.text


def test_services_and_definitions_in_xml_have_the_spec_element_names(city):
    services = ElementTree.fromstring(requests.get(f"{city.root}/services.xml", timeout=10).content)
    definition = ElementTree.fromstring(requests.get(f"{city.root}/services/elderly-care.xml", timeout=10).content)

    assert services.tag == "services" and {s.tag for s in services} == {"service"}
    assert [c.tag for c in services[0]] == ["service_code", "service_name", "description", "metadata", "type",
                                            "keywords", "group"]
    assert definition.tag == "service_definition" and definition.find("service_code").text == "elderly-care"
    attribute = definition.find("attributes/attribute")
    assert [c.tag for c in attribute] == ["variable", "code", "datatype", "required", "datatype_description",
                                          "order", "description", "values"]
    assert attribute.find("variable").text == "true"


def test_the_updates_feed_pages_too(city):
    query = {"api_key": city.key(city.api.admin), "page_size": "2", **SPAN}

    first = requests.get(f"{city.root}/servicerequestupdates.json", params=query, timeout=10).json()
    second = requests.get(f"{city.root}/servicerequestupdates.json", params={**query, "page": "2"}, timeout=10).json()

    assert len(first) == 2 and second and not {u["update_id"] for u in first} & {u["update_id"] for u in second}


def test_control_characters_a_record_holds_still_make_well_formed_xml(city):
    request_id = city.filed(description="第一行\x0b第二行\x1f")

    found = requests.get(f"{city.root}/requests/{request_id}.xml", params={"api_key": city.key(city.org)}, timeout=10)

    assert ElementTree.fromstring(found.content).find("request/description").text == "第一行\ufffd第二行\ufffd"
