"""Live processes for the fault-tolerance tests (PostgreSQL): the API server and projection
workers as real subprocesses (`python -m api.cli serve …`, `python -m api.cli projections run …`),
a command load over real HTTP, and checks of the read models against the event logs.

Every process gets LINLI_POOL_SIZE=2 (PostgreSQL is shared with other suites), the test's own
schema, the tests' admin token and no background timer. Processes are started in their own
session and ended by their id only.
"""
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx

from domain.claim import Claim
from domain.demand import Demand
from domain.registry import Member
from tests.support import ADMIN_TOKEN, new_system

ROOT = Path(__file__).resolve().parents[2]
POOL_SIZE = 2
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


# -- waiting ---------------------------------------------------------------------------------------
def wait_until(predicate, timeout: float, message: str, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy; fail with `message` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (waited {timeout:.0f}s)")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the system and its environment ----------------------------------------------------------------
def local_system(pg_url: str, schema: str):
    """The test's own view of the store (event logs, read models, projector). Building it first also
    creates every table, so the subprocesses started next do not race each other in schema set-up."""
    return new_system(database_url=pg_url, database_schema=schema, pool_size=POOL_SIZE, projections="worker")


def linli_env(pg_url: str, schema: str, application_name: str | None = None) -> dict[str, str]:
    url = f"{pg_url}?application_name={application_name}" if application_name else pg_url
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(LINLI_DATABASE_URL=url, LINLI_DATABASE_SCHEMA=schema, LINLI_ADMIN_TOKEN=ADMIN_TOKEN,
               LINLI_TIMER_INTERVAL_SECONDS="0", LINLI_POOL_SIZE=str(POOL_SIZE), PYTHONUNBUFFERED="1")
    return env


class Proc:
    """One `python -m api.cli …` subprocess; its output goes to a log file in the test's tmp_path."""

    def __init__(self, name: str, args: list[str], env: dict, logdir: Path):
        self.name, self.args, self.env, self.logdir = name, args, env, logdir
        self.popen: subprocess.Popen | None = None
        self.starts = 0
        self.log_path = logdir / f"{name}.log"

    def start(self) -> "Proc":
        assert not self.alive, f"{self.name} is already running"
        self.starts += 1
        self.log_path = self.logdir / f"{self.name}-{self.starts}.log"
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen([sys.executable, "-m", "api.cli", *self.args], cwd=ROOT, env=self.env,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.log_path.name} ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, text: str, timeout: float, count: int = 1) -> None:
        wait_until(lambda: self.log().count(text) >= count or not self.alive, timeout,
                   f"{self.name} did not log {text!r}\n{self.tail()}")
        assert self.alive, f"{self.name} exited with {self.popen.returncode}\n{self.tail()}"

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye to PostgreSQL."""
        if self.alive:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, then SIGKILL to the process group this test started if it does not go."""
        if not self.alive:
            return
        os.kill(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)


def projection_worker(env: dict, logdir: Path, name: str = "worker", poll: float = 0.2) -> Proc:
    return Proc(name, ["projections", "run", "--poll", str(poll)], env, logdir)


