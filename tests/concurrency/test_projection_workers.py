"""Projection workers under faults, on PostgreSQL (DESIGN §5: read models record their position in
the same transaction as their rows, catch up from it, run in `linli projections run` workers, and
can be rebuilt without serving half-built data).

Everything runs as it does in service: the API is `python -m api.cli serve --projections worker`,
each worker `python -m api.cli projections run --poll 0.2` (subprocesses, same environment), and a
load thread drives commands over HTTP (see `live.Load`). The test process keeps its own system on
the same schema to read positions, heads and rows, and to rebuild.

- A worker killed with SIGKILL at random moments (10 times, mostly in the middle of catching up a
  backlog) and restarted leaves read models equal, row for row, to a from-scratch rebuild.
- Two workers for the same read models (plus the test's own catch-ups) apply every event once;
  killing the leader hands its read models to the other worker within 5 s.
- A rebuild during a load: readers see the old model or the new, never a mixture, never fewer
  than before the rebuild began, and reads with min_position still see their own writes.
- /ready and /metrics report position, head, lag in events and in seconds per view; a read with
  min_position beyond what is projected waits, then answers 503 with Retry-After, while no worker runs.
- Workers of two deployments (schemas) in one database each keep their own read models current.
- A process starting (and creating any missing read-model tables) while a worker applies an event
  starts; it does not die in a deadlock with the worker's transaction.
"""
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.concurrency.live import (
    ADMIN,
    Load,
    Server,
    check_applied_exactly_once,
    checksums,
    differences,
    lagging,
    linli_env,
    local_system,
    projection_worker,
    reached,
    snapshot,
    stored_events,
    wait_caught_up,
    wait_until,
)
from tests.support import Api

pytestmark = pytest.mark.postgres

KILLS = 10
CATCH_UP_TIMEOUT = 180


def rebuild_and_compare(system) -> None:
    """Snapshot the live read models (caught up, no writer running), rebuild them from scratch, compare."""
    live = snapshot(system)
    started = time.perf_counter()
    system.projector.rebuild()
    rebuilt = snapshot(system)
    print(f"rebuild: {time.perf_counter() - started:.1f}s; tables: "
          + ", ".join(f"{t} {n}" for t, (n, _) in checksums(live).items()))
    assert checksums(live) == checksums(rebuilt), "live read models differ from a rebuild:\n" + differences(
        live, rebuilt)


# -- 1. kill -9 a worker at random moments ------------------------------------------------------------
def test_a_worker_killed_at_random_moments_leaves_read_models_equal_to_a_rebuild(pg_url, pg_schema, system, procs,
                                                                                 tmp_path):
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    print(f"seed {seed}")
    env = linli_env(pg_url, pg_schema)
    server = Server(env, tmp_path)
    worker = projection_worker(env, tmp_path)
    procs += [server, worker]
    server.start()
    load = Load(server.url, seed=seed).start()
    mid_batch = 0
    try:
        load.wait_for_acks(40, 120)
        for _ in range(KILLS):
            worker.start()
            # it has built its system and taken the leader locks: it is catching up the backlog now
            worker.wait_for_log("leading", 120)
            time.sleep(rng.uniform(0, 1.2))
            before = system.projector.positions()
            behind = bool(lagging(system))
            worker.kill()
            mid_batch += behind
            after = system.projector.positions()
            for view, positions in after.items():
                assert all(positions[c] >= before[view][c] for c in positions), (view, before[view], positions)
            # events pile up while no worker runs: the next one starts with a backlog
            time.sleep(rng.uniform(0.3, 2.0))
        print(f"{KILLS} kills, {mid_batch} while some read model was behind its log")
        worker.start()
        worker.wait_for_log("leading", 120)
        time.sleep(1)
    finally:
        load.finish()
    assert load.unexpected() == [], load.unexpected()[:5]
    print(f"load: {len(load.acks)} commands acknowledged, {sum(a.status == 409 for a in load.answers)} refused 409")
    wait_caught_up(system, CATCH_UP_TIMEOUT, worker)
    worker.stop()

    check_applied_exactly_once(system)
    rebuild_and_compare(system)


