"""Generates a city through the same applications live commands use (no hand-written rows).

Deterministic under a seed. Counts scale SCALE.md's Fuzhou figures by a fraction; every
demand gets a lifecycle mix (most published, some fulfilled and closed) and claims across
them (confirmed, waitlisted, cancelled, completed and verified).
"""
import random
from collections.abc import Callable
from datetime import timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from api.wiring import Linli
from domain.actors import Actor, Role
from domain.claim import Claim
from domain.errors import DomainError
from domain.registry import GRID_TYPES, ORGANISATION_KINDS
from workflows.engine import Meta

FUZHOU = {"grids": 2_000, "organisations": 16_000, "members": 220_000, "demands": 20_006, "claims": 113_195}
DISTRICTS = ("鼓楼区", "台江区", "仓山区", "晋安区", "马尾区", "长乐区", "福清市", "闽侯县", "连江县", "罗源县",
             "闽清县", "永泰县", "平潭县")
CATEGORIES = ("助老服务", "环境整治", "文明宣传", "法律咨询", "就业帮扶", "医疗义诊", "儿童关爱", "文体活动")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑"
ADMIN = Actor("admin", Role.ADMIN)


def counts(scale: float) -> dict[str, int]:
    return {name: max(1, round(n * scale)) for name, n in FUZHOU.items()}


class Seeder:
    def __init__(self, system: Linli, scale: float, seed: int = 7):
        self.system, self.counts, self.rng = system, counts(scale), random.Random(seed)
        self.seed = seed
        self.grids: list[str] = []
        self.organisations: list[str] = []
        self.members: list[str] = []

    def _id(self, kind: str, n: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"linli-seed:{self.seed}:{kind}:{n}")

    def stages(self) -> list[tuple[str, int, Callable[[int], None]]]:
        c = self.counts
        return [("网格 grids", c["grids"], self.grid), ("组织 organisations", c["organisations"], self.organisation),
                ("党员 members", c["members"], self.member), ("需求 demands and claims", c["demands"], self.demand)]

    def grid(self, n: int) -> None:
        district = DISTRICTS[n % len(DISTRICTS)]
        outcome = self.system.registry.register(Meta(ADMIN), "grid", self._id("grid", n), code=f"FZ{n:05d}",
                                                name=f"{district}第{n + 1}网格", type=GRID_TYPES[n % 5],
                                                district=district)
        self.grids.append(str(outcome.value.id))

    def organisation(self, n: int) -> None:
        grid = self.rng.choice(self.grids)
        outcome = self.system.registry.register(Meta(ADMIN), "organisation", self._id("org", n),
                                                name=f"福州{n + 1}号党组织", kind=ORGANISATION_KINDS[n % 5],
                                                grid_id=grid, district=DISTRICTS[n % len(DISTRICTS)])
        self.organisations.append(str(outcome.value.id))

    def member(self, n: int) -> None:
        outcome = self.system.registry.register(
            Meta(ADMIN), "member", self._id("member", n), name=f"{self.rng.choice(SURNAMES)}同志{n + 1}",
            organisation_id=self.rng.choice(self.organisations), grid_id=self.rng.choice(self.grids),
            flowing=self.rng.random() < 0.1)
        self.members.append(str(outcome.value.id))

    def demand(self, n: int) -> None:
        """One demand through its lifecycle, with its share of the city's claims."""
        rng, demands = self.rng, self.system.demands
        owner = Actor(rng.choice(self.organisations), Role.ORG)
        now = demands.clock.now()
        starts = now + timedelta(days=rng.randint(3, 60), hours=rng.randint(8, 18))
        needed = rng.randint(1, 20)
        demand = demands.post_demand(
            Meta(owner), self._id("demand", n), owner.id, title=f"{rng.choice(CATEGORIES)}志愿活动{n + 1}",
            description="社区发布的志愿服务需求", category=rng.choice(CATEGORIES), grid_id=rng.choice(self.grids),
            needed=needed, claim_deadline=starts - timedelta(days=1), starts_at=starts,
            ends_at=starts + timedelta(hours=rng.randint(1, 4)), auto_confirm=rng.random() < 0.5).value
        demands.act_on_demand(Meta(owner), demand.id, "submit")
        if rng.random() < 0.05:
            return  # still under review
        demands.act_on_demand(Meta(ADMIN), demand.id, "approve")
        claims = self._claims(n, demand.id, owner, needed)
        if claims and rng.random() < 0.3:
            self._serve(demand.id, owner, claims)

    def _claims(self, n: int, demand_id: UUID, owner: Actor, needed: int) -> list[UUID]:
        """About claims/demands claims per demand; the owner confirms what fits, cancels a few."""
        per_demand = self.counts["claims"] / self.counts["demands"]
        confirmed = []
        for k in range(max(0, round(self.rng.gauss(per_demand, 2)))):
            member = Actor(self.rng.choice(self.members), Role.MEMBER)
            try:
                claim = self.system.demands.make_claim(Meta(member), self._id(f"claim:{n}", k), demand_id).value
                if claim.status == "pending":
                    self.system.demands.act_on_claim(Meta(owner), claim.id, "confirm")
                if self.rng.random() < 0.05:
                    self.system.demands.act_on_claim(Meta(member), claim.id, "cancel")
                    continue
                confirmed.append(claim.id)
            except DomainError:
                continue  # full, or this member already claimed: a real city has those too
        return confirmed

    def _serve(self, demand_id: UUID, owner: Actor, claims: list[UUID]) -> None:
        demands = self.system.demands
        demands.act_on_demand(Meta(owner), demand_id, "start")
        for claim_id in claims:
            if demands.get(claim_id, Claim).status != "confirmed":
                continue
            demands.act_on_claim(Meta(owner), claim_id, "check_in")
            demands.act_on_claim(Meta(owner), claim_id, "complete", hours=float(self.rng.randint(1, 4)))
            demands.act_on_claim(Meta(owner), claim_id, "verify", rating=self.rng.randint(3, 5))
        demands.act_on_demand(Meta(owner), demand_id, "fulfil")
        if self.rng.random() < 0.7:
            demands.act_on_demand(Meta(owner), demand_id, "close", rating=self.rng.randint(3, 5))
