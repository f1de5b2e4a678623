"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Never downloads a browser: Chromium comes from `apt-get install chromium`. Each test gets
a fresh browser context (cookies, storage); the browser process is shared by the session
and runs with a fresh, temporary profile directory under pytest's tmp dir."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import PASSWORD
from tests.portal.fixtures import acme, globex, member_of_both  # noqa: F401 - fixtures

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# to set up data are still synchronous and safe here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@contextmanager
def _tmpdir_for_children(path: Path) -> Iterator[None]:
    """Playwright's driver creates Chromium's profile (`--user-data-dir`) in its TMPDIR."""
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous


# Module scope: while Playwright is started, its event loop runs in this thread, and code
# that other tests run here (channels' async_to_sync) refuses to run beside it.
@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's package (apt-get install chromium).")
    with _tmpdir_for_children(tmp_path_factory.mktemp("chromium-profile")):
        playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    """A page in a new context, pointed at the live server. Any request to another host
    fails the test: the portal must work with no network (no CDN, no fonts)."""
    with offline_page(browser, live_server.url) as page:
        yield page


@contextmanager
def offline_page(browser: Browser, base_url: str, **options: Any) -> Iterator[Page]:
    """A page in a new browser context (`options` for it) pointed at `base_url`, allowed
    to reach that server only: any other request fails the test when the page closes."""
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    allowed = urlsplit(base_url).netloc
    outside: list[str] = []

    def guard(route, request) -> None:
        if urlsplit(request.url).netloc == allowed or request.url.startswith(("data:", "about:")):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    yield page
    context.close()
    assert not outside, f"the page reached outside {base_url}: {outside}"


@pytest.fixture
def login() -> Callable[..., Page]:
    """login(page, user): log in through the login form; the dashboard (or the
    organization choice) is showing when it returns."""

    def do_login(page: Page, user, password: str = PASSWORD) -> Page:
        page.goto("/login/")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text(f"Signed in as {user.get_username()}")).to_be_visible()
        return page

    return do_login
