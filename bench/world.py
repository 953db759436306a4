"""The worlds the HTTP loads run in, prepared through the applications (batched) before the
server starts: for the command mix, organisations, members and tokens per client, open demands,
demands in progress with confirmed claims, venues, and a published policy item; for the claim
shapes, a pool of distinct claimants and the auto-confirm demands of each shape."""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from api.wiring import Linli
from domain.actors import Actor, Role
from domain.city import CITY_TZ
from workflows.engine import Meta

ADMIN = Actor("admin", Role.ADMIN)


@dataclass
class ClientWorld:
    member_tokens: list[str]
    applicant_token: str
    manual_demands: list[str]
    auto_demands: list[str]
    prepared_claims: list[str]
    free_venue: str
    approval_venue: str


@dataclass
class World:
    owner_token: str
    dept_token: str
    dept_id: str
    item_id: str
    grid_id: str
    member_id: str
    venue_id: str
    audit_target: str
    clients: list[ClientWorld]


def prepare(system: Linli, clients: int, members_per_client: int = 40, demands_per_client: int = 30,
            demands_in_progress: int = 8) -> World:
    now = system.clock.now()
    reg, dem, ven, svc = system.registry, system.demands, system.venues, system.services
    with reg.engine.batch():
        grid = str(reg.register(Meta(ADMIN), "grid", uuid4(), code="B1", name="压测网格", type="街区型",
                                district="鼓楼区").value.id)
        owner = str(reg.register(Meta(ADMIN), "organisation", uuid4(), name="压测党委", kind="党组织", grid_id=grid,
                                 district="鼓楼区").value.id)
        dept = str(reg.register(Meta(ADMIN), "department", uuid4(), code="BD", name="市人社局").value.id)
        applicants = [str(reg.register(Meta(ADMIN), "organisation", uuid4(), name=f"企业{i}", kind="非公企业",
                                       grid_id=grid, district="鼓楼区").value.id) for i in range(clients)]
        members = [[str(reg.register(Meta(ADMIN), "member", uuid4(), name=f"党员{i}-{k}", organisation_id=owner,
                                     grid_id=grid, flowing=False).value.id) for k in range(members_per_client)]
                   for i in range(clients)]
    org = Actor(owner, Role.ORG)
    details = {"description": "压测", "category": "助老服务", "grid_id": grid, "claim_deadline": now + timedelta(days=300),
               "starts_at": now + timedelta(days=301), "ends_at": now + timedelta(days=301, hours=3)}

    def demand(needed: int, auto: bool) -> str:
        d = dem.post_demand(Meta(org), uuid4(), owner, title="压测需求", needed=needed, auto_confirm=auto, **details)
        dem.act_on_demand(Meta(org), d.value.id, "submit")
        dem.act_on_demand(Meta(ADMIN), d.value.id, "approve")
        return str(d.value.id)

    worlds = []
    with dem.engine.batch():
        for i in range(clients):
            manual = [demand(10_000, False) for _ in range(demands_per_client)]
            auto = [demand(10_000, True) for _ in range(demands_per_client)]
            claims = []  # confirmed claims on demands in progress, for check-in, completion, verification
            for _ in range(demands_in_progress):
                in_progress = demand(10_000, True)
                claims += [str(dem.make_claim(Meta(Actor(m, Role.MEMBER)), uuid4(), in_progress).value.id)
                           for m in members[i]]
                dem.act_on_demand(Meta(org), in_progress, "start")
            worlds.append((manual, auto, claims))
    with ven.engine.batch():
        venue_ids = []
        for _ in range(clients):
            pair = []
            for approval in (False, True):
                pair.append(str(ven.share_venue(
                    Meta(org), uuid4(), owner, name="压测活动室", address="鼓楼区", grid_id=grid, capacity=100,
                    opens_at="08:00", closes_at="21:00", requires_approval=approval, min_notice_hours=0,
                    max_advance_days=365, cancel_lock_hours=0, blackouts=[]).value.id))
            venue_ids.append(pair)
    dept_actor = Actor(dept, Role.DEPT)
    item = svc.draft_item(Meta(dept_actor), uuid4(), {
        "title": "稳岗返还", "category": "奖补类", "mode": "依申请", "basis": "", "eligibility": "", "materials": "",
        "promised_days": 5, "valid_from": None, "valid_to": None, "department_id": dept, "co_department_ids": []}).value
    svc.act_on_item(Meta(dept_actor), item.id, "submit")
    svc.act_on_item(Meta(ADMIN), item.id, "publish")
    tokens = system.tokens
    clients_worlds = [
        ClientWorld(member_tokens=[tokens.create(Role.MEMBER, m, "bench") for m in members[i]],
                    applicant_token=tokens.create(Role.ORG, applicants[i], "bench"), manual_demands=manual,
                    auto_demands=auto, prepared_claims=claims, free_venue=venue_ids[i][0],
                    approval_venue=venue_ids[i][1])
        for i, (manual, auto, claims) in enumerate(worlds)]
    return World(owner_token=tokens.create(Role.ORG, owner, "bench"), dept_token=tokens.create(Role.DEPT, dept, "bench"),
                 dept_id=dept,
                 item_id=str(item.id), grid_id=grid, member_id=members[0][0], venue_id=venue_ids[0][0],
                 audit_target=worlds[0][0][0], clients=clients_worlds)


