"""Generates a city with a past through the same applications live commands use (no hand-written rows).

The city's history spans the 24 months before `until` (by default today's midnight, city time):
registrations first, then demands and their claims, venues and their bookings, service items
and the requests filed under them through the months. The seed moves the system's clock to
each step's moment, so every event is dated by it (the engine stamps the clock's time), and
deadlines that fell due on the way (SLA warnings and breaches, expiries, no-shows) fire at
their own moments, as the server's timers would have. Deterministic: the same seed and `until`
give the same city, timestamps included, whether the contexts are seeded one after another or
at once (each context draws from its own random stream, and ids are uuid5 of seed and number).

Seeding in parallel: the registry first, then demands, venues and services at once in separate
processes (separate event tables and locks), then the read models in bulk in this process.
"""
import multiprocessing
import random
import time
from queue import Empty
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import groupby
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application

from api.settings import Settings
from api.wiring import Linli
from domain.actors import SYSTEM, Actor, Role
from domain.city import CITY_TZ
from domain.claim import Claim
from domain.errors import DomainError, DuplicateClaimError
from domain.registry import GRID_TYPES, ORGANISATION_KINDS
from workflows.clock import FakeClock
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
HISTORY = timedelta(days=730)  # 24 months
REGISTRATION = timedelta(days=60)  # registrations come first; activity runs through the rest
CONTEXTS = ("registry", "demands", "venues", "services")


def counts(scale: float) -> dict[str, int]:
    return {name: max(1, round(n * scale)) for name, n in FUZHOU.items()}


def default_until() -> datetime:
    """Today's midnight in the city: two seeds on one day give the same history."""
    return datetime.now(CITY_TZ).replace(hour=0, minute=0, second=0, microsecond=0)


