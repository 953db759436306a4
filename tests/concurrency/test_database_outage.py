"""PostgreSQL restarted under a load (DESIGN §5; the 503 mapping in api/errors.py; the projection
worker's reconnect in projections/worker.py).

The API runs as `python -m api.cli serve --projections worker` and one `python -m api.cli projections
run` worker follows the logs (subprocesses). A load thread drives commands over HTTP as a careful
client would: creates carry an Idempotency-Key and are retried with it after a 503 (DESIGN §4: a retry
after a crash cannot create twice); actions go without one. PostgreSQL is stopped with
`pg_ctlcluster … stop -m fast` and started again in a finally block. It stays down until one request
of each kind sent at the start of the outage has been answered (a command reaches its 503 only after
the event store's retries, about 20 s), so the outage lasts about 20–30 s.

- While it is down the API answers 503 application/problem+json with Retry-After, never a 500 and
  never a dropped connection: commands with and without Idempotency-Key, an aggregate read, read-model
  reads (plain and with min_position), /ready.
- Within 10 s of PostgreSQL accepting connections again each of those is answered 2xx, and no request
  sent after that is answered 503.
- The worker (the same process) reconnects by itself and catches up, applying every event once.
- No acknowledged command is lost: every 2xx answer's aggregate is stored, at least at that version.

Every broken promise is collected and reported together at the end, so one run shows them all.
"""
import os
import subprocess
import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest

from tests.concurrency.live import (
    ADMIN,
    Load,
    Server,
    check_acknowledged_stored,
    check_applied_exactly_once,
    linli_env,
    projection_worker,
    wait_caught_up,
    wait_until,
)

pytestmark = pytest.mark.postgres

DOWN_SECONDS = 6
RECOVERY_SECONDS = 10


def cluster() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".") if p.isdigit()])
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


def stop_postgres() -> None:
    subprocess.run([*cluster(), "stop", "-m", "fast"], check=True, timeout=120, capture_output=True)


