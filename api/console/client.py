"""The console speaks to the JSON API in-process, as a client with the signed-in user's token.

So there is one set of rules: every read and command goes through the same routes, visibility
checks, validation, idempotency and error mapping as a curl user's (docs/console.md says why this
beats calling route functions directly). The call never leaves the process: httpx hands the
request to the app's own ASGI callable.
"""
from dataclasses import dataclass, field

import httpx
from fastapi import Request


@dataclass
class Reply:
    status: int
    body: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def problem(self) -> dict | None:
        return None if self.ok else self.body


class Api:
    """One console request's view of the API, as the signed-in user (or anonymous)."""

    def __init__(self, request: Request, token: str | None):
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.headers["X-Request-ID"] = request.state.request_id
        self.transport = httpx.ASGITransport(app=request.app)

    async def _send(self, method: str, path: str, **kwargs) -> Reply:
        async with httpx.AsyncClient(transport=self.transport, base_url="http://console.invalid",
                                     headers=self.headers) as client:
            response = await client.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text}
        return Reply(response.status_code, body if isinstance(body, dict) else {"items": body})

    async def get(self, path: str, **params) -> Reply:
        return await self._send("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    async def post(self, path: str, body: dict | None = None, key: str | None = None) -> Reply:
        """`key` becomes the Idempotency-Key: a form sent twice (back, resubmit) acts once."""
        headers = {"Idempotency-Key": key} if key else {}
        return await self._send("POST", path, json=body or {}, headers=headers)