class Seeder:
    def __init__(self, system: Linli, scale: float, seed: int = 7, until: datetime | None = None):
        """Seeding (`run`, `finish`) needs `system` on a settable clock (workflows.clock.FakeClock): the
        seed moves it. The ids alone (`_id`) need nothing."""
        self.system, self.clock, self.counts, self.seed = system, system.clock, counts(scale), seed
        self.until = (until or default_until()).astimezone(CITY_TZ)
        self.start = self.until - HISTORY
        c = self.counts  # every id is known up front, so a context's process needs no other's data
        self.grids = [str(self._id("grid", n)) for n in range(c["grids"])]
        self.organisations = [str(self._id("org", n)) for n in range(c["organisations"])]
        self.members = [str(self._id("member", n)) for n in range(c["members"])]
        self.departments = [str(self._id("department", n)) for n in range(len(DEPARTMENTS))]
        self.items: list[UUID] = []
        self.rng = random.Random()

    def run(self, started: Callable[[str, int], Callable[[], None]] | None = None,
            contexts: tuple[str, ...] = CONTEXTS) -> None:
        """The contexts' histories through the applications, each stage in batches (read models and
        deadlines are `finish`'s). `started(label, total)` is told of each stage and returns what to
        call after each item."""
        _settable(self.system)
        with self.system.after_commit.paused():  # `finish` projects in bulk
            for context in contexts:
                self.rng = random.Random(f"{self.seed}:{context}")
                for label, total, make, app in self.stages(context):
                    advance = started(label, total) if started else None
                    with app.engine.batch(into_empty_store=True):
                        for n in range(total):
                            make(n)
                            if advance:
                                advance()

    def finish(self) -> int:
        """Build the read models in bulk, then fire, each at its own moment, every deadline that fell
        due before `until` (firing may make new ones: repeat until none is due); returns how many fired."""
        _settable(self.system)
        with self.system.after_commit.paused():  # projected in bulk on each round
            return self._fire_due()

    def _fire_due(self) -> int:
        fired = 0
        while True:
            self.system.project_in_bulk()
            rows = self.system.timers.deadlines.due(self.until, limit=10**9)
            now_fired = 0
            for context, group in groupby(sorted(rows, key=lambda r: r["context"]), key=lambda r: r["context"]):
                app = self.system.contexts[context]
                with app.engine.batch():
                    for row in group:
                        self._at(min(datetime.fromisoformat(row["due_at"]) + timedelta(seconds=1), self.until))
                        outcome = app.fire(Meta(SYSTEM, causation_id=row["cause"]), row["kind"],
                                           UUID(row["aggregate_id"]))
                        if outcome is None or not outcome.events:
                            self.system.timers.deadlines.discard(row["aggregate_id"], row["kind"], row["cause"])
                        else:
                            now_fired += 1
            fired += now_fired
            if not now_fired:
                self.clock.set(self.until)
                return fired

    def _id(self, kind: str, n: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"linli-seed:{self.seed}:{kind}:{n}")

    def _at(self, moment: datetime) -> bool:
        """Move the clock to `moment` if it lies in the history; False when it is past `until`."""
        if moment > self.until:
            return False
        self.clock.set(moment)
        return True

    def _spread(self, n: int, total: int, begin: datetime, end: datetime) -> datetime:
        """The n-th of `total` moments spread evenly (with jitter) from `begin` to `end`."""
        return begin + (end - begin) * ((n + self.rng.random()) / total)

    def stages(self, context: str) -> list[tuple[str, int, Callable[[int], None], Application]]:
        """(label, count, make one, the application whose engine batches the stage's saves)."""
        c, s = self.counts, self.system
        return {
            "registry": [("网格 grids", c["grids"], self.grid, s.registry),
                         ("组织 organisations", c["organisations"], self.organisation, s.registry),
                         ("党员 members", c["members"], self.member, s.registry),
                         ("部门 departments", len(DEPARTMENTS), self.department, s.registry)],
            "demands": [("需求 demands and claims", c["demands"], self.demand, s.demands)],
            "venues": [("场地 venues and bookings", c["venues"], self.venue, s.venues)],
            "services": [("惠企政策 policy items", POLICY_ITEMS, self.policy_item, s.services),
                         ("服务共享 shared services", c["services"], self.shared_service, s.services),
                         ("企业诉求 service requests", c["requests"], self.service_request, s.services)],
        }[context]

    # -- registry: the first two months ----------------------------------------------------------
    def grid(self, n: int) -> None:
        self._at(self._spread(n, self.counts["grids"], self.start, self.start + timedelta(days=1)))
        district = DISTRICTS[n % len(DISTRICTS)]
        self.system.registry.register(Meta(ADMIN), "grid", self._id("grid", n), code=f"FZ{n:05d}",
                                      name=f"{district}第{n + 1}网格", type=GRID_TYPES[n % 5], district=district)

    def organisation(self, n: int) -> None:
        self._at(self._spread(n, self.counts["organisations"], self.start + timedelta(days=1),
                              self.start + timedelta(days=30)))
        self.system.registry.register(Meta(ADMIN), "organisation", self._id("org", n),
                                      name=f"福州{n + 1}号党组织", kind=ORGANISATION_KINDS[n % 5],
                                      grid_id=self.rng.choice(self.grids), district=DISTRICTS[n % len(DISTRICTS)])

    def member(self, n: int) -> None:
        self._at(self._spread(n, self.counts["members"], self.start + timedelta(days=2), self.start + REGISTRATION))
        self.system.registry.register(
            Meta(ADMIN), "member", self._id("member", n), name=f"{self.rng.choice(SURNAMES)}同志{n + 1}",
            organisation_id=self.rng.choice(self.organisations), grid_id=self.rng.choice(self.grids),
            flowing=self.rng.random() < 0.1)

    def department(self, n: int) -> None:
        self._at(self.start + timedelta(minutes=10 * n))
        self.system.registry.register(Meta(ADMIN), "department", self._id("department", n),
                                      code=f"FZD{n + 1:02d}", name=DEPARTMENTS[n])

    # -- demands and claims through the months ---------------------------------------------------
    def demand(self, n: int) -> None:
        """One demand through its lifecycle as far as `until`, with its share of the city's claims."""
        rng, demands = self.rng, self.system.demands
        owner = Actor(rng.choice(self.organisations), Role.ORG)
        posted = self._spread(n, self.counts["demands"], self.start + REGISTRATION, self.until - timedelta(days=5))
        starts = (posted + timedelta(days=rng.randint(5, 45))).replace(hour=rng.randint(8, 18), minute=0, second=0,
                                                                       microsecond=0)
        ends = starts + timedelta(hours=rng.randint(1, 4))
        needed = rng.randint(1, 20)
        self._at(posted)
        demand = demands.post_demand(
            Meta(owner), self._id("demand", n), owner.id, title=f"{rng.choice(CATEGORIES)}志愿活动{n + 1}",
            description="社区发布的志愿服务需求", category=rng.choice(CATEGORIES), grid_id=rng.choice(self.grids),
            needed=needed, claim_deadline=starts - timedelta(days=1), starts_at=starts, ends_at=ends,
            auto_confirm=rng.random() < 0.5).value
        self._at(posted + timedelta(hours=1))
        demands.act_on_demand(Meta(owner), demand.id, "submit")
        approved = posted + timedelta(days=1)
        self._at(approved)
        demands.act_on_demand(Meta(ADMIN), demand.id, "approve")  # SCALE.md counts published demands
        window = (approved + timedelta(hours=1), min(starts - timedelta(days=1), self.until) - timedelta(hours=1))
        claims = self._claims(n, demand.id, owner, window)
        if claims and starts + timedelta(hours=1) < self.until and rng.random() < 0.95:
            self._serve(demand.id, owner, claims, starts, ends)
        # otherwise: a demand nobody confirmed expires at its deadline, and confirmed claims of a
        # demand its owner never started are marked no-show, both by the timers (finish)

    def _claims(self, n: int, demand_id: UUID, owner: Actor, window: tuple[datetime, datetime]) -> list[Claim]:
        """The city's claims spread evenly over demands (so the total is exactly SCALE.md's) and over
        the demand's claiming window; the owner confirms what fits, and a few are cancelled."""
        demands, claims = self.counts["demands"], self.counts["claims"]
        total = claims // demands + (1 if n < claims % demands else 0)
        confirmed = []
        for k in range(total):
            made = self._spread(k, total, *window)
            self.clock.set(made)  # a claiming window is always before `until`
            member, claim = self._claim(self._id(f"claim:{n}", k), demand_id)
            try:
                if claim.status == "pending":
                    self.clock.set(made + timedelta(seconds=1))
                    self.system.demands.act_on_claim(Meta(owner), claim.id, "confirm")
                if self.rng.random() < 0.05:
                    self.clock.set(made + timedelta(seconds=2))
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

    def _serve(self, demand_id: UUID, owner: Actor, claims: list[Claim], starts: datetime, ends: datetime) -> None:
        """The activity takes place: started, claimants checked in; once over, hours completed and
        verified, the demand fulfilled and mostly closed (each step only if `until` has reached it)."""
        demands = self.system.demands
        self._at(starts - timedelta(minutes=10))
        try:
            demands.act_on_demand(Meta(owner), demand_id, "start")
        except DomainError:
            return  # every claim was cancelled or is still pending
        self._at(starts)
        present = []
        for claim in claims:
            try:
                demands.act_on_claim(Meta(owner), claim.id, "check_in")
                present.append(claim)
            except DomainError:
                continue  # not confirmed (waitlisted or pending)
        if not self._at(ends + timedelta(hours=1)):
            return
        for claim in present:
            demands.act_on_claim(Meta(owner), claim.id, "complete", hours=float(self.rng.randint(1, 4)))
        if not self._at(ends + timedelta(days=1)):
            return
        for claim in present:
            demands.act_on_claim(Meta(owner), claim.id, "verify", rating=self.rng.randint(3, 5))
        demands.act_on_demand(Meta(owner), demand_id, "fulfil")
        if self.rng.random() < 0.7 and self._at(ends + timedelta(days=2)):
            demands.act_on_demand(Meta(owner), demand_id, "close", rating=self.rng.randint(3, 5))

    # -- venues and bookings through the months --------------------------------------------------
    def venue(self, n: int) -> None:
        """A venue shared some month, with about ten bookings made over its life since (some
        requested, some cancelled); those already held were checked in and completed, mostly."""
        rng, venues = self.rng, self.system.venues
        owner = Actor(rng.choice(self.organisations), Role.ORG)
        shared = self._spread(n, self.counts["venues"], self.start + REGISTRATION, self.until - timedelta(days=2))
        self._at(shared)
        venue = venues.share_venue(
            Meta(owner), self._id("venue", n), owner.id, name=f"{rng.choice(DISTRICTS)}党群服务中心{n + 1}号活动室",
            address=f"福州市{rng.choice(DISTRICTS)}{n + 1}号", grid_id=rng.choice(self.grids),
            capacity=rng.choice((20, 30, 50, 80, 120)), opens_at="08:00", closes_at="21:00",
            requires_approval=rng.random() < 0.4, min_notice_hours=2, max_advance_days=60, cancel_lock_hours=12,
            blackouts=[]).value
        made = sorted(shared + (self.until - shared) * rng.random() for _ in range(max(0, round(rng.gauss(10, 2)))))
        for k, at in enumerate(made):
            starts = (at + timedelta(days=rng.randint(1, 30))).replace(hour=rng.randint(8, 18), minute=0, second=0,
                                                                         microsecond=0)
            ends = starts + timedelta(hours=rng.randint(1, 3))
            requester = Actor(rng.choice(self.members), Role.MEMBER)
            self.clock.set(at)
            try:
                booking = venues.book(Meta(requester), self._id(f"booking:{n}", k), venue.id, starts, ends,
                                      rng.randint(5, venue.capacity), "支部主题党日活动").value
                self.clock.set(at + timedelta(minutes=1))
                if booking.status == "requested" and rng.random() < 0.7:
                    booking = venues.act_on_booking(Meta(owner), booking.id, "approve").value
                elif rng.random() < 0.05:
                    venues.act_on_booking(Meta(requester), booking.id, "cancel")
                    continue
                if booking.status == "confirmed" and rng.random() < 0.9 and self._at(starts - timedelta(minutes=5)):
                    venues.act_on_booking(Meta(requester), booking.id, "check_in")
                    if self._at(ends):
                        venues.act_on_booking(Meta(requester), booking.id, "complete")
            except DomainError:
                continue  # taken, or past the venue's hours: a real calendar has those too
        # requests never approved expire at their start, confirmed bookings nobody came to are
        # marked no-show, checked-in ones completed at their end: by the timers (finish)

    # -- services: the joint-action list, shared services, requests ------------------------------
    def _publish(self, provider: Actor, item_id: UUID, title: str, department_id: str | None,
                 drafted: datetime) -> None:
        rng, services = self.rng, self.system.services
        content = {"title": title, "category": rng.choice(ITEM_CATEGORIES), "mode": rng.choice(MODES),
                   "basis": "相关政策文件", "eligibility": "在榕注册企业", "materials": "营业执照", "department_id": department_id,
                   "promised_days": rng.choice((3, 5, 7, 10, 15)), "valid_from": drafted,
                   "valid_to": drafted + timedelta(days=365 * 3), "co_department_ids": []}
        self._at(drafted)
        services.draft_item(Meta(provider), item_id, content)
        self._at(drafted + timedelta(hours=1))
        services.act_on_item(Meta(provider), item_id, "submit")
        self._at(drafted + timedelta(days=1))
        services.act_on_item(Meta(ADMIN), item_id, "publish")
        self.items.append(item_id)

    def policy_item(self, n: int) -> None:
        department = self.departments[n % len(self.departments)]
        self._publish(Actor(department, Role.DEPT), self._id("policy", n), f"{POLICIES[n % len(POLICIES)]}（第{n + 1}项）",
                      department, self.start + timedelta(days=1, hours=n))

    def shared_service(self, n: int) -> None:
        provider = Actor(self.rng.choice(self.organisations), Role.ORG)
        drafted = self._spread(n, self.counts["services"], self.start + REGISTRATION, self.until - timedelta(days=2))
        self._publish(provider, self._id("service", n), f"{self.rng.choice(SERVICE_KINDS)}服务{n + 1}", None, drafted)

    def service_request(self, n: int) -> None:
        """A request under a policy item, handled some way along its lifecycle as far as `until`
        (some late: a late resolution records its missed warning and breach; a request still
        running past its promised time is warned and breached by the timers, finish)."""
        rng, services = self.rng, self.system.services
        item_id = self.items[rng.randrange(min(POLICY_ITEMS, len(self.items)))]
        applicant = Actor(rng.choice(self.organisations), Role.ORG)
        filed = self._spread(n, self.counts["requests"], self.start + REGISTRATION, self.until - timedelta(days=1))
        self._at(filed)
        request = services.file_request(Meta(applicant), self._id("request", n), item_id, "申请政策兑现",
                                        "企业情况说明").value
        handler = Actor(request.handler_id, Role(request.handler_role))
        steps = rng.choice((["accept"], ["accept", "start"], ["accept", "start", "resolve"],
                            ["accept", "start", "resolve", "evaluate"], ["return"]))
        taken = timedelta(days=request.promised_days * rng.uniform(0.3, 1.8) * 7 / 5)  # working days, some late
        when = {"accept": timedelta(days=1), "return": timedelta(days=1), "start": timedelta(days=2),
                "resolve": timedelta(days=2) + taken, "evaluate": timedelta(days=3) + taken}
        for step in steps:
            if not self._at(filed + when[step]):
                return
            by = applicant if step == "evaluate" else handler
            fields = {"resolve": {"outcome": "approved"}, "evaluate": {"rating": rng.randint(3, 5)},
                      "return": {"reason": "材料不全"}}.get(step, {})
            services.act_on_request(Meta(by), request.id, step, **fields)


