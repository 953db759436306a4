"""Read models on both backends: after every command the demand board, the claims of a demand,
members' service records and the stats reflect it at once; a rebuild from the event logs
yields identical rows."""
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from domain.city import CITY_TZ
from tests.support import Api, Party

TRACKED = ("organisations", "members", "demands_published", "claims", "service_hours")
# the comparison key of every read-model table we know; other tables are ordered by all columns
PRIMARY_KEYS = {
    "demand_board": "id", "claims": "id", "service_records": "claim_id", "stats": "metric, dimension, key",
    "stats_subjects": "id", "stats_grids": "id", "stats_entries": "dimension, key",
    "demand_board_counts": "dimension, key, status", "deadlines": "aggregate_id, kind", "deadline_subjects": "id",
    "tracking": "view, context",
    "audit_events": "context, position", "audit_chain": "context, position", "audit_checkpoints": "context, position",
}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def month(value: str) -> str:
    """The city's month: a Fuzhou dashboard counts months in Fuzhou's time."""
    return when(value).astimezone(CITY_TZ).strftime("%Y-%m")


def board(api: Api, by: Party | None = None, **filters) -> dict:
    return api.ok(api.get("/demands", by, **filters))


def board_ids(api: Api, by: Party | None = None, **filters) -> set[str]:
    body = board(api, by, page_size=100, **filters)
    assert body["total"] == len(body["items"]), body
    return {d["id"] for d in body["items"]}