def start_postgres(pg_url: str) -> None:
    """Start the cluster (tolerating one already running) and wait until it accepts connections."""
    subprocess.run([*cluster(), "start"], check=False, timeout=120, capture_output=True)

    def accepting() -> bool:
        try:
            with psycopg.connect(pg_url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    wait_until(accepting, 180, "PostgreSQL did not accept connections after a restart", interval=0.2)


def is_unavailable(response: httpx.Response) -> bool:
    return (response.status_code == 503 and response.headers.get("content-type", "").startswith(
        "application/problem+json") and response.json().get("status") == 503
        and bool(response.headers.get("retry-after")))


def describe(response: httpx.Response | BaseException) -> str:
    if isinstance(response, BaseException):
        return f"no HTTP answer: {response!r}"
    return f"{response.request.method} {response.request.url.path} → {response.status_code} {response.text[:200]}"


class Probe:
    """The test's own client: one request of each kind, each on its own connection and thread."""

    def __init__(self, url: str):
        self.url, self.serial = url, iter(range(1, 1_000_000))

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=180) as client:
            return client.request(method, path, **kwargs)

    def command(self, keyed: bool) -> httpx.Response:
        n = next(self.serial)
        key = {"Idempotency-Key": f"probe-{n}"} if keyed else {}
        return self.request("POST", "/grids", json={"code": f"OUT{n}", "name": f"网格{n}", "type": "街区型",
                                                    "district": "鼓楼区"}, headers={**ADMIN, **key})

    def kinds(self, demand_id: str, position: str) -> dict:
        """What a client may ask, by kind: commands (with and without Idempotency-Key), an aggregate read
        from the event store, read-model reads (plain, with min_position), readiness."""
        return {"command": lambda: self.command(False),
                "command with Idempotency-Key": lambda: self.command(True),
                "GET /demands/{id}": lambda: self.request("GET", f"/demands/{demand_id}", headers=ADMIN),
                "GET /demands": lambda: self.request("GET", "/demands", params={"page_size": 5}),
                "GET /stats?min_position": lambda: self.request("GET", "/stats", params={"min_position": position}),
                "GET /ready": lambda: self.request("GET", "/ready")}

    @staticmethod
    def all_at_once(calls: dict) -> dict[str, tuple[httpx.Response | BaseException, float]]:
        """Run every call on its own thread; (response or error, seconds taken) by name."""
        found = {}

        def run(name, call):
            started = time.monotonic()
            try:
                found[name] = (call(), time.monotonic() - started)
            except Exception as error:  # noqa: BLE001 - reported as no HTTP answer
                found[name] = (error, time.monotonic() - started)

        threads = [threading.Thread(target=run, args=item, daemon=True) for item in calls.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
        return found


def test_api_answers_503_while_postgres_is_down_and_recovers_without_losing_commands(pg_url, pg_schema, system, procs,
                                                                                     tmp_path):
    env = linli_env(pg_url, pg_schema)
    server, worker = Server(env, tmp_path), projection_worker(env, tmp_path)
    procs += [server, worker]
    server.start()
    worker.start().wait_for_log("leading", 120, count=len(system.projector.views))
    load = Load(server.url, seed=3, idempotency_keys=True).start()
    probe = Probe(server.url)
    failures: list[str] = []  # every broken promise, reported together at the end

    try:
        load.wait_for_acks(40, 120)
        kinds = probe.kinds(next(a.id for a in load.acks if a.kind == "demand"), load.acks[-1].position)
        stop_postgres()
        down_at = time.monotonic()
        try:
            # while PostgreSQL is away, one request of each kind; it stays away until all are answered
            down = probe.all_at_once(kinds)
            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_at)))
        finally:
            start_postgres(pg_url)
        up_at = time.monotonic()
        print(f"PostgreSQL was down {up_at - down_at:.1f}s; answers while down: "
              + "; ".join(f"{name} {getattr(r, 'status_code', r)!s:.60} in {t:.1f}s" for name, (r, t) in down.items()))
        failures += [f"while down, {name}: {describe(r)}" for name, (r, _) in down.items()
                     if not (isinstance(r, httpx.Response) and is_unavailable(r))]

        # every kind of request is answered 2xx again within 10 s of PostgreSQL accepting connections
        recovered: dict[str, float] = {}
        last: dict[str, str] = {}
        while len(recovered) < len(kinds) and time.monotonic() - up_at < 120:
            for name, (response, _) in probe.all_at_once(
                    {k: v for k, v in kinds.items() if k not in recovered}).items():
                if isinstance(response, httpx.Response) and 200 <= response.status_code < 300:
                    recovered[name] = time.monotonic() - up_at
                else:
                    last[name] = describe(response)
            time.sleep(0.2)
        recovered_at = time.monotonic()
        print("answered 2xx again after: " + "; ".join(f"{n} {t:.1f}s" for n, t in recovered.items()))
        failures += [f"{name} answered 2xx only {t:.1f}s after PostgreSQL was back" for name, t in recovered.items()
                     if t > RECOVERY_SECONDS]
        failures += [f"{name} not answered 2xx within 120s of PostgreSQL being back; last: {last.get(name)}"
                     for name in kinds if name not in recovered]
        try:
            load.wait_for_acks(len(load.acks) + 30, 180)
        except AssertionError as error:
            failures.append(str(error))
    finally:
        load.finish()

    statuses = Counter(a.status for a in load.answers)
    print(f"load answers by status: {dict(statuses)}; {len(load.acks)} acknowledged")
    failures += [f"load: {a.method} {a.path} (Idempotency-Key: {a.keyed}) answered {a.status or 'nothing'} "
                 f"{a.detail[:150]}" for a in load.answers if not (200 <= a.status < 300 or a.status in (409, 503))]
    failures += [f"load: a 503 without problem+json and Retry-After: {a}" for a in load.answers
                 if a.status == 503 and not (a.content_type.startswith("application/problem+json") and a.retry_after)]
    failures += [f"load: 503 for a request sent after every kind had recovered: {a}" for a in load.answers
                 if a.status == 503 and a.sent > recovered_at]
    # a 409 may answer the retry of a create that the outage interrupted after it had committed
    print(f"409 answers: {Counter((a.path.split('/')[1], a.problem) for a in load.answers if a.status == 409)}")

    if not server.alive:
        failures.append(f"the server died\n{server.tail()}")
    if not (worker.alive and worker.starts == 1):
        failures.append(f"the worker died\n{worker.tail()}")
    try:
        check_acknowledged_stored(system, load.acks)
        started = time.monotonic()
        wait_caught_up(system, 120, worker)  # the same worker process, reconnected by itself
        print(f"worker caught up {time.monotonic() - started:.1f}s after the load ended")
        assert "database unavailable" in worker.log(), worker.tail()
        check_applied_exactly_once(system)
    except AssertionError as error:
        failures.append(str(error))
    assert not failures, f"{len(failures)} failure(s):\n" + "\n".join(failures[:25]) + (
        f"\n… and {len(failures) - 25} more" if len(failures) > 25 else "")
