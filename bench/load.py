"""A closed-loop HTTP load in Python: N clients each run episodes back to back until the time is up.

It drives the sequential query latencies, and the loads when wrk is not installed (bench/wrk.py);
both clients summarise their answers the same way (`summarise`)."""
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)

    async def call(self, client: httpx.AsyncClient, method: str, url: str, **kwargs) -> httpx.Response:
        started = time.perf_counter()
        response = await client.request(method, url, **kwargs)
        self.latencies.append(time.perf_counter() - started)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 400:
            kind = response.headers.get("content-type", "").startswith("application/problem+json")
            key = f"{response.status_code} {response.json()['type'].removeprefix('/problems/') if kind else ''}"
            self.problems[key] = self.problems.get(key, 0) + 1
        return response

    def summary(self, seconds: float) -> dict:
        lat = sorted(self.latencies)
        pick = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2)) if lat else (lambda q: None)
        return summarise(self.statuses, self.problems, 0, 0, seconds, p50_ms=pick(0.50), p99_ms=pick(0.99),
                         mean_ms=round(statistics.fmean(lat) * 1000, 2) if lat else None, client="python")


def summarise(statuses: dict[int, int], problems: dict[str, int], timeouts: int, socket_errors: int, seconds: float,
              **latency) -> dict:
    """Throughput, latency, and every answer that was not 2xx, split as the bench reports them;
    `problems` counts the 4xx/5xx by status and problem type ("409 duplicate-claim")."""
    answered = sum(statuses.values())
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    split = {"409": statuses.get(409, 0), "503": statuses.get(503, 0),
             "5xx": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
             "other_4xx": sum(n for s, n in statuses.items() if 400 <= s < 500 and s != 409),
             "timeouts": timeouts, "socket_errors": socket_errors}
    return {"requests": answered, "ok": ok, "per_second": round(answered / seconds, 1),
            "ok_per_second": round(ok / seconds, 1), "seconds": round(seconds, 2), **latency,
            "errors": sum(split.values()), "error_split": split, "statuses": dict(sorted(statuses.items())),
            "problems": dict(sorted(problems.items()))}


Episode = Callable[[httpx.AsyncClient, Tally, int, int], Awaitable[None]]


async def _client(base: str, episode: Episode, tally: Tally, index: int, deadline: float) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        n = 0
        while time.perf_counter() < deadline:
            await episode(client, tally, index, n)
            n += 1


def run(base: str, episode: Episode, clients: int, seconds: float) -> dict:
    """Run `clients` concurrent loops of `episode` for `seconds`; summary of every request made."""
    tally = Tally()

    async def main() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(_client(base, episode, tally, i, deadline) for i in range(clients)))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    return tally.summary(elapsed)


def latency(base: str, paths: list[str], headers: dict, repeat: int) -> dict:
    """p50 / p99 of GETs issued one after another (query latency, not throughput)."""
    tally = Tally()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as client:
            for _ in range(repeat):
                for path in paths:
                    await tally.call(client, "GET", path)

    asyncio.run(main())
    summary = tally.summary(1.0)
    return {k: summary[k] for k in ("requests", "p50_ms", "p99_ms", "errors")}
