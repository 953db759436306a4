"""Generates a city through the same applications live commands use (no hand-written rows).

Deterministic under a seed. Counts scale SCALE.md's Fuzhou figures by a fraction; every
demand gets a lifecycle mix (most published, some fulfilled and closed) and claims across
them (confirmed, waitlisted, cancelled, completed and verified).
"""
import random
from collections.abc import Callable
from datetime import timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application

from api.wiring import Linli
from domain.actors import Actor, Role
from domain.city import CITY_TZ
from domain.claim import Claim
from domain.errors import DomainError, DuplicateClaimError
from domain.registry import GRID_TYPES, ORGANISATION_KINDS
from workflows.engine import Meta

FUZHOU = {"grids": 2_000, "organisations": 16_000, "members": 220_000, "demands": 20_006, "claims": 113_195,
          "venues": 7_204, "services": 4_183, "requests": 3_000}
DEPARTMENTS = ("市委组织部", "市发改委", "市工信局", "市财政局", "市人社局", "市商务局", "市市场监管局", "市税务局",
               "市科技局", "市住建局", "市自然资源局", "市生态环境局", "市交通运输局", "市金融办", "市数据管理局",
               "市司法局", "市卫健委", "市文旅局", "市工商联")
POLICY_ITEMS = 51
POLICIES = ("稳岗返还", "社保补贴", "研发费用加计扣除", "小微企业贷款贴息", "首次上规奖励", "专精特新奖补", "人才公寓申请",
            "创业担保贷款", "出口信用保险补贴", "技术改造补助")