# -- 2. two workers at once; the leader dies ------------------------------------------------------------
# A worker's leader locks are session advisory locks on its LISTEN connection (the one that asks
# pg_try_advisory_lock); the view locks its catch-ups take are transaction locks on pooled connections.
LEADERS_SQL = """
SELECT a.application_name AS holder, COUNT(*) AS n
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = ANY(%s)
    AND (a.query LIKE '%%pg_try_advisory_lock%%' OR a.query LIKE 'LISTEN%%')
GROUP BY a.application_name
"""


def leaders(pg_url: str, holders: list[str]) -> dict[str, int]:
    """How many read models each worker (by application_name) leads."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return {holder: n for holder, n in conn.execute(LEADERS_SQL, (holders,)).fetchall()}


def listening(pg_url: str, holders: list[str]) -> set[str]:
    """The workers (by application_name) whose LISTEN connection is open."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return {r[0] for r in conn.execute(
            "SELECT application_name FROM pg_stat_activity WHERE application_name = ANY(%s) "
            "AND (query LIKE 'LISTEN%%' OR query LIKE '%%pg_try_advisory_lock%%')", (holders,)).fetchall()}


def test_two_workers_apply_every_event_once_and_the_leader_hands_over_within_5s(pg_url, pg_schema, system, procs,
                                                                              tmp_path):
    names = [v.name for v in system.projector.views]
    server = Server(linli_env(pg_url, pg_schema), tmp_path)
    workers = {name: projection_worker(linli_env(pg_url, pg_schema, application_name=f"{pg_schema}-{name}"),
                                       tmp_path, name) for name in ("worker-a", "worker-b")}
    procs += [server, *workers.values()]
    server.start()
    for worker in workers.values():
        worker.start()
    # both have built their systems (see test_a_process_starting_while_a_worker_applies_an_event_starts)
    wait_until(lambda: len(listening(pg_url, [f"{pg_schema}-{name}" for name in workers])) == 2, 120,
               "the workers did not start listening\n" + "\n".join(w.tail() for w in workers.values()))
    load = Load(server.url, seed=2).start()

    # the test's own catch-ups race the workers too, as inline API processes would; positions never go back
    stop, regressions, seen = threading.Event(), [], {}

    def catch_up_alongside() -> None:
        while not stop.is_set():
            try:
                system.projector.catch_up()
                for view, positions in system.projector.positions().items():
                    for context, position in positions.items():
                        if position < seen.get((view, context), 0):
                            regressions.append((view, context, seen[(view, context)], position))
                        seen[(view, context)] = position
            except Exception as error:  # noqa: BLE001
                regressions.append(repr(error))
            stop.wait(0.3)

    alongside = threading.Thread(target=catch_up_alongside, daemon=True)
    try:
        alongside.start()
        load.wait_for_acks(60, 120)
        apps = {f"{pg_schema}-{name}": name for name in workers}
        held = wait_until(lambda: (h := leaders(pg_url, list(apps))) and sum(h.values()) == len(names) and h, 60,
                          "not every read model has a leader")
        print(f"leaders: {held}")
        leader = apps[max(held, key=held.get)]
        survivor = next(name for name in workers if name != leader)
        load.wait_for_acks(len(load.acks) + 40, 120)

        stop.set()  # from here on only the surviving worker may move the read models
        alongside.join(timeout=60)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            client.get("/health")
            workers[leader].kill()
            killed_at, killed_wall = time.monotonic(), time.time()
            # an event written after the leader died (the load keeps writing too) is projected by the other worker
            answer = client.post("/grids", json={"code": "HANDOVER", "name": "交接网格", "type": "街区型",
                                                 "district": "鼓楼区"}, headers=ADMIN)
        assert answer.status_code == 201, answer.text
        written = time.monotonic() - killed_at
        context, position = answer.json()["position"].split(":")
        wait_until(lambda: reached(system, context, int(position)), 30,
                   f"an event written after the leader died was not projected\n{workers[survivor].tail()}",
                   interval=0.05)
        handover = time.monotonic() - killed_at
        took = wait_until(lambda: (h := leaders(pg_url, list(apps))) == {f"{pg_schema}-{survivor}": len(names)} and h,
                          10, f"{survivor} does not lead every read model: {leaders(pg_url, list(apps))}")
        led = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp() - killed_wall
               for line in workers[survivor].log().splitlines() if " leading " in line]
        print(f"handover: {survivor} took the last leader lock {max(led):.2f}s after SIGKILL of {leader}; an event "
              f"written {written:.2f}s after the kill was projected by every read model {handover:.2f}s after it; "
              f"leaders now {took}")
        assert handover <= 5, f"hand-over took {handover:.1f}s\n{workers[survivor].tail()}"

        workers[leader].start()  # back as a follower, while the other one projects the load
        load.wait_for_acks(len(load.acks) + 20, 120)
        wait_until(lambda: listening(pg_url, [f"{pg_schema}-{leader}"]) or not workers[leader].alive, 120,
                   f"{leader} did not start listening again")
        assert workers[leader].alive, f"{leader} died on its restart\n{workers[leader].tail()}"
    finally:
        stop.set()
        load.finish()
    alongside.join(timeout=60)
    assert regressions == [], regressions[:10]
    assert load.unexpected() == [], load.unexpected()[:5]
    wait_caught_up(system, CATCH_UP_TIMEOUT, *workers.values())
    for worker in workers.values():
        worker.stop()
    check_applied_exactly_once(system)
    rebuild_and_compare(system)


