"""Claims in three shapes, for Linli and the CRUD peer alike, each claim by a distinct claimant:

- private: every lane (a connection under the Python client, a wrk thread's connections under
  wrk) claims its own demands, 4 per connection, so two claims in flight rarely share a demand;
- spread: every lane claims round-robin over the same 40 demands;
- hot: every claim goes to one demand whose `needed` is below the number of claims, so both
  confirmation and waitlisting happen (抢单).

A lane's n-th claim goes to demands[(n + offset) % len(demands)] by its (n // len(demands))-th
claimant: no claimant claims one demand twice while the lane has claimants left (bench/wrk.lua)."""
import time
import uuid

import httpx

from bench import load, wrk
from bench.servers import Process
from bench.world import ClaimWorld

SHAPES = ("private", "spread", "hot")
SPREAD_DEMANDS = 40
PRIVATE_PER_CONNECTION = 4


def _split(items: list, parts: int) -> list[list]:
    size = len(items) // parts
    return [items[i * size:(i + 1) * size] for i in range(parts)]


def lanes(shape: str, private: list[str], spread: list[str], hot: str, count: int,
          tokens: list[str] | None = None) -> list[dict]:
    """The lanes of one shape's load: each lane's demands and its own claimants (Linli's member
    tokens split between the lanes, or the peer's claimant names, unique per lane)."""
    run = uuid.uuid4().hex[:6]
    demands = {"private": _split(private, count), "spread": [spread] * count, "hot": [[hot]] * count}[shape]
    found = []
    for i in range(count):
        lane = {"demands": demands[i], "offset": i * len(demands[i]) // count if shape == "spread" else 0}
        if tokens is None:
            lane["claimant"] = f"{run}-{i}-"
        else:
            lane["tokens"] = tokens[i::count]
        found.append(lane)
    return found


def drive(base: str, lanes: list[dict], seconds: float, connections: int) -> dict:
    """The lanes under wrk (one thread per lane) or, without wrk, under the Python client (one
    connection per lane)."""
    if wrk.available():
        return wrk.run(base, {"kind": "claims"}, lanes, seconds, connections)

    async def episode(client, tally, i, n):
        lane = lanes[i]
        demand = lane["demands"][(n + lane["offset"]) % len(lane["demands"])]
        if "tokens" in lane:
            token = lane["tokens"][(n // len(lane["demands"])) % len(lane["tokens"])]
            await tally.call(client, "POST", f"/demands/{demand}/claims", json={},
                             headers={"Authorization": f"Bearer {token}"})
        else:
            await tally.call(client, "POST", f"/demands/{demand}/claims", json={"claimant": f"{lane['claimant']}{n}"})

    return load.run(base, episode, len(lanes), seconds)


def lane_count(connections: int, threads: int) -> int:
    return min(threads, connections) if wrk.available() else connections


def peer_demands(base: str, connections: int, hot_needed: int) -> tuple[list[str], list[str], str]:
    with httpx.Client(base_url=base, timeout=30) as client:
        def post(needed: int) -> str:
            return client.post("/demands", json={"title": "peer", "needed": needed}).json()["id"]

        private = [post(10**9) for _ in range(connections * PRIVATE_PER_CONNECTION)]
        spread = [post(10**9) for _ in range(SPREAD_DEMANDS)]
        return private, spread, post(hot_needed)


def run_peer(base: str, connections: int, threads: int, seconds: float, hot_needed: int) -> dict:
    private, spread, hot = peer_demands(base, connections, hot_needed)
    count = lane_count(connections, threads)
    figures = {shape: drive(base, lanes(shape, private, spread, hot, count), seconds, connections)
               for shape in SHAPES}
    with httpx.Client(base_url=base, timeout=30) as client:
        figures["hot"]["confirmed"] = client.get(f"/demands/{hot}").json()["confirmed"]
    return figures


def run_linli(base: str, world: ClaimWorld, connections: int, threads: int, seconds: float,
              worker: Process) -> dict:
    """Each shape, then the seconds until the projection worker has caught up with it (so the next
    shape does not share the machine with the worker's backlog)."""
    count, figures = lane_count(connections, threads), {}
    for shape in SHAPES:
        figures[shape] = drive(base, lanes(shape, world.private, world.spread, world.hot, count, world.tokens),
                               seconds, connections)
        figures[shape]["worker_caught_up_seconds"] = caught_up(base, worker)
    return figures


def caught_up(base: str, worker: Process, limit: float = 600) -> float:
    """Seconds until /ready shows every read model at the head of every log."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        worker.check_running()
        views = httpx.get(f"{base}/ready", timeout=30).json()["projections"]
        if all(c["lag"] == 0 for contexts in views.values() for c in contexts.values()):
            return round(time.perf_counter() - started, 1)
        time.sleep(0.5)
    raise RuntimeError(f"the read models were still behind after {limit:.0f} s")
