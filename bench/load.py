"""A closed-loop HTTP load: N clients each run episodes back to back until the time is up.

The same client drives the CRUD peer and Linli, so their figures compare."""
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    async def call(self, client: httpx.AsyncClient, method: str, url: str, ok=(200, 201), **kwargs) -> httpx.Response:
        started = time.perf_counter()
        response = await client.request(method, url, **kwargs)
        self.latencies.append(time.perf_counter() - started)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if response.status_code not in ok:
            self.errors += 1
        return response

    def summary(self, seconds: float) -> dict:
        lat = sorted(self.latencies)
        pick = (lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2)) if lat else (lambda q: None)
        return {"requests": len(lat), "per_second": round(len(lat) / seconds, 1), "p50_ms": pick(0.50),
                "p99_ms": pick(0.99), "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
                "errors": self.errors, "statuses": self.statuses}


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