class World:
    """What the test did, kept independently of the read models, to check them after each command."""

    def __init__(self, api: Api, checks: tuple[str, ...] = ("board", "claims", "service_records", "stats")):
        self.api, self.checks = api, checks
        self.demands: list[str] = []
        self.claims: dict[str, list[str]] = defaultdict(list)  # demand id -> claim ids
        self.members: list[Party] = []
        self.stats = {"": defaultdict(float), "grid": defaultdict(lambda: defaultdict(float)),
                      "category": defaultdict(lambda: defaultdict(float)),
                      "month": defaultdict(lambda: defaultdict(float))}

    # -- keeping the expected statistics --------------------------------------------------------
    def count(self, metric: str, amount: float, grid: str | None, category: str | None, at: str) -> None:
        self.stats[""][metric] += amount
        self.stats["month"][month(at)][metric] += amount
        if grid:
            self.stats["grid"][grid][metric] += amount
        if category:
            self.stats["category"][category][metric] += amount

    def org(self, grid: str | None = None) -> Party:
        api = self.api
        grid = grid or api.grid()
        body = api.ok(api.post("/organisations", {"name": "社区党委", "kind": "党组织", "grid_id": grid,
                                                  "district": "鼓楼区"}, api.admin), 201)
        self.count("organisations", 1, grid, None, body["created_at"])
        self.check()
        return api.token("org", body["id"])

    def member(self, org: Party, grid: str | None = None) -> Party:
        api = self.api
        grid = grid or api.grid()
        body = api.ok(api.post("/members", {"name": "党员", "organisation_id": org.id, "grid_id": grid,
                                            "flowing": False}, api.admin), 201)
        self.count("members", 1, grid, None, body["created_at"])
        party = api.token("member", body["id"])
        self.members.append(party)
        self.check()
        return party

    # -- commands, each followed by a full check of the read models --------------------------------
    def post(self, owner: Party, **overrides) -> dict:
        d = self.api.ok(self.api.post("/demands", self.api.demand_body(**overrides), owner), 201)
        self.demands.append(d["id"])
        self.check()
        return d

    def act(self, kind: str, record_id: str, trigger: str, by: Party, body: dict | None = None) -> dict:
        result = self.api.act(kind, record_id, trigger, by, body)
        if kind == "demands" and trigger == "approve":
            self.count("demands_published", 1, result["grid_id"], result["category"], result["updated_at"])
        if kind == "claims" and trigger == "verify":
            d = self.demand(result["demand_id"])
            self.count("service_hours", result["hours"], d["grid_id"], d["category"], result["updated_at"])
        self.check()
        return result

    def claim(self, demand_id: str, by: Party, headcount: int = 1) -> dict:
        self.api.clock.advance(milliseconds=1)  # events are dated by the clock: claims made one after another
        c = self.api.ok(self.api.post(f"/demands/{demand_id}/claims", {"headcount": headcount}, by), 201)
        self.claims[demand_id].append(c["id"])
        d = self.demand(demand_id)
        self.count("claims", headcount, d["grid_id"], d["category"], c["created_at"])
        self.check()
        return c

    def tick(self) -> int:
        fired = self.api.tick()
        self.check()
        return fired

    # -- the checks -----------------------------------------------------------------------------
    def demand(self, demand_id: str) -> dict:
        return self.api.ok(self.api.get(f"/demands/{demand_id}", self.api.admin))

    def check(self) -> None:
        for name in self.checks:
            getattr(self, f"check_{name}")()

    def check_board(self) -> None:
        rows = {d["id"]: d for d in board(self.api, self.api.admin, page_size=100)["items"]}
        assert set(rows) == set(self.demands)
        for demand_id in self.demands:
            d, row = self.demand(demand_id), rows[demand_id]
            for field in ("status", "version", "organisation_id", "title", "description", "category",
                          "grid_id",
                          "needed", "confirmed", "waitlisted", "auto_confirm", "reason", "rating", "feedback",
                          "allowed_actions"):
                assert row[field] == d[field], (field, row, d)
            for field in ("claim_deadline", "starts_at", "ends_at", "created_at", "updated_at"):
                assert when(row[field]) == when(d[field]), (field, row, d)

    def check_claims(self) -> None:
        for demand_id, claim_ids in self.claims.items():
            listed = self.api.ok(self.api.get(f"/demands/{demand_id}/claims", self.api.admin, page_size=100))
            assert listed["total"] == len(claim_ids)
            assert [c["id"] for c in listed["items"]] == claim_ids  # oldest first
            for row in listed["items"]:
                c = self.api.ok(self.api.get(f"/claims/{row['id']}", self.api.admin))
                for field in ("status", "version", "demand_id", "claimant_id", "claimant_role", "headcount",
                              "note",
                              "hours", "rating", "reason", "allowed_actions"):
                    assert row[field] == c[field], (field, row, c)
                for field in ("created_at", "updated_at"):
                    assert when(row[field]) == when(c[field]), (field, row, c)

    def check_service_records(self) -> None:
        claims = [self.api.ok(self.api.get(f"/claims/{cid}", self.api.admin))
                  for ids in self.claims.values() for cid in ids]
        for member in self.members:
            record = self.api.ok(self.api.get(f"/members/{member.id}/service-record", member))
            verified = [c for c in claims if c["claimant_role"] == "member" and c["claimant_id"] == member.id
                        and c["status"] == "verified"]
            assert record["member_id"] == member.id
            assert {i["claim_id"] for i in record["items"]} == {c["id"] for c in verified}
            by_id = {c["id"]: c for c in verified}
            for item in record["items"]:
                c = by_id[item["claim_id"]]
                assert item["demand_id"] == c["demand_id"]
                assert (item["hours"], item["rating"]) == (c["hours"], c["rating"])
                assert when(item["verified_at"]) == when(c["updated_at"])
            assert record["total_hours"] == pytest.approx(sum(c["hours"] for c in verified))

    def check_stats(self) -> None:
        stats = self.api.ok(self.api.get("/stats"))
        for metric in TRACKED:
            assert stats[metric] == pytest.approx(self.stats[""][metric]), (metric, stats)
        for dimension in ("grid", "category", "month"):
            got = {key: {m: round(v, 6) for m, v in figures.items() if m in TRACKED}
                   for key, figures in stats[f"by_{dimension}"].items()}
            wanted = {key: {m: round(v, 6) for m, v in figures.items() if v}
                      for key, figures in self.stats[dimension].items()}
            assert {k: v for k, v in got.items() if v} == {k: v for k, v in wanted.items() if v}, dimension


# -- after every command ----------------------------------------------------------------------------