def _settable(system: Linli) -> None:
    if not isinstance(system.clock, FakeClock):
        raise TypeError("the seed needs a system on a settable clock (FakeClock)")


def _seed_contexts(settings: Settings, scale: float, seed: int, until: datetime, contexts: tuple[str, ...],
                   progress) -> None:
    """A process of its own: these contexts' histories into their event tables."""
    system = Linli(settings, FakeClock(until))
    try:
        def started(label: str, total: int) -> Callable[[], None]:
            progress.put((label, total, 0))
            done = [0]

            def advance() -> None:
                done[0] += 1
                if done[0] % 200 == 0 or done[0] == total:
                    progress.put((label, total, done[0]))
            return advance

        Seeder(system, scale, seed, until).run(started, contexts)
    finally:
        system.shutdown()


def seed_city(system: Linli, scale: float, seed: int = 7, until: datetime | None = None, parallel: bool = True,
              progress: Callable[[str, int, int], None] | None = None) -> dict:
    """The whole seed: the registry here, then demands, venues and services at once in processes of
    their own (or here, one after another, when not `parallel`), then the read models in bulk and
    the deadlines due on the way. `progress(label, total, done)` hears of each stage. Returns the
    seconds each phase took and how many deadlines fired."""
    until = (until or default_until()).astimezone(CITY_TZ)
    _settable(system)
    seeder = Seeder(system, scale, seed, until)
    report = progress or (lambda label, total, done: None)

    def started(label: str, total: int) -> Callable[[], None]:
        done = [0]
        report(label, total, 0)

        def advance() -> None:
            done[0] += 1
            report(label, total, done[0])
        return advance

    began = time.perf_counter()
    seeder.run(started, ("registry",))
    if parallel:
        spawn = multiprocessing.get_context("spawn")  # this process holds pooled connections: no fork
        queue = spawn.Queue()
        workers = [spawn.Process(target=_seed_contexts, args=(system.settings, scale, seed, until, (c,), queue),
                                 name=f"linli-seed-{c}") for c in CONTEXTS[1:]]
        for worker in workers:
            worker.start()
        while any(w.is_alive() for w in workers) or not queue.empty():
            try:
                report(*queue.get(timeout=0.2))
            except Empty:
                continue
        for worker in workers:
            worker.join()
        failed = [w.name for w in workers if w.exitcode != 0]
        if failed:
            raise RuntimeError(f"seeding failed in {', '.join(failed)}")
    else:
        seeder.run(started, CONTEXTS[1:])
    seeded = time.perf_counter()
    fired = seeder.finish()
    system.projector.compact()
    return {"seed_seconds": round(seeded - began, 2), "read_models_seconds": round(time.perf_counter() - seeded, 2),
            "deadlines_fired": fired}