class Server(Proc):
    """`python -m api.cli serve --projections worker` on a free port."""

    def __init__(self, env: dict, logdir: Path, workers: int = 1, name: str = "server"):
        self.port = free_port()
        super().__init__(name, ["serve", "--projections", "worker", "--port", str(self.port),
                                "--workers", str(workers)], env, logdir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> "Server":
        super().start()

        def healthy() -> bool:
            assert self.alive, f"{self.name} exited with {self.popen.returncode}\n{self.tail()}"
            try:
                return httpx.get(f"{self.url}/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout, f"{self.name} did not answer /health\n{self.tail()}", interval=0.25)
        return self


# -- positions -------------------------------------------------------------------------------------
def lagging(system, views=None) -> dict:
    """{view: {context: (position, head)}} for every view and context not caught up; {} when all are."""
    heads, behind = system.projector.heads(), {}
    names = None if views is None else {v.name for v in views}
    for view, positions in system.projector.positions().items():
        if names is None or view in names:
            late = {c: (p, heads[c]) for c, p in positions.items() if p < heads[c]}
            if late:
                behind[view] = late
    return behind


def wait_caught_up(system, timeout: float, *procs: Proc, views=None) -> None:
    last = {}

    def done() -> bool:
        nonlocal last
        last = lagging(system, views)
        return not last

    try:
        wait_until(done, timeout, "read models did not catch up with the event logs", interval=0.2)
    except AssertionError as error:
        raise AssertionError(f"{error}; behind: {last}\n" + "\n".join(p.tail() for p in procs)) from None


def reached(system, context: str, position: int) -> bool:
    """Every read model has applied `context` up to `position`."""
    return all(p[context] >= position for p in system.projector.positions().values())


# -- snapshots of read models ----------------------------------------------------------------------
# audit_events.seq numbers rows in the order this view applied them. A live worker applies the
# contexts' logs interleaved as events arrive; a rebuild applies each log whole, one after the
# other: the same rows get other numbers. The index is compared as a multiset of rows without seq.
ORDER_DEPENDENT = {"audit_events": {"seq"}}


def table_rows(system, table: str) -> list[dict]:
    schema = system.settings.database_schema
    columns = [r["column_name"] for r in system.db.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position", (schema, table)) if r["column_name"] not in ORDER_DEPENDENT.get(table, ())]
    assert columns, f"no table {schema}.{table}"
    listed = ", ".join(f'"{c}"' for c in columns)
    return system.db.rows(f'SELECT {listed} FROM "{schema}"."{table}" ORDER BY {listed}')


def snapshot(system, views=None) -> dict[str, list[dict]]:
    """Every row of every table of the views (those rebuilt by default unless named)."""
    views = views or [v for v in system.projector.views if v.rebuilt_by_default]
    return {table: table_rows(system, table) for view in views for table in view.tables}


def checksums(snap: dict[str, list[dict]]) -> dict[str, tuple[int, str]]:
    return {table: (len(rows), hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest())
            for table, rows in snap.items()}


def differences(before: dict[str, list[dict]], after: dict[str, list[dict]], limit: int = 5) -> str:
    """A readable account of the rows that differ, table by table."""
    lines = []
    for table in sorted(set(before) | set(after)):
        old = Counter(json.dumps(r, default=str, sort_keys=True) for r in before.get(table, []))
        new = Counter(json.dumps(r, default=str, sort_keys=True) for r in after.get(table, []))
        if old == new:
            continue
        gone, added = list((old - new).elements()), list((new - old).elements())
        lines.append(f"{table}: {len(gone)} row(s) only live, {len(added)} row(s) only rebuilt")
        lines += [f"  live    {r}" for r in gone[:limit]] + [f"  rebuilt {r}" for r in added[:limit]]
    return "\n".join(lines)


# -- the event logs --------------------------------------------------------------------------------
def stored_events(system, context: str) -> list[tuple[int, object]]:
    """(position, domain event) for every event in one context's log."""
    app, found, start = system.contexts[context], [], 1
    while True:
        page = app.recorder.select_notifications(start, 1000)
        found += [(n.id, app.mapper.to_domain_event(n)) for n in page]
        if len(page) < 1000:
            return found
        start = page[-1].id + 1


def check_applied_exactly_once(system) -> None:
    """Read models caught up with the logs hold each event's effect once, counted from the logs
    themselves (not from a rebuild): audit rows and chain entries one per stored event, one claim
    row per Claim.Made, claims person-times equal to the headcounts made, and so on."""
    logs = {context: stored_events(system, context) for context in system.contexts}
    heads = system.projector.heads()
    assert {c: (events[-1][0] if events else 0) for c, events in logs.items()} == heads
    for view, positions in system.projector.positions().items():
        assert positions == heads, f"{view} tracks {positions}, logs end at {heads}"

    duplicated = system.db.rows("SELECT context, position, COUNT(*) AS n FROM audit_events "
                                "GROUP BY context, position HAVING COUNT(*) > 1")
    assert duplicated == [], f"events indexed more than once: {duplicated[:10]}"
    indexed = {r["context"]: r["n"] for r in system.db.rows(
        "SELECT context, COUNT(*) AS n FROM audit_events GROUP BY context")}
    assert indexed == {c: len(e) for c, e in logs.items() if e}, indexed
    chained = {r["context"]: r["n"] for r in system.db.rows(
        "SELECT context, COUNT(*) AS n FROM audit_chain GROUP BY context")}
    assert chained == {c: len(e) for c, e in logs.items() if e}, chained

    from projections.chain import verify

    assert verify(system.db, system.contexts, system.audit_key) == []

    demand_events = [e for _, e in logs["demands"]]
    made = [e for e in demand_events if isinstance(e, Claim.Made)]
    posted = [e for e in demand_events if isinstance(e, Demand.Posted)]
    approved = [e for e in demand_events if isinstance(e, Demand.Approved)]
    members = [e for _, e in logs["registry"] if isinstance(e, Member.Registered)]
    totals = {r["metric"]: r["value"] for r in system.db.rows("SELECT metric, value FROM stats WHERE dimension = ''")}
    assert totals.get("claims", 0) == sum(e.headcount for e in made), (totals, len(made))
    assert totals.get("demands_published", 0) == len(approved), totals
    assert totals.get("members", 0) == len(members), totals
    assert system.db.rows("SELECT COUNT(*) AS n FROM claims")[0]["n"] == len(made)
    assert system.db.rows("SELECT COUNT(*) AS n FROM demand_board")[0]["n"] == len(posted)
    assert system.db.rows("SELECT COUNT(*) AS n FROM service_records")[0]["n"] == sum(
        1 for e in made if e.claimant_role == "member")


def check_acknowledged_stored(system, acks: list["Ack"]) -> None:
    """Every command answered 2xx is in the store: the aggregate exists at least at the version we were told."""
    apps = {"grid": system.registry, "organisation": system.registry, "member": system.registry,
            "demand": system.demands, "claim": system.demands}
    missing = []
    for ack in acks:
        try:
            stored = apps[ack.kind].repository.get(UUID(ack.id))
        except Exception as error:  # noqa: BLE001 - AggregateNotFoundError: lost
            missing.append(f"{ack}: {type(error).__name__}")
            continue
        if stored.version < ack.version:
            missing.append(f"{ack}: stored at version {stored.version}")
    assert not missing, f"{len(missing)} acknowledged command(s) lost: {missing[:10]}"


# -- the command load ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ack:
    """A command answered 2xx: what it made or changed, at which version, at which log position."""

    kind: str
    id: str
    version: int
    position: str | None


@dataclass
class Answer:
    at: float
    method: str
    path: str
    status: int  # 0: no HTTP answer at all (transport error)
    content_type: str = ""
    problem: str | None = None
    retry_after: str | None = None
    detail: str = ""
    sent: float = 0.0
    keyed: bool = False  # sent with an Idempotency-Key


class Abandon(Exception):
    """A flow step was not answered 2xx: start another flow."""


@dataclass
class Load:
    """Users of the platform over real HTTP: the operator registers members, organisations post
    demands (submitted and approved), members claim them (mostly auto-confirmed, so some are
    waitlisted), cancel (promoting the waitlist) and organisations withdraw demands (cascading
    cancellations). Every answer is kept; every 2xx is an Ack."""

    url: str
    seed: int = 0
    idempotency_keys: bool = False  # creates carry an Idempotency-Key (and are retried with it after a 503)
    acks: list[Ack] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    # a reader after each claim: GET the demand's claims with min_position and find the claim there
    read_your_writes: bool = False
    stale_reads: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.client = httpx.Client(base_url=self.url, timeout=60)
        self.orgs: list[tuple[str, dict]] = []
        self.members: list[tuple[str, dict]] = []
        self.open: list[dict] = []  # demands open for claims: {id, owner headers, claimants}
        self.seated: list[tuple[str, dict, str]] = []  # (claim id, member headers, demand id)
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self._serial = 0

    # -- HTTP ---------------------------------------------------------------------------------
    def call(self, method: str, path: str, headers: dict, body: dict | None = None, ack: str | None = None,
             retry_503: bool = False, **params) -> dict:
        """One request; a 2xx answer's body is returned (and acknowledged as `ack`); anything else abandons
        the flow. With `retry_503` a 503 is retried with the same Idempotency-Key until answered otherwise."""
        creates = method == "POST" and retry_503
        key = f"load-{self.seed}-{self._next()}" if self.idempotency_keys and creates else None
        while True:
            sent = {**headers, **({"Idempotency-Key": key} if key else {})}
            started = time.monotonic()
            try:
                response = self.client.request(method, path, json=body, headers=sent, params=params or None)
            except httpx.HTTPError as error:
                self.answers.append(Answer(time.monotonic(), method, path, 0, detail=repr(error), sent=started,
                                           keyed=bool(key)))
                raise Abandon from None
            answer = Answer(time.monotonic(), method, path, response.status_code,
                            response.headers.get("content-type", ""), None, response.headers.get("retry-after"),
                            sent=started, keyed=bool(key))
            if response.status_code >= 400:
                try:
                    answer.problem = response.json().get("type")
                    answer.detail = response.text[:500]
                except ValueError:
                    answer.detail = response.text[:500]
            self.answers.append(answer)
            if response.status_code == 503 and retry_503 and (key or method == "GET") and not self.stop.is_set():
                time.sleep(float(response.headers.get("retry-after") or 1))
                continue
            if not 200 <= response.status_code < 300:
                raise Abandon
            data = response.json()
            if ack:
                self.acks.append(Ack(ack, data["id"], int(data["version"]), data.get("position")))
            return data

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    # -- the people ---------------------------------------------------------------------------
    def setup(self) -> None:
        """A grid, two organisations and four members, with tokens (retried until the server answers)."""
        for attempt in range(30):
            try:
                n = self._next()
                self.grid = self.call("POST", "/grids", ADMIN, {"code": f"L{self.seed}-{n}", "name": f"负载网格{n}",
                                                                "type": "街区型", "district": "鼓楼区"}, "grid")["id"]
                break
            except Abandon:
                time.sleep(1)
        else:
            raise AssertionError(f"the load could not start: {self.answers[-3:]}")
        for _ in range(2):
            self._until_done(self.new_org)
        for _ in range(4):
            self._until_done(self.new_member)

    def _until_done(self, flow) -> None:
        for _ in range(30):
            try:
                return flow()
            except Abandon:
                time.sleep(0.5)
        raise AssertionError(f"the load could not set up: {self.answers[-3:]}")

    def token(self, role: str, subject: str) -> dict:
        body = self.call("POST", "/auth/tokens", ADMIN, {"role": role, "subject_id": subject, "name": "load"},
                         retry_503=True)
        return {"Authorization": f"Bearer {body['token']}"}

    def new_org(self) -> None:
        n = self._next()
        org = self.call("POST", "/organisations", ADMIN, {"name": f"负载组织{self.seed}-{n}", "kind": "党组织",
                                                          "grid_id": self.grid, "district": "鼓楼区"},
                        "organisation", retry_503=True)
        self.orgs.append((org["id"], self.token("org", org["id"])))

    def new_member(self) -> None:
        org_id = self.rng.choice(self.orgs)[0] if self.orgs else None
        member = self.call("POST", "/members", ADMIN, {"name": f"党员{self.seed}-{self._next()}",
                                                       "organisation_id": org_id or "none", "grid_id": self.grid,
                                                       "flowing": False}, "member", retry_503=True)
        self.members.append((member["id"], self.token("member", member["id"])))

    # -- demands and claims --------------------------------------------------------------------
    def new_demand(self) -> None:
        _, headers = self.rng.choice(self.orgs)
        now = datetime.now(UTC)
        body = {"title": f"负载需求{self.seed}-{self._next()}", "description": "陪伴老人",
                "category": self.rng.choice(["助老服务", "环境整治", "文明宣传"]), "grid_id": self.grid,
                "needed": self.rng.randint(1, 3), "claim_deadline": (now + timedelta(days=1)).isoformat(),
                "starts_at": (now + timedelta(days=2)).isoformat(),
                "ends_at": (now + timedelta(days=2, hours=3)).isoformat(), "auto_confirm": self.rng.random() < 0.8}
        d = self.call("POST", "/demands", headers, body, "demand", retry_503=True)
        self.call("POST", f"/demands/{d['id']}/actions/submit", headers, {}, "demand")
        self.call("POST", f"/demands/{d['id']}/actions/approve", ADMIN, {}, "demand")
        self.open.append({"id": d["id"], "owner": headers, "claimants": set(), "auto": body["auto_confirm"]})

    def claim(self) -> None:
        if not self.open:
            return self.new_demand()
        demand = self.rng.choice(self.open[-6:])
        free = [m for m in self.members if m[0] not in demand["claimants"]]
        if not free:
            return self.new_member()
        member_id, headers = self.rng.choice(free)
        demand["claimants"].add(member_id)
        c = self.call("POST", f"/demands/{demand['id']}/claims", headers, {"headcount": 1}, "claim", retry_503=True)
        if c["status"] == "pending":
            c = self.call("POST", f"/claims/{c['id']}/actions/confirm", demand["owner"], {}, "claim")
        if c["status"] == "confirmed":
            self.seated.append((c["id"], headers, demand["id"]))
        if self.read_your_writes and c.get("position"):
            listed = self.call("GET", f"/demands/{demand['id']}/claims", demand["owner"], retry_503=True,
                               page_size=100, min_position=c["position"])
            rows = {r["id"]: r["status"] for r in listed["items"]}
            if rows.get(c["id"]) != c["status"] or listed["total"] != len(listed["items"]):
                self.stale_reads.append(f"after {c['position']}: claim {c['id']} {c['status']} read as "
                                        f"{rows.get(c['id'])}; total {listed['total']}, rows {len(rows)}")

    def cancel(self) -> None:
        if not self.seated:
            return self.claim()
        claim_id, headers, _ = self.seated.pop(self.rng.randrange(len(self.seated)))
        self.call("POST", f"/claims/{claim_id}/actions/cancel", headers, {"reason": "临时有事"}, "claim")

    def withdraw(self) -> None:
        claimed = [d for d in self.open if d["claimants"]]
        if not claimed:
            return self.claim()
        demand = claimed[0]
        self.open.remove(demand)
        self.seated = [s for s in self.seated if s[2] != demand["id"]]
        self.call("POST", f"/demands/{demand['id']}/actions/withdraw", demand["owner"], {"reason": "活动取消"},
                  "demand")

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.10:
            self.new_member()
        elif roll < 0.30:
            self.new_demand()
        elif roll < 0.82:
            self.claim()
        elif roll < 0.95:
            self.cancel()
        else:
            self.withdraw()

    # -- running -------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                except Abandon:
                    time.sleep(0.2)
        except BaseException as error:  # noqa: BLE001 - reported by finish()
            self.error = error

    def start(self) -> "Load":
        self.setup()
        self.thread = threading.Thread(target=self.run, name=f"load-{self.seed}", daemon=True)
        self.thread.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=120)
            assert not self.thread.is_alive(), "the load did not stop"
        self.client.close()
        if self.error is not None:
            raise self.error

    def wait_for_acks(self, n: int, timeout: float) -> None:
        wait_until(lambda: len(self.acks) >= n or self.error is not None, timeout,
                   f"the load made {len(self.acks)} of {n} commands; last answers {self.answers[-3:]}")
        if self.error is not None:
            raise self.error

    def unexpected(self, allowed=(409,)) -> list[Answer]:
        """Answers that are neither 2xx nor an allowed status."""
        return [a for a in self.answers if not (200 <= a.status < 300 or a.status in allowed)]