def test_every_command_shows_at_once_on_the_board_the_claims_the_service_records_and_the_stats(api):
    world = World(api)
    owner = world.org()
    m1, m2, m3 = world.member(owner), world.member(owner), world.member(owner)

    d = world.post(owner, needed=2, title="社区助老志愿服务")
    world.act("demands", d["id"], "revise", owner, {"title": "周末社区助老志愿服务", "needed": 3})
    world.act("demands", d["id"], "submit", owner)
    world.act("demands", d["id"], "reject", api.admin, {"reason": "信息不全"})
    world.act("demands", d["id"], "revise", owner, {"needed": 2, "description": "陪伴独居老人"})
    world.act("demands", d["id"], "submit", owner)
    world.act("demands", d["id"], "approve", api.admin)

    c1 = world.claim(d["id"], m1)
    world.act("claims", c1["id"], "waitlist", owner)
    c2 = world.claim(d["id"], m2)
    world.act("claims", c2["id"], "confirm", owner)
    world.act("claims", c1["id"], "confirm", owner)  # filled
    world.act("claims", c2["id"], "cancel", m2, {"reason": "临时有事"})  # reopened
    c3 = world.claim(d["id"], m3)
    world.act("claims", c3["id"], "confirm", owner)  # filled again
    world.act("demands", d["id"], "start", owner)
    world.act("claims", c1["id"], "check_in", m1)
    world.act("claims", c3["id"], "check_in", owner)
    world.act("claims", c1["id"], "complete", m1, {"hours": 2.5})
    world.act("claims", c3["id"], "complete", owner, {"hours": 3})
    world.act("claims", c1["id"], "verify", owner, {"rating": 5})
    world.act("demands", d["id"], "fulfil", owner)
    world.act("claims", c3["id"], "verify", owner, {"rating": 4})
    world.act("demands", d["id"], "close", owner, {"rating": 4, "feedback": "组织有序"})

    assert world.demand(d["id"])["status"] == "closed"
    assert api.ok(api.get(f"/members/{m1.id}/service-record", m1))["total_hours"] == 2.5
    assert api.ok(api.get(f"/members/{m3.id}/service-record", m3))["total_hours"] == 3
    assert api.ok(api.get(f"/members/{m2.id}/service-record", m2)) == {"member_id": m2.id, "total_hours": 0,
                                                                         "items": []}
    stats = api.ok(api.get("/stats"))
    assert (stats["demands_published"], stats["claims"], stats["service_hours"]) == (1, 3, 5.5)


def test_the_board_shows_the_demands_status_while_claims_come_and_go(api):
    owner, member = api.org(), api.member()
    d = api.demand(owner, "open", needed=2)
    claim = api.claim(d, member)
    assert {r["id"]: r["status"] for r in board(api)["items"]} == {d["id"]: "open"}
    assert board_ids(api, status="open") == {d["id"]}
    api.act("claims", claim["id"], "confirm", owner)
    row = board(api)["items"][0]
    assert (row["status"], row["confirmed"]) == ("open", 1)


def test_approval_clears_the_rejection_reason_on_the_board_as_on_the_demand(api):
    owner = api.org()
    d = api.demand(owner, "rejected")
    assert board(api, owner)["items"][0]["reason"] == "信息不全"
    api.act("demands", d["id"], "submit", owner)
    approved = api.act("demands", d["id"], "approve", api.admin)
    assert approved["reason"] is None
    assert board(api, owner)["items"][0]["reason"] == approved["reason"]


def test_auto_confirmed_and_waitlisted_claims_count_on_the_board(api):
    world = World(api)
    owner = world.org()
    members = [world.member(owner) for _ in range(3)]
    d = world.post(owner, needed=3, auto_confirm=True)
    world.act("demands", d["id"], "submit", owner)
    world.act("demands", d["id"], "approve", api.admin)
    big = world.claim(d["id"], members[0], headcount=2)
    assert big["status"] == "confirmed"
    world.claim(d["id"], members[1], headcount=2)  # waitlisted: only one seat left
    small = world.claim(d["id"], members[2], headcount=1)  # fits: confirmed, demand filled
    assert small["status"] == "confirmed"
    world.act("claims", big["id"], "cancel", members[0], {"reason": "临时有事"})  # promotes the waitlisted pair
    row = board(api, api.admin)["items"][0]
    assert (row["confirmed"], row["waitlisted"]) == (3, 0)
    assert api.ok(api.get("/stats"))["claims"] == 5  # person-times