# -- 4. a rebuild during a load ------------------------------------------------------------------------
class Frozen:
    """Two demands nobody touches once set up, so every read of them has one right answer whether it is
    served by the old read model or the rebuilt one; a half-built or mixed model would show otherwise."""

    def __init__(self, client: httpx.Client, tag: str):
        self.client, self.tag = client, f"冻结{tag}"

        def ok(response, status=200) -> dict:
            assert response.status_code == status, response.text
            return response.json()

        def post(path, body, headers, status=200) -> dict:
            return ok(client.post(path, json=body, headers=headers), status)

        grid = post("/grids", {"code": self.tag, "name": "冻结网格", "type": "街区型", "district": "鼓楼区"}, ADMIN, 201)
        org = post("/organisations", {"name": "冻结组织", "kind": "党组织", "grid_id": grid["id"], "district": "鼓楼区"},
                   ADMIN, 201)
        self.owner = {"Authorization": "Bearer " + post("/auth/tokens", {"role": "org", "subject_id": org["id"],
                                                                         "name": "t"}, ADMIN, 201)["token"]}
        members = []
        for n in range(4):
            m = post("/members", {"name": f"冻结党员{n}", "organisation_id": org["id"], "grid_id": grid["id"]}, ADMIN,
                     201)
            members.append({"Authorization": "Bearer " + post(
                "/auth/tokens", {"role": "member", "subject_id": m["id"], "name": "t"}, ADMIN, 201)["token"]})
        now = datetime.now(UTC)
        self.ids = {}
        for label, needed, auto in (("A", 2, True), ("B", 3, False)):
            d = post("/demands", {"title": f"{self.tag}{label}", "description": "d", "category": "助老服务",
                                  "grid_id": grid["id"], "needed": needed,
                                  "claim_deadline": (now + timedelta(days=1)).isoformat(),
                                  "starts_at": (now + timedelta(days=2)).isoformat(),
                                  "ends_at": (now + timedelta(days=2, hours=2)).isoformat(), "auto_confirm": auto},
                     self.owner, 201)
            post(f"/demands/{d['id']}/actions/submit", {}, self.owner)
            post(f"/demands/{d['id']}/actions/approve", {}, ADMIN)
            self.ids[label] = d["id"]
        # A (needs 2, auto): four claim, two are waitlisted; the first cancels and the earliest waiting moves up
        a = [post(f"/demands/{self.ids['A']}/claims", {"headcount": 1}, m, 201) for m in members]
        assert [c["status"] for c in a] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
        post(f"/claims/{a[0]['id']}/actions/cancel", {"reason": "临时有事"}, members[0])
        # B (needs 3, by hand): two claim, one is confirmed
        b = [post(f"/demands/{self.ids['B']}/claims", {"headcount": 1}, m, 201) for m in members[:2]]
        last = post(f"/claims/{b[0]['id']}/actions/confirm", {}, self.owner)
        self.position = last["position"]
        self.board = {self.ids["A"]: ("filled", 2, 1), self.ids["B"]: ("open", 1, 0)}
        self.claims = {self.ids["A"]: sorted(["cancelled", "confirmed", "confirmed", "waitlisted"]),
                       self.ids["B"]: sorted(["confirmed", "pending"])}

    def check(self, client: httpx.Client) -> list[str]:
        """One round of reads; what is wrong with them, if anything."""
        wrong = []
        listing = client.get("/demands", params={"q": self.tag, "page_size": 100}, headers=ADMIN)
        if listing.status_code != 200:
            return [f"GET /demands {listing.status_code} {listing.text[:200]}"]
        rows = {r["id"]: (r["status"], r["confirmed"], r["waitlisted"]) for r in listing.json()["items"]}
        if rows != self.board or listing.json()["total"] != 2:
            wrong.append(f"board {rows} total {listing.json()['total']}")
        for demand_id, statuses in self.claims.items():
            listed = client.get(f"/demands/{demand_id}/claims", params={"page_size": 100}, headers=self.owner)
            if listed.status_code != 200:
                wrong.append(f"GET claims {listed.status_code} {listed.text[:200]}")
                continue
            body = listed.json()
            if sorted(r["status"] for r in body["items"]) != statuses or body["total"] != len(statuses):
                wrong.append(f"claims of {demand_id}: {[r['status'] for r in body['items']]} total {body['total']}")
        return wrong


