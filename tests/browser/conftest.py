"""The console in a real browser: Debian's Chromium driven by Playwright through the system binary
(never a downloaded browser), against a real server (`linli serve` in a subprocess, with a store of
its own: the journeys on SQLite and PostgreSQL, the page checks on SQLite). One browser for the
whole session keeps the CPU cost down.

Without Chromium or Playwright these tests skip with the reason, unless LINLI_REQUIRE_BROWSER=1
(.ci/run sets it), where that is a failure.
"""
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.concurrency.live import free_port
from tests.support import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LINLI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "var" / "screenshots"
REQUIRE = os.environ.get("LINLI_REQUIRE_BROWSER") == "1"


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (make system-packages installs it)"
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"Playwright or axe-playwright-python not installed: {error}"
    return None


@pytest.fixture(scope="session")
def browser():
    missing = _missing()
    if missing:
        if REQUIRE:
            pytest.fail(f"LINLI_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


def _serve(settings: dict):
    """`linli serve` on a free port with `settings` (environment) of its own; yields its base URL."""
    port = free_port()
    env = {**os.environ, "LINLI_ADMIN_TOKEN": ADMIN_TOKEN, "LINLI_TIMER_INTERVAL_SECONDS": "0", **settings}
    if "LINLI_DATABASE_URL" not in settings:
        env.pop("LINLI_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    yield base
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def sqlite_server(browser, tmp_path_factory):
    yield from _serve({"LINLI_DATA_DIR": str(tmp_path_factory.mktemp("console") / "var")})


@pytest.fixture(scope="session")
def postgres_server(browser, pg_url):
    schema = f"linli_console_{uuid.uuid4().hex[:12]}"
    yield from _serve({"LINLI_DATABASE_URL": pg_url, "LINLI_DATABASE_SCHEMA": schema, "LINLI_POOL_SIZE": "2"})
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request) -> str:
    """The journeys run against a server on each store."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def page(browser, server):
    """A fresh browser context (no cookies) whose every request is recorded; none may leave the server."""
    context = browser.new_context(base_url=server, locale="zh-CN", viewport={"width": 1280, "height": 900})
    made: list[str] = []
    context.on("request", lambda request: made.append(request.url))
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    outside = [url for url in made if not url.startswith((server + "/", "data:", "blob:", "about:"))]
    assert not outside, f"requests left the server: {outside}"
    assert made, "the browser made no request at all"


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