SERVICE_KINDS = ("法律咨询", "财税辅导", "党建指导", "人才招聘", "知识产权", "员工培训", "心理疏导")
ITEM_CATEGORIES = ("减免类", "奖补类", "权益类", "资质类", "咨询类", "其他")
MODES = ("免申即享", "快申快享", "依申请")
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
        self.departments: list[str] = []
        self.items: list[UUID] = []

    def run(self, started: Callable[[str, int], Callable[[], None]] | None = None) -> None:
        """The whole city through the applications, each stage in batches, then the read models.
        `started(label, total)` is told of each stage and returns what to call after each item."""
        for label, total, make, app in self.stages():
            advance = started(label, total) if started else None
            with app.engine.batch(into_empty_store=True):
                for n in range(total):
                    make(n)
                    if advance:
                        advance()

    def _id(self, kind: str, n: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"linli-seed:{self.seed}:{kind}:{n}")

    def stages(self) -> list[tuple[str, int, Callable[[int], None], Application]]:
        """(label, count, make one, the application whose engine batches the stage's saves)."""
        c, s = self.counts, self.system
        return [("网格 grids", c["grids"], self.grid, s.registry),
                ("组织 organisations", c["organisations"], self.organisation, s.registry),
                ("党员 members", c["members"], self.member, s.registry),
                ("需求 demands and claims", c["demands"], self.demand, s.demands),
                ("场地 venues and bookings", c["venues"], self.venue, s.venues),
                ("部门 departments", len(DEPARTMENTS), self.department, s.registry),
                ("惠企政策 policy items", POLICY_ITEMS, self.policy_item, s.services),
                ("服务共享 shared services", c["services"], self.shared_service, s.services),
                ("企业诉求 service requests", c["requests"], self.service_request, s.services)]

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
        demands.act_on_demand(Meta(ADMIN), demand.id, "approve")  # SCALE.md counts published demands
        claims = self._claims(n, demand.id, owner, needed)
        if claims and rng.random() < 0.3:
            self._serve(demand.id, owner, claims)

    def _claims(self, n: int, demand_id: UUID, owner: Actor, needed: int) -> list[Claim]:
        """The city's claims spread evenly (so the total is exactly SCALE.md's); the owner confirms
        what fits, and a few are cancelled."""
        demands, claims = self.counts["demands"], self.counts["claims"]
        confirmed = []
        for k in range(claims // demands + (1 if n < claims % demands else 0)):
            member, claim = self._claim(self._id(f"claim:{n}", k), demand_id)
            try:
                if claim.status == "pending":
                    self.system.demands.act_on_claim(Meta(owner), claim.id, "confirm")
                if self.rng.random() < 0.05:
                    self.system.demands.act_on_claim(Meta(member), claim.id, "cancel")
                    continue
                confirmed.append(claim)
            except DomainError:
                continue  # no seat left to confirm it: it stays pending, as in a real city
        return confirmed

    def _claim(self, claim_id: UUID, demand_id: UUID) -> tuple[Actor, Claim]:
        """A claim by a member who has none on this demand yet."""
        while True:
            member = Actor(self.rng.choice(self.members), Role.MEMBER)
            try:
                return member, self.system.demands.make_claim(Meta(member), claim_id, demand_id).value
            except DuplicateClaimError:
                continue

    def _serve(self, demand_id: UUID, owner: Actor, claims: list[Claim]) -> None:
        demands = self.system.demands
        try:
            demands.act_on_demand(Meta(owner), demand_id, "start")
        except DomainError:
            return  # every claim was cancelled or is still pending
        for claim in claims:
            try:
                demands.act_on_claim(Meta(owner), claim.id, "check_in")
            except DomainError:
                continue  # not confirmed (waitlisted or pending)
            demands.act_on_claim(Meta(owner), claim.id, "complete", hours=float(self.rng.randint(1, 4)))
            demands.act_on_claim(Meta(owner), claim.id, "verify", rating=self.rng.randint(3, 5))
        demands.act_on_demand(Meta(owner), demand_id, "fulfil")
        if self.rng.random() < 0.7:
            demands.act_on_demand(Meta(owner), demand_id, "close", rating=self.rng.randint(3, 5))

    def venue(self, n: int) -> None:
        """A venue with about ten bookings over the coming weeks (some requested, some cancelled)."""
        rng, venues = self.rng, self.system.venues
        owner = Actor(rng.choice(self.organisations), Role.ORG)
        venue = venues.share_venue(
            Meta(owner), self._id("venue", n), owner.id, name=f"{rng.choice(DISTRICTS)}党群服务中心{n + 1}号活动室",
            address=f"福州市{rng.choice(DISTRICTS)}{n + 1}号", grid_id=rng.choice(self.grids),
            capacity=rng.choice((20, 30, 50, 80, 120)), opens_at="08:00", closes_at="21:00",
            requires_approval=rng.random() < 0.4, min_notice_hours=2, max_advance_days=60, cancel_lock_hours=12,
            blackouts=[]).value
        today = venues.clock.now().astimezone(CITY_TZ).replace(minute=0, second=0, microsecond=0)
        for k in range(max(0, round(rng.gauss(10, 2)))):
            starts = (today + timedelta(days=rng.randint(1, 50))).replace(hour=rng.randint(8, 18))
            requester = Actor(rng.choice(self.members), Role.MEMBER)
            try:
                booking = venues.book(Meta(requester), self._id(f"booking:{n}", k), venue.id, starts,
                                      starts + timedelta(hours=rng.randint(1, 3)), rng.randint(5, venue.capacity),
                                      "支部主题党日活动").value
                if booking.status == "requested" and rng.random() < 0.7:
                    venues.act_on_booking(Meta(owner), booking.id, "approve")
                elif rng.random() < 0.05:
                    venues.act_on_booking(Meta(requester), booking.id, "cancel")
            except DomainError:
                continue  # taken, or past the venue's hours: a real calendar has those too

    def department(self, n: int) -> None:
        outcome = self.system.registry.register(Meta(ADMIN), "department", self._id("department", n),
                                                code=f"FZD{n + 1:02d}", name=DEPARTMENTS[n])
        self.departments.append(str(outcome.value.id))

    def _publish(self, provider: Actor, item_id: UUID, title: str, department_id: str | None) -> None:
        rng, services = self.rng, self.system.services
        now = services.clock.now()
        content = {"title": title, "category": rng.choice(ITEM_CATEGORIES), "mode": rng.choice(MODES),
                   "basis": "相关政策文件", "eligibility": "在榕注册企业", "materials": "营业执照", "department_id": department_id,
                   "promised_days": rng.choice((3, 5, 7, 10, 15)), "valid_from": now,
                   "valid_to": now + timedelta(days=365 * 2), "co_department_ids": []}
        services.draft_item(Meta(provider), item_id, content)
        services.act_on_item(Meta(provider), item_id, "submit")
        services.act_on_item(Meta(ADMIN), item_id, "publish")
        self.items.append(item_id)

    def policy_item(self, n: int) -> None:
        department = self.departments[n % len(self.departments)]
        self._publish(Actor(department, Role.DEPT), self._id("policy", n), f"{POLICIES[n % len(POLICIES)]}（第{n + 1}项）",
                      department)

    def shared_service(self, n: int) -> None:
        provider = Actor(self.rng.choice(self.organisations), Role.ORG)
        self._publish(provider, self._id("service", n), f"{self.rng.choice(SERVICE_KINDS)}服务{n + 1}", None)

    def service_request(self, n: int) -> None:
        """A request under a policy item, handled some way along its lifecycle."""
        rng, services = self.rng, self.system.services
        item_id = self.items[rng.randrange(min(POLICY_ITEMS, len(self.items)))]
        applicant = Actor(rng.choice(self.organisations), Role.ORG)
        request = services.file_request(Meta(applicant), self._id("request", n), item_id, "申请政策兑现",
                                        "企业情况说明").value
        handler = Actor(request.handler_id, Role(request.handler_role))
        steps = rng.choice((["accept"], ["accept", "start"], ["accept", "start", "resolve"],
                            ["accept", "start", "resolve", "evaluate"], ["return"]))
        for step in steps:
            by = applicant if step == "evaluate" else handler
            fields = {"resolve": {"outcome": "approved"}, "evaluate": {"rating": rng.randint(3, 5)},
                      "return": {"reason": "材料不全"}}.get(step, {})
            services.act_on_request(Meta(by), request.id, step, **fields)