def platform_counts(client: httpx.Client) -> tuple[dict, list[str]]:
    """The stats totals and the board's size, and whether the stats agree with themselves (one statement
    reads the whole stats table, so its totals and breakdowns come from one version of the model)."""
    stats = client.get("/stats")
    board = client.get("/demands", params={"page_size": 1}, headers=ADMIN)
    if stats.status_code != 200 or board.status_code != 200:
        return {}, [f"GET /stats {stats.status_code} {stats.text[:200]}; GET /demands {board.status_code}"]
    s, wrong = stats.json(), []
    for metric in ("claims", "demands_published"):
        for breakdown in ("by_grid", "by_category", "by_month"):
            part = sum(v.get(metric, 0) for v in s[breakdown].values())
            if part != s[metric]:
                wrong.append(f"{metric} {s[metric]} but {breakdown} sums to {part}")
    counts = {m: s[m] for m in ("organisations", "members", "demands_published", "claims")}
    counts["board"] = board.json()["total"]
    return counts, wrong


def test_readers_during_a_rebuild_under_load_see_the_old_or_the_new_model_never_a_mixture(pg_url, pg_schema, system,
                                                                                         procs, tmp_path):
    env = linli_env(pg_url, pg_schema)
    server, worker = Server(env, tmp_path), projection_worker(env, tmp_path)
    procs += [server, worker]
    server.start()
    worker.start()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        frozen = Frozen(client, pg_schema[-6:])
    load = Load(server.url, seed=4, read_your_writes=True).start()
    problems, reads, rebuilding = [], [], threading.Event()
    stop = threading.Event()
    floor: dict = {}

    def read() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not stop.is_set():
                wrong = frozen.check(client)
                counts, inconsistent = platform_counts(client)
                wrong += inconsistent
                wrong += [f"{k} went back to {counts[k]} from {floor[k]} before the rebuild"
                          for k in floor if k in counts and counts[k] < floor[k]]
                during = rebuilding.is_set()
                reads.append(during)
                problems.extend(f"{'during' if during else 'around'} the rebuild: {w}" for w in wrong)

    readers = [threading.Thread(target=read, daemon=True) for _ in range(2)]
    try:
        load.wait_for_acks(150, 240)
        context, position = frozen.position.split(":")
        wait_until(lambda: reached(system, context, int(position)), 60, "the frozen demands were not projected")
        with httpx.Client(base_url=server.url, timeout=60) as client:
            counts, wrong = platform_counts(client)
        assert wrong == [], wrong
        floor.update(counts)
        for reader in readers:
            reader.start()
        wait_until(lambda: len(reads) >= 4, 60, "the readers did not read")

        rebuilt: list = []
        started = time.perf_counter()
        rebuilding.set()
        rebuild = threading.Thread(target=lambda: rebuilt.append(system.projector.rebuild()), daemon=True)
        rebuild.start()
        rebuild.join(timeout=600)
        rebuilding.clear()
        took = time.perf_counter() - started
        assert rebuilt, "the rebuild did not finish (or failed: see the output)"
        print(f"rebuild under load: {rebuilt[0]} events in {took:.1f}s; {sum(reads)} read rounds during it")
        assert sum(reads) >= 5, "too few reads during the rebuild to tell"
        load.wait_for_acks(len(load.acks) + 20, 120)
    finally:
        stop.set()
        for reader in readers:
            if reader.is_alive():
                reader.join(timeout=120)
        load.finish()
    assert problems == [], f"{len(problems)} inconsistent reads, e.g. {problems[:10]}"
    assert load.stale_reads == [], load.stale_reads[:10]
    # a read with min_position may wait past its bound while the rebuild holds the view locks: that is
    # the documented 503 with Retry-After, retried by the load until answered
    waited = [a for a in load.answers if a.status == 503]
    assert all(a.method == "GET" and a.retry_after and "not caught up" in a.detail for a in waited), waited[:5]
    print(f"read-your-writes: {sum(1 for a in load.answers if a.method == 'GET' and a.status == 200)} reads "
          f"answered, {len(waited)} times 503 'not caught up' first")
    assert load.unexpected(allowed=(409, 503)) == [], load.unexpected()[:5]
    wait_caught_up(system, CATCH_UP_TIMEOUT, worker)
    worker.stop()
    check_applied_exactly_once(system)
    rebuild_and_compare(system)


