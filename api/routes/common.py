"""What every router shares: the wired system, ids, metadata, ETags and positions."""
import asyncio
import re
import time
from typing import Annotated
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import caller
from api.wiring import Linli
from domain.actors import Actor
from domain.errors import StaleVersionError
from workflows.engine import Meta, Outcome

ID_NAMESPACE = uuid5(NAMESPACE_URL, "https://linli/ids")
POLL_SECONDS = 0.05
# Every number a query carries is bounded, so none reaches a database that cannot hold it (SQLite
# and PostgreSQL integers are 64-bit); digits are ASCII only (Python's int() also reads '٣').
MAX_POSITION = 2**63 - 1
ASCII_NUMBER = re.compile(r"[0-9]{1,19}")
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]
Position = Annotated[int, Query(ge=0, le=MAX_POSITION)]
Filter = Annotated[str | None, Query(max_length=200)]  # an id, a status, a category to match


async def linli(request: Request) -> Linli:
    """Async because it does no I/O: FastAPI runs sync dependencies on its thread pool."""
    return request.app.state.linli


System = Annotated[Linli, Depends(linli)]


def new_id(request: Request, actor: Actor) -> UUID:
    """With an Idempotency-Key the id derives from the caller's token (its id: the scope of the
    key's stored reply), the path and the key, so a retry cannot create twice and the same key
    used on another path or by another token creates its own record."""
    key = request.headers.get("idempotency-key")
    if not key:
        return uuid4()
    holder = caller(request)
    return uuid5(ID_NAMESPACE, f"{holder.token_id if holder else actor.id}:{request.url.path}:{key}")


def is_fresh(request: Request) -> bool:
    """Whether `new_id` minted a random id (no Idempotency-Key): no stored record can have it."""
    return not request.headers.get("idempotency-key")


def meta(request: Request, actor: Actor, reason: str | None = None) -> Meta:
    return Meta(actor, correlation_id=request.state.request_id, reason=reason)


def if_match(request: Request) -> int | None:
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    number = header.strip().removeprefix("W/").strip('"')
    if not ASCII_NUMBER.fullmatch(number):
        raise StaleVersionError(-1, -1)
    return int(number)


def reply(body: dict, version: int | None = None, status: int = 200, outcome: Outcome | None = None,
          context: str | None = None) -> JSONResponse:
    """A resource reply; a command's reply also carries its log position (the engine projected it
    already: api/wiring.py installs inline projection as an after-commit hook)."""
    if outcome is not None and outcome.position is not None:
        body = {**body, "position": f"{context}:{outcome.position}"}
    headers = {"ETag": f'"{version}"'} if version is not None else None
    return JSONResponse(body, status, headers=headers)


def parse_positions(raw: str | None) -> dict[str, int]:
    if not raw:
        return {}
    wanted = {}
    for part in raw.split(","):
        context, _, number = part.strip().rpartition(":")
        if not context or not ASCII_NUMBER.fullmatch(number) or int(number) > MAX_POSITION:
            raise HTTPException(422, "min_position looks like 'demands:42' (comma-separated for several)")
        wanted[context] = max(wanted.get(context, 0), int(number))
    return wanted


class PositionWaits:
    """How many reads of this process wait for read models now (they wait on the event loop, one
    short thread-pool check at a time, so none holds a worker thread); past the limit a read is
    refused at once (503 with Retry-After) rather than queued."""

    def __init__(self, limit: int):
        self.limit, self.waiting = limit, 0


def _reached(system: Linli, wanted: dict[str, int], stopped: set[tuple[str, str]]) -> bool:
    system.project()
    positions = system.projector.positions()
    return all(p[c] >= n for v, p in positions.items() for c, n in wanted.items() if (v, c) not in stopped)


def _first_look(system: Linli, wanted: dict[str, int]) -> set[tuple[str, str]] | None:
    """None when the read models are there already, else the views to leave out of the wait: a
    read model stopped at an event it cannot apply is not waited for (/ready names it)."""
    heads = system.projector.heads()
    past = sorted(c for c, n in wanted.items() if n > heads[c])
    if past:  # a command's reply names a stored position, so this one names none
        raise HTTPException(422, f"min_position is past the end of the log of: {', '.join(past)}")
    stopped = {(s.view, s.context) for s in system.projector.stops()}
    return None if _reached(system, wanted, stopped) else stopped


async def caught_up(request: Request, min_position: Annotated[str | None, Query(
        max_length=200, description="wait until read models reach e.g. 'demands:42'")] = None) -> None:
    """Hold a read until its read models have applied the named log positions, for at most
    LINLI_POSITION_WAIT_SECONDS (then 503 with Retry-After)."""
    wanted = parse_positions(min_position)
    if not wanted:
        return
    system: Linli = request.app.state.linli
    unknown = set(wanted) - set(system.contexts)
    if unknown:
        raise HTTPException(422, f"unknown context in min_position: {', '.join(sorted(unknown))}")
    stopped = await run_in_threadpool(_first_look, system, wanted)
    if stopped is None:
        return
    waits: PositionWaits = request.app.state.position_waits
    if waits.waiting >= waits.limit:
        raise HTTPException(503, "too many reads are waiting for read models", headers={"Retry-After": "1"})
    waits.waiting += 1
    try:
        deadline = time.monotonic() + system.settings.position_wait_seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            if await run_in_threadpool(_reached, system, wanted, stopped):
                return
        raise HTTPException(503, "read models have not caught up yet", headers={"Retry-After": "1"})
    finally:
        waits.waiting -= 1


CaughtUp = Annotated[None, Depends(caught_up)]