def slots(now: datetime, count: int) -> list[tuple[str, str]]:
    """Consecutive one-hour slots, 08:00–21:00 local, from tomorrow on (13 a day): an episode books
    its own slot on its own venues, so bookings never collide."""
    day = now.astimezone(CITY_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = [day + timedelta(days=1 + k // 13, hours=8 + k % 13) for k in range(count)]
    return [(s.isoformat(), (s + timedelta(hours=1)).isoformat()) for s in starts]


@dataclass
class ClaimWorld:
    """Claimants enough for a whole run, and the auto-confirm demands each shape claims."""

    tokens: list[str]
    private: list[str]  # split between the load's lanes: each lane (connection) its own demands
    spread: list[str]  # shared by every lane, round-robin
    hot: str  # every claim, with `needed` below the number of claims
    hot_needed: int


def prepare_claims(system: Linli, claimants: int, private: int, spread: int, hot_needed: int) -> ClaimWorld:
    now = system.clock.now()
    reg, dem = system.registry, system.demands
    with reg.engine.batch():
        grid = str(reg.register(Meta(ADMIN), "grid", uuid4(), code="B2", name="抢单网格", type="街区型",
                                district="鼓楼区").value.id)
        owner = str(reg.register(Meta(ADMIN), "organisation", uuid4(), name="抢单党委", kind="党组织", grid_id=grid,
                                 district="鼓楼区").value.id)
        members = [str(reg.register(Meta(ADMIN), "member", uuid4(), name=f"抢单党员{k}", organisation_id=owner,
                                    grid_id=grid, flowing=False).value.id) for k in range(claimants)]
    org = Actor(owner, Role.ORG)

    def demand(needed: int) -> str:
        d = dem.post_demand(Meta(org), uuid4(), owner, title="抢单需求", needed=needed, auto_confirm=True,
                            description="压测", category="助老服务", grid_id=grid,
                            claim_deadline=now + timedelta(days=300), starts_at=now + timedelta(days=301),
                            ends_at=now + timedelta(days=301, hours=3))
        dem.act_on_demand(Meta(org), d.value.id, "submit")
        dem.act_on_demand(Meta(ADMIN), d.value.id, "approve")
        return str(d.value.id)

    with dem.engine.batch():
        demands = [demand(10_000) for _ in range(private + spread)]
        hot = demand(hot_needed)
    with ThreadPoolExecutor(system.settings.pool_size) as pool:  # one commit per token: in parallel
        tokens = list(pool.map(lambda m: system.tokens.create(Role.MEMBER, m, "bench"), members))
    return ClaimWorld(tokens=tokens, private=demands[:private], spread=demands[private:], hot=hot, hot_needed=hot_needed)