# -- the board: filters, paging, visibility ---------------------------------------------------------

@pytest.fixture
def city(api):
    """Demands in two grids and three categories, in several states."""
    grid1 = api.grid()
    grid2 = api.ok(api.post("/grids", {"code": "G-east", "name": "东街网格", "type": "商圈型", "district": "鼓楼区"},
                            api.admin), 201)["id"]
    owner1 = api.org()
    org2 = api.ok(api.post("/organisations", {"name": "东街商会", "kind": "社会组织", "grid_id": grid2,
                                              "district": "鼓楼区"}, api.admin), 201)["id"]
    owner2 = api.token("org", org2)
    d = {
        "elderly": api.demand(owner1, "open", title="社区助老志愿服务", category="助老服务", description="陪伴独居老人"),
        "river": api.demand(owner2, "open", title="河道清洁行动", category="环境整治", grid_id=grid2,
                            description="清理内河垃圾"),
        "tutoring": api.demand(owner2, "filled", title="四点半课堂", category="教育辅导", grid_id=grid2, needed=1),
        "draft": api.demand(owner1, "draft", title="助老理发草稿", category="助老服务"),
        "review": api.demand(owner2, "pending_review", title="河道巡查", category="环境整治", grid_id=grid2),
        "withdrawn": api.demand(owner1, "withdrawn", title="撤回的助老活动", category="助老服务"),
        "closed": api.demand(owner1, "closed", title="助老义诊", category="助老服务"),
    }
    ids = {k: v["id"] for k, v in d.items()}
    return {"grid1": grid1, "grid2": grid2, "owner1": owner1, "owner2": owner2, "ids": ids}


def test_board_filters_by_status_grid_category_and_text(api, city):
    ids, grid1, grid2 = city["ids"], city["grid1"], city["grid2"]
    public = {ids[k] for k in ("elderly", "river", "tutoring", "closed")}
    assert board_ids(api) == public
    assert board(api)["total"] == 4
    assert board_ids(api, status="open") == {ids["elderly"], ids["river"]}
    assert board_ids(api, status="filled") == {ids["tutoring"]}
    assert board_ids(api, status="closed") == {ids["closed"]}
    assert board_ids(api, status="draft") == set()
    assert board_ids(api, status="nonsense") == set()
    assert board_ids(api, grid=grid1) == {ids["elderly"], ids["closed"]}
    assert board_ids(api, grid=grid2) == {ids["river"], ids["tutoring"]}
    assert board_ids(api, category="助老服务") == {ids["elderly"], ids["closed"]}
    assert board_ids(api, category="环境整治") == {ids["river"]}
    assert board_ids(api, q="河道") == {ids["river"]}
    assert board_ids(api, q="独居") == {ids["elderly"]}  # the description is searched too
    assert board_ids(api, q="助老") == {ids["elderly"], ids["closed"]}
    assert board_ids(api, q="没有这样的需求") == set()
    assert board_ids(api, status="open", grid=grid2) == {ids["river"]}
    assert board_ids(api, status="open", category="助老服务", q="志愿") == {ids["elderly"]}
    assert board_ids(api, grid=grid2, category="助老服务") == set()
    for item in board(api, page_size=100)["items"]:
        assert item["allowed_actions"] == []  # anonymous callers may fire nothing


