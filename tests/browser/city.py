"""The test city behind the browser: parties and records made through the server's JSON API (as
tests/support.py's Api does for in-process tests), and signing in through the console's form."""
from datetime import datetime, timedelta
from types import SimpleNamespace

import httpx

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails under LINLI_REQUIRE_BROWSER=1, saying why
    expect = None

from domain.city import CITY_TZ
from tests.support import Api, Party
from workflows.clock import SystemClock


class ServerClock(SystemClock):
    """The live server dates events by its own wall clock, which moves by itself: a test has
    nothing to advance between claims (tests/support.py's Api advances an in-process fake clock)."""

    def advance(self, **_) -> None:
        pass


def city(server: str) -> Api:
    return Api(httpx.Client(base_url=server, timeout=30), SimpleNamespace(clock=ServerClock()))


def token_of(party: Party) -> str:
    return party.headers["Authorization"].removeprefix("Bearer ")


def sign_in(page, party: Party) -> None:
    page.goto("/console/signin")
    page.get_by_label("令牌").fill(token_of(party))
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("已登录")


def sign_out(page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page.locator(".flash")).to_contain_text("已退出")


def local(days: float, hour: int = 10) -> datetime:
    """A city-time moment `days` from now at `hour` o'clock."""
    return (datetime.now(CITY_TZ) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def action(page, trigger: str, within=None):
    """The form of one allowed action (its button and its fields)."""
    scope = within if within is not None else page
    return scope.locator("form.action", has=page.locator(f'button[data-trigger="{trigger}"]'))