# -- /ready, /metrics, min_position with no worker ----------------------------------------------------------
def metric_values(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def test_ready_and_metrics_report_lag_and_min_position_waits_then_503_while_no_worker_runs(pg_url, pg_schema, system,
                                                                                         procs, tmp_path):
    env = linli_env(pg_url, pg_schema)
    server, worker = Server(env, tmp_path), projection_worker(env, tmp_path)
    procs += [server, worker]
    server.start()
    names = [v.name for v in system.projector.views]
    with httpx.Client(base_url=server.url, timeout=60) as client:
        made = client.post("/grids", json={"code": "R1", "name": "就绪网格", "type": "街区型", "district": "鼓楼区"},
                           headers=ADMIN)
        assert made.status_code == 201, made.text
        context, position = made.json()["position"].split(":")
        position = int(position)

        # nothing projects: every read model lags by that event, and its age grows
        def lag_reported():
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.text
            figures = ready.json()["projections"]
            return all(figures[v][context]["lag_seconds"] > 0.5 for v in names) and figures

        figures = wait_until(lag_reported, 30, "/ready did not report the lag in seconds")
        assert set(figures) == set(names)
        for view in names:
            assert set(figures[view]) == set(system.contexts)
            row = figures[view][context]
            assert (row["position"], row["head"], row["lag"]) == (0, position, position), (view, row)
            assert 0.5 < row["lag_seconds"] < 600, (view, row)
        metrics = client.get("/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        values = metric_values(metrics.text)
        assert values[f'linli_log_head{{context="{context}"}}'] == position
        for view in names:
            labels = f'view="{view}",context="{context}"'
            assert values[f"linli_projection_position{{{labels}}}"] == 0
            assert values[f"linli_projection_lag_events{{{labels}}}"] == position
            assert values[f"linli_projection_lag_seconds{{{labels}}}"] > 0.5

        # a read that must see the event waits, then gives up with 503 and Retry-After
        started = time.monotonic()
        waited = client.get("/stats", params={"min_position": made.json()["position"]})
        elapsed = time.monotonic() - started
        assert waited.status_code == 503, waited.text
        assert waited.headers["content-type"].startswith("application/problem+json")
        assert waited.json()["status"] == 503 and waited.headers.get("retry-after"), waited.headers
        assert elapsed >= 4.5, f"answered 503 after {elapsed:.1f}s without waiting"

        # a worker starts: the same read is answered, and nothing lags any more
        worker.start()
        wait_until(lambda: client.get("/stats", params={"min_position": made.json()["position"]}).status_code == 200,
                   120, "the read was not answered once a worker ran")
        wait_caught_up(system, 60, worker)
        figures = client.get("/ready").json()["projections"]
        assert all(figures[v][c]["lag"] == 0 and figures[v][c]["lag_seconds"] == 0 for v in names for c in figures[v])
        assert all(figures[v][context]["position"] == position for v in names)
        values = metric_values(client.get("/metrics").text)
        assert all(values[f'linli_projection_lag_events{{view="{v}",context="{context}"}}'] == 0 for v in names)


# -- deployments sharing a database ---------------------------------------------------------------------
def test_workers_of_two_schemas_in_one_database_each_keep_their_read_models_current(pg_url, pg_schema, system, procs,
                                                                                  tmp_path):
    """LINLI_DATABASE_SCHEMA lets deployments (and these tests) share one database; a worker leads the read
    models of its own schema, whatever another schema's worker is doing."""
    from uuid import uuid4

    from domain.actors import Actor, Role
    from workflows.engine import Meta

    other_schema = f"{pg_schema}_b"
    other = local_system(pg_url, other_schema)
    try:
        first = projection_worker(linli_env(pg_url, pg_schema), tmp_path, "worker-1")
        second = projection_worker(linli_env(pg_url, other_schema), tmp_path, "worker-2")
        procs += [first, second]
        first.start().wait_for_log("leading", 120, count=len(system.projector.views))
        second.start()
        admin = Meta(Actor("admin", Role.ADMIN))
        for linli in (system, other):
            linli.registry.register(admin, "grid", uuid4(), code="S1", name="网格", type="街区型", district="鼓楼区")
        wait_caught_up(system, 45, first)
        wait_caught_up(other, 45, second)
    finally:
        other.shutdown()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{other_schema}" CASCADE')


# -- a process starting while a read model is being written ------------------------------------------------
class PausingTx:
    """A view transaction that stops before the statement starting with `before` until told to go on."""

    def __init__(self, tx, before: str):
        self.tx, self.before, self.dialect = tx, before, tx.dialect
        self.paused, self.go = threading.Event(), threading.Event()

    def _maybe_pause(self, sql: str) -> None:
        if sql.lstrip().startswith(self.before) and not self.paused.is_set():
            self.paused.set()
            assert self.go.wait(120), "never told to go on"

    def execute(self, sql: str, params=()) -> None:
        self._maybe_pause(sql)
        self.tx.execute(sql, params)

    def executemany(self, sql: str, rows) -> None:
        self._maybe_pause(sql)
        self.tx.executemany(sql, rows)

    def rows(self, sql: str, params=()) -> list[dict]:
        return self.tx.rows(sql, params)

    def lock(self, name: str) -> None:
        self.tx.lock(name)


class Rollback(Exception):
    """Leave the read model as it was."""


def test_a_process_starting_while_a_worker_applies_an_event_starts(pg_url, pg_schema, system):
    """Every process (API server, worker, CLI) builds its Linli on start, and with it the read models'
    tables if missing. A worker applying a Claim.Made to the demand board writes `claims`, then (at the
    end of the batch) `demand_board`, in one transaction. A process starting at that moment must wait or go ahead, and
    must not die: here the applying transaction is held between its two writes while a system starts."""
    with Api.serving(system) as api:
        owner = api.org()
        api.claim(api.demand(owner, "open"), api.member())
    position, made = next((p, e) for p, e in stored_events(system, "demands") if type(e).__name__ == "Made")
    notification = system.demands.recorder.select_notifications(position, 1)[0]
    board = system.projector.view("demand_board")

    started, starter = [], f"{pg_schema}-starting"

    def start_a_system() -> None:
        try:
            started.append(local_system(f"{pg_url}?application_name={starter}", pg_schema))
        except Exception as error:  # noqa: BLE001 - the finding
            started.append(error)

    starting = threading.Thread(target=start_a_system, daemon=True)
    try:
        with system.db.transaction() as tx:  # what the projector's _apply does for this event
            tx.lock("view:demand_board")
            pausing = PausingTx(tx, "UPDATE demand_board")
            def apply_batch() -> None:
                board.begin_batch(pausing, "demands")
                board.record(notification, made, pausing, "demands")
                board.finish_batch(pausing, "demands", notification.id)

            applying = threading.Thread(target=apply_batch, daemon=True)
            applying.start()
            assert pausing.paused.wait(60), "the demand board never got to its second write"
            starting.start()
            # the starting system waits for a lock the applying transaction holds (the claims table it has
            # written, or the read model's lock), or it has started
            wait_until(lambda: system.db.rows(
                "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND a.application_name = %s", (starter,)) or not starting.is_alive(), 60,
                "the starting system never waited")
            pausing.go.set()
            applying.join(timeout=60)
            raise Rollback
    except Rollback:
        pass
    starting.join(timeout=120)
    assert started, "the system did not finish starting"
    outcome = started[0]
    if not isinstance(outcome, Exception):
        outcome.shutdown()
    assert not isinstance(outcome, Exception), f"a process starting beside a worker died: {outcome!r}"
