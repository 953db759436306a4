"""Sign-in, sign-out and CSRF for the console.

Signing in checks the token as the API does (expired and revoked ones are refused) and keeps it in
an HttpOnly, SameSite=Strict cookie, so page scripts cannot read it and no other site's page can
send it. Every form carries a CSRF token: for a session, an HMAC of the session token (another site
can neither read the cookie nor compute the value); before sign-in, a random value also set as a
cookie (double submit). Nothing is kept server-side, so any API process serves any console request.
"""
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from api.auth import Holder, Unauthenticated, holder_for
from domain.actors import Actor

SESSION = "linli_session"
PRESESSION = "linli_csrf"
FLASH = "linli_flash"
ROLE_NAMES = {"admin": "平台运营", "org": "组织", "member": "党员", "dept": "部门", "auditor": "审计员"}


@dataclass(frozen=True)
class Session:
    token: str | None
    actor: Actor | None
    csrf: str

    @property
    def role(self) -> str | None:
        return self.actor.role.value if self.actor else None


def _csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"linli-console-csrf", hashlib.sha256).hexdigest()


def holder_of(request: Request, token: str) -> Holder | None:
    """The token's holder when it is valid now, as the API resolves a bearer token."""
    try:
        return holder_for(request.app.state.linli, token)
    except Unauthenticated:
        return None


def session(request: Request) -> Session:
    token = request.cookies.get(SESSION)
    holder = holder_of(request, token) if token else None
    if holder is None:
        return Session(None, None, request.cookies.get(PRESESSION) or secrets.token_urlsafe(24))
    return Session(token, holder.actor, _csrf_for(token))


def csrf_ok(request: Request, current: Session, sent: str) -> bool:
    if current.token is None:
        cookie = request.cookies.get(PRESESSION)
        return bool(cookie) and hmac.compare_digest(cookie, sent)
    return hmac.compare_digest(current.csrf, sent)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def keep_presession(request: Request, response: Response, current: Session) -> None:
    """Before sign-in, the double-submit value the page's forms carry."""
    if current.token is None and request.cookies.get(PRESESSION) != current.csrf:
        response.set_cookie(PRESESSION, current.csrf, httponly=True, samesite="strict", secure=_secure(request),
                            path="/")


def sign_in(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION, token, httponly=True, samesite="strict", secure=_secure(request), path="/")
    response.delete_cookie(PRESESSION, path="/", httponly=True, samesite="strict")


def sign_out(response: Response) -> None:
    response.delete_cookie(SESSION, path="/", httponly=True, samesite="strict")


def flash(request: Request, response: Response, kind: str, text: str) -> None:
    """One message for the next page (a refusal's words, a success), then gone."""
    from urllib.parse import quote

    response.set_cookie(FLASH, quote(f"{kind}|{text[:600]}"), httponly=True, samesite="strict",
                        secure=_secure(request), path="/", max_age=60)


def read_flash(request: Request) -> dict | None:
    from urllib.parse import unquote

    raw = request.cookies.get(FLASH)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition("|")
    return {"kind": kind if kind in ("ok", "error") else "error", "text": text}


def clear_flash(response: Response) -> None:
    response.delete_cookie(FLASH, path="/", httponly=True, samesite="strict")