def test_board_visibility_drafts_only_to_owner_admin_and_auditor(api, city):
    ids, owner1, owner2 = city["ids"], city["owner1"], city["owner2"]
    public = {ids[k] for k in ("elderly", "river", "tutoring", "closed")}
    member, auditor = api.member(), api.auditor()
    assert board_ids(api) == public
    assert board_ids(api, member) == public
    assert board_ids(api, owner1) == public | {ids["draft"], ids["withdrawn"]}
    assert board_ids(api, owner2) == public | {ids["review"]}
    everything = set(ids.values())
    assert board_ids(api, api.admin) == everything
    assert board_ids(api, auditor) == everything
    assert board_ids(api, owner2, status="draft") == set()
    assert board_ids(api, owner1, status="draft") == {ids["draft"]}
    elderly_care = {ids[k] for k in ("elderly", "draft", "withdrawn", "closed")}
    assert board_ids(api, auditor, category="助老服务") == elderly_care
    # reading one: the same rule
    for caller in (None, member, owner2):
        assert api.get(f"/demands/{ids['draft']}", caller).status_code == 404
    for caller in (owner1, api.admin, auditor):
        assert api.ok(api.get(f"/demands/{ids['draft']}", caller))["status"] == "draft"
    assert api.get(f"/demands/{ids['review']}", owner1).status_code == 404
    assert api.ok(api.get(f"/demands/{ids['review']}", owner2))["status"] == "pending_review"
    # the owner's allowed actions on the board are its own
    draft_row = next(r for r in board(api, owner1, status="draft")["items"])
    assert set(draft_row["allowed_actions"]) == {"revise", "submit", "withdraw"}


