"""The outermost middleware: names every request, bounds what a client may send, and refuses
what PostgreSQL cannot store.

A body is read in chunks up to `LINLI_MAX_BODY_BYTES` (a Content-Length above it is refused
before anything is read; 413), within `LINLI_BODY_TIMEOUT_SECONDS` (408), before anything parses
it. A client's `X-Request-ID` becomes the correlation id of the events it causes, so it is kept
only when short and plain; any other is replaced by a fresh one.

Pure ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs each
request through an extra task group and memory streams, which cost about as much CPU as the
rest of a cheap request (docs/performance.md)."""
import asyncio
import re
from uuid import uuid4

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem

BODY_METHODS = ("POST", "PUT", "PATCH")
PLAIN_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class BodyTooLargeError(Exception):
    pass


def request_id(headers: Headers) -> str:
    given = headers.get("x-request-id") or ""
    return given if PLAIN_REQUEST_ID.fullmatch(given) else str(uuid4())


def has_nul(raw: bytes) -> bool:
    """U+0000, raw or as a JSON escape: PostgreSQL text cannot hold it."""
    return b"\x00" in raw or b"\\u0000" in raw.lower()


class RequestGate:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        named = request_id(headers)
        scope.setdefault("state", {})["request_id"] = named  # read as request.state.request_id
        echo = (b"x-request-id", named.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), echo]
            await send(message)

        body = b""
        if scope["method"] in BODY_METHODS:
            settings = scope["app"].state.linli.settings
            try:
                body, receive = await asyncio.wait_for(_buffered(receive, headers, settings.max_body_bytes),
                                                       settings.body_timeout_seconds)
            except BodyTooLargeError:
                refused = problem(413, "body-too-large", f"a request body may hold at most {settings.max_body_bytes} "
                                  "bytes", headers={"Connection": "close"})
                return await refused(scope, receive, send_with_id)
            except TimeoutError:
                refused = problem(408, "body-timeout", f"the body did not arrive within "
                                  f"{settings.body_timeout_seconds:g} s", headers={"Connection": "close"})
                return await refused(scope, receive, send_with_id)
        if b"%00" in scope.get("query_string", b"") or has_nul(body):
            refused = problem(422, "validation", "text must not contain NUL (U+0000) characters")
            return await refused(scope, receive, send_with_id)
        await self.app(scope, receive, send_with_id)


async def _buffered(receive: Receive, headers: Headers, limit: int) -> tuple[bytes, Receive]:
    """Read the whole body once (refusing one larger than `limit` as soon as it is), and a
    `receive` that hands it on to the app."""
    declared = headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks, more, size = [], True, 0
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"", _replay(message, receive)
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise BodyTooLargeError
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, _replay({"type": "http.request", "body": body, "more_body": False}, receive)


def _replay(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def again() -> Message:
        return pending.pop() if pending else await receive()

    return again
