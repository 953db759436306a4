"""The outermost middleware: names every request and refuses what PostgreSQL cannot store.

Pure ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs each
request through an extra task group and memory streams, which cost about as much CPU as the
rest of a cheap request (docs/performance.md)."""
from uuid import uuid4

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem

BODY_METHODS = ("POST", "PUT", "PATCH")


def has_nul(raw: bytes) -> bool:
    """U+0000, raw or as a JSON escape: PostgreSQL text cannot hold it."""
    return b"\x00" in raw or b"\\u0000" in raw.lower()


class RequestGate:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = Headers(scope=scope).get("x-request-id") or str(uuid4())
        scope.setdefault("state", {})["request_id"] = request_id  # read as request.state.request_id
        echo = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), echo]
            await send(message)

        if scope["method"] in BODY_METHODS:
            body, receive = await _buffered(receive)
        else:
            body = b""
        if b"%00" in scope.get("query_string", b"") or has_nul(body):
            refused = problem(422, "validation", "text must not contain NUL (U+0000) characters")
            return await refused(scope, receive, send_with_id)
        await self.app(scope, receive, send_with_id)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body once, and a `receive` that hands it on to the app."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"", _replay(message, receive)
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    return body, _replay({"type": "http.request", "body": body, "more_body": False}, receive)


def _replay(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def again() -> Message:
        return pending.pop() if pending else await receive()

    return again