def test_board_paging_and_totals(api):
    owner = api.org()
    ids = [api.demand(owner, "open", title=f"需求{i}")["id"] for i in range(5)]
    api.demand(owner, "draft")
    first = board(api, page=1, page_size=2)
    assert (first["total"], first["page"], first["page_size"], len(first["items"])) == (5, 1, 2, 2)
    second, third = board(api, page=2, page_size=2), board(api, page=3, page_size=2)
    assert (second["total"], len(second["items"]), third["total"], len(third["items"])) == (5, 2, 5, 1)
    seen = [d["id"] for page in (first, second, third) for d in page["items"]]
    assert sorted(seen) == sorted(ids)
    beyond = board(api, page=4, page_size=2)
    assert (beyond["total"], beyond["items"]) == (5, [])
    assert board(api, owner, page_size=100)["total"] == 6
    assert board(api)["page_size"] == 20  # the default
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 101}, {"page": "x"}):
        response = api.get("/demands", None, **bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


def test_claims_of_a_demand(api):
    owner, m1, m2 = api.org(), api.member(), api.member()
    claiming_org = api.org()
    d = api.demand(owner, "open", needed=3)
    c1 = api.claim(d, m1)
    c2 = api.claim(d, m2, headcount=2)
    c3 = api.claim(d, claiming_org)
    api.act("claims", c2["id"], "confirm", owner)
    api.act("claims", c3["id"], "decline", owner, {"reason": "人数已够"})

    listed = api.ok(api.get(f"/demands/{d['id']}/claims", owner))
    assert listed["total"] == 3
    assert [c["id"] for c in listed["items"]] == [c1["id"], c2["id"], c3["id"]]
    rows = {c["id"]: c for c in listed["items"]}
    assert (rows[c1["id"]]["status"], rows[c1["id"]]["claimant_role"], rows[c1["id"]]["headcount"]) == (
        "pending", "member", 1)
    assert (rows[c2["id"]]["status"], rows[c2["id"]]["headcount"]) == ("confirmed", 2)
    assert (rows[c3["id"]]["status"], rows[c3["id"]]["claimant_role"], rows[c3["id"]]["reason"]) == (
        "declined", "org", "人数已够")
    assert set(rows[c1["id"]]["allowed_actions"]) == {"confirm", "waitlist", "decline", "cancel"}
    assert "owner_id" not in rows[c1["id"]]
    # the claimant sees its own actions
    as_m1 = api.ok(api.get(f"/demands/{d['id']}/claims", m1))  # and no one else's (DESIGN §6)
    assert (as_m1["total"], [(c["id"], c["allowed_actions"]) for c in as_m1["items"]]) == (1, [(c1["id"], ["cancel"])])
    # paging
    page = api.ok(api.get(f"/demands/{d['id']}/claims", owner, page=2, page_size=2))
    assert (page["total"], [c["id"] for c in page["items"]]) == (3, [c3["id"]])
    # another demand's claims are not listed here
    other = api.demand(owner, "open")
    api.claim(other, m1)
    assert api.ok(api.get(f"/demands/{d['id']}/claims", owner))["total"] == 3
    assert api.ok(api.get(f"/demands/{other['id']}/claims", owner))["total"] == 1
    # a draft's claims list is as hidden as the draft
    draft = api.demand(owner, "draft")
    assert api.get(f"/demands/{draft['id']}/claims", m1).status_code == 404


def test_a_members_service_record_counts_verified_hours_only(api):
    owner, member, other = api.org(), api.member(), api.member()
    claiming_org = api.org()

    def served(hours: float, verify: bool, by: Party = member) -> dict:
        d = api.demand(owner, "open", needed=3)
        c = api.claim(d, by)
        api.act("claims", c["id"], "confirm", owner)
        api.act("demands", d["id"], "start", owner)
        api.act("claims", c["id"], "check_in", by)
        api.act("claims", c["id"], "complete", by if by.role == "member" else owner, {"hours": hours})
        if verify:
            api.act("claims", c["id"], "verify", owner, {"rating": 4})
        return api.ok(api.get(f"/claims/{c['id']}", owner))

    empty = api.ok(api.get(f"/members/{member.id}/service-record", member))
    assert empty == {"member_id": member.id, "total_hours": 0, "items": []}
    first = served(2.5, verify=True)
    record = api.ok(api.get(f"/members/{member.id}/service-record", member))
    assert record["total_hours"] == 2.5
    assert [(i["claim_id"], i["demand_id"], i["hours"], i["rating"]) for i in record["items"]] == [
        (first["id"], first["demand_id"], 2.5, 4)]
    served(4, verify=False)  # completed, not yet verified: not counted
    assert api.ok(api.get(f"/members/{member.id}/service-record", member))["total_hours"] == 2.5
    second = served(1.5, verify=True)
    served(6, verify=True, by=other)
    served(5, verify=True, by=claiming_org)
    assert api.get(f"/members/{member.id}/service-record", owner).status_code == 404  # not the member's organisation
    record = api.ok(api.get(f"/members/{member.id}/service-record", api.admin))
    assert record["total_hours"] == 4
    assert [i["claim_id"] for i in record["items"]] == [first["id"], second["id"]]
    assert api.ok(api.get(f"/members/{other.id}/service-record", other))["total_hours"] == 6
    assert api.ok(api.get("/stats"))["service_hours"] == 2.5 + 1.5 + 6 + 5


def test_stats_totals_and_breakdowns_after_each_step(api):
    world = World(api, checks=("stats", "service_records"))
    grid2 = api.ok(api.post("/grids", {"code": "G-west", "name": "西湖网格", "type": "小区型", "district": "鼓楼区"},
                            api.admin), 201)["id"]
    world.check()
    owner = world.org()
    east_owner = world.org(grid2)
    m1, m2 = world.member(owner), world.member(east_owner, grid2)

    help_old = world.post(owner, category="助老服务", needed=2)
    world.act("demands", help_old["id"], "submit", owner)
    world.act("demands", help_old["id"], "approve", api.admin)
    river = world.post(east_owner, category="环境整治", grid_id=grid2, needed=5)
    world.act("demands", river["id"], "submit", east_owner)
    world.act("demands", river["id"], "reject", api.admin, {"reason": "信息不全"})  # not published
    world.act("demands", river["id"], "submit", east_owner)
    world.act("demands", river["id"], "approve", api.admin)

    a = world.claim(help_old["id"], m1)
    b = world.claim(river["id"], m2, headcount=3)
    world.claim(river["id"], owner, headcount=2)
    world.act("claims", b["id"], "cancel", m2, {"reason": "临时有事"})  # a claim made still counts
    world.act("claims", a["id"], "confirm", owner)
    world.act("demands", help_old["id"], "start", owner)
    world.act("claims", a["id"], "check_in", m1)
    world.act("claims", a["id"], "complete", m1, {"hours": 1.75})
    world.act("claims", a["id"], "verify", owner, {"rating": 5})

    stats = api.ok(api.get("/stats"))
    assert {m: stats[m] for m in TRACKED} == {"organisations": 2, "members": 2, "demands_published": 2,
                                               "claims": 6, "service_hours": 1.75}
    assert stats["by_category"]["助老服务"] == {"demands_published": 1, "claims": 1, "service_hours": 1.75}
    assert stats["by_category"]["环境整治"] == {"demands_published": 1, "claims": 5}
    assert stats["by_grid"][grid2] == {"name": "西湖网格", "district": "鼓楼区", "type": "小区型",
                                       "organisations": 1, "members": 1, "demands_published": 1, "claims": 5}
    assert stats["by_district"] == {"鼓楼区": {"organisations": 2, "members": 2, "demands_published": 2, "claims": 6,
                                              "service_hours": 1.75}}
    assert stats["by_grid_type"] == {"小区型": {"organisations": 1, "members": 1, "demands_published": 1, "claims": 5},
                                     "街区型": {"organisations": 1, "members": 1, "demands_published": 1, "claims": 1,
                                              "service_hours": 1.75}}


# -- rebuild ------------------------------------------------------------------------------------------

def snapshot(api: Api) -> dict[str, list[dict]]:
    """Every read-model table's rows, in primary-key order, plus the tracking table."""
    tables = [t for view in api.system.projector.views for t in view.tables] + ["tracking"]
    assert len(tables) == len(set(tables))
    found = {}
    for table in tables:
        key = PRIMARY_KEYS.get(table)
        if key:
            found[table] = api.system.db.rows(f"SELECT * FROM {table} ORDER BY {key}")
            if table == "audit_events":  # seq numbers rows in apply order; a rebuild renumbers (docs/audit.md)
                found[table] = [{k: v for k, v in r.items() if k != "seq"} for r in found[table]]
        else:
            rows = api.system.db.rows(f"SELECT * FROM {table}")
            found[table] = sorted(rows, key=lambda r: repr(sorted(r.items())))
    return found


def varied_history(api: Api) -> None:
    grid2 = api.ok(api.post("/grids", {"code": "G-north", "name": "北门网格", "type": "单元型", "district": "鼓楼区"},
                            api.admin), 201)["id"]
    owner, owner2 = api.org(), api.org()
    members = [api.member(org=owner) for _ in range(6)]
    claiming_org = api.org()

    api.demand(owner, "draft", title="草稿")
    api.demand(owner, "pending_review", title="待审")
    api.demand(owner2, "rejected", title="被驳回", grid_id=grid2)
    closed = api.demand(owner, "closed", title="已关闭", category="环境整治")
    assert closed["rating"] == 5

    # one demand with claims in many states
    d = api.demand(owner, "open", needed=4, title="多人认领", category="文明实践")
    cs = [api.claim(d, m) for m in members[:5]]
    cs.append(api.claim(d, claiming_org, headcount=2))
    api.act("claims", cs[0]["id"], "confirm", owner)
    api.act("claims", cs[1]["id"], "confirm", owner)
    api.act("claims", cs[2]["id"], "waitlist", owner)
    api.act("claims", cs[3]["id"], "decline", owner)
    api.act("claims", cs[4]["id"], "cancel", members[4])
    api.act("claims", cs[5]["id"], "confirm", owner)  # filled: 4 of 4
    api.act("claims", cs[1]["id"], "cancel", members[1])  # reopened; the waitlisted one is promoted -> filled
    api.act("demands", d["id"], "start", owner)
    api.act("claims", cs[0]["id"], "check_in", members[0])
    api.act("claims", cs[0]["id"], "complete", members[0], {"hours": 3.5})
    api.act("claims", cs[0]["id"], "verify", owner, {"rating": 4})
    api.act("claims", cs[2]["id"], "check_in", owner)
    api.act("claims", cs[2]["id"], "complete", owner, {"hours": 2})
    # cs[5] stays confirmed: marked no-show by the timer below

    # a withdrawal cascading to its claims
    w = api.demand(owner2, "open", grid_id=grid2, title="要撤回的", auto_confirm=True)
    api.claim(w, members[5])
    api.claim(w, members[1], headcount=2)
    api.act("demands", w["id"], "withdraw", owner2, {"reason": "活动取消"})

    # an open demand with a pending claim that expires, and one that will not (a confirmed claim)
    expiring = api.demand(owner, "open", title="会过期的")
    api.claim(expiring, members[3])
    kept = api.demand(owner2, "open", title="有人确认的", needed=3)
    kept_claim = api.claim(kept, members[5])
    api.act("claims", kept_claim["id"], "confirm", owner2)
    api.claim(kept, members[0])

    api.clock.set(datetime.fromisoformat(expiring["claim_deadline"]) + timedelta(minutes=1))
    assert api.tick() >= 1
    assert api.ok(api.get(f"/demands/{expiring['id']}", api.admin))["status"] == "expired"
    assert api.ok(api.get(f"/demands/{kept['id']}", api.admin))["status"] == "open"
    api.clock.set(datetime.fromisoformat(d["starts_at"]) + timedelta(minutes=16))
    assert api.tick() >= 1
    assert api.ok(api.get(f"/claims/{cs[5]['id']}", owner))["status"] == "no_show"
    api.act("demands", d["id"], "fulfil", owner)
    api.act("claims", cs[2]["id"], "verify", owner, {"rating": 3})


def test_rebuilding_the_read_models_from_the_event_logs_yields_identical_rows(api):
    varied_history(api)
    before = snapshot(api)
    assert before["demand_board"] and before["claims"] and before["service_records"] and before["stats"]
    responses = [api.ok(api.get("/demands", api.admin, page_size=100)), api.ok(api.get("/stats"))]

    api.system.projector.rebuild()

    after = snapshot(api)
    assert set(after) == set(before)
    differing = [t for t in before if before[t] != after[t]]
    assert not differing, {t: {"before": before[t], "after": after[t]} for t in differing}
    assert [api.ok(api.get("/demands", api.admin, page_size=100)), api.ok(api.get("/stats"))] == responses


def test_rebuilding_one_view_alone_yields_identical_rows(api):
    varied_history(api)
    before = snapshot(api)
    differing = {}
    for view in api.system.projector.views:
        api.system.projector.rebuild([view])
        after = snapshot(api)
        for table in view.tables:
            if after[table] != before[table]:
                differing[f"{view.name}.{table}"] = {"before": before[table], "after": after[table]}
        tracked = [[r for r in rows if r["view"] == view.name]
                   for rows in (before["tracking"], after["tracking"])]
        if tracked[0] != tracked[1]:
            differing[f"{view.name}.tracking"] = {"before": tracked[0], "after": tracked[1]}
    assert not differing, (sorted(differing), differing)


def test_a_deadline_the_timer_found_moot_does_not_come_back_on_rebuild(api):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open", needed=2)
    claim = api.claim(demand, member)
    api.act("claims", claim["id"], "confirm", owner)  # a confirmed claim: this demand cannot expire
    api.clock.set(datetime.fromisoformat(demand["claim_deadline"]) + timedelta(minutes=1))
    assert api.tick() == 0
    assert api.ok(api.get(f"/demands/{demand['id']}"))["status"] == "open"
    before = snapshot(api)

    api.system.projector.rebuild()

    after = snapshot(api)
    assert after["deadlines"] == before["deadlines"]


def test_rebuilding_keeps_serving_and_new_commands_project_after_it(api):
    owner, member = api.org(), api.member()
    d = api.demand(owner, "open", needed=1)
    api.system.projector.rebuild()
    c = api.claim(d, member)
    api.act("claims", c["id"], "confirm", owner)
    row = board(api)["items"][0]
    assert (row["id"], row["confirmed"]) == (d["id"], 1)
    assert api.ok(api.get("/stats"))["claims"] == 1
    heads, positions = api.system.projector.heads(), api.system.projector.positions()
    assert all(p == heads for p in positions.values())
