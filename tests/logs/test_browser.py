"""The instance page's live log in a real browser (Chromium via Playwright), served by the
ASGI application under uvicorn (pytest-django's live server is WSGI: no WebSockets), with
the real Celery worker running the workflow."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from apps.engine.models import WorkflowInstance
from tests.browser.conftest import offline_page
from tests.engine.conftest import wait_for
from tests.engine.test_steps_e2e import command, step
from tests.logs.conftest import append

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.xdist_group("worker")]
DONE = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}
EMIT = (
    "for i in $(seq 1 40); do echo \"out $i\"; "
    "if [ $((i % 10)) -eq 0 ]; then echo \"warn $i\" >&2; fi; sleep 0.1; done; "
    "printf '\\033[1;31mred alert\\033[0m and \\033]0;title\\007plain\\n'"
)


@pytest.fixture
def asgi_server(worker) -> Iterator[str]:
    """config.asgi.application under uvicorn on a free port, in a thread of this process
    (so it uses the test database)."""
    from config.asgi import application

    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=0, lifespan="off",
                                          log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def live_page(browser: Browser, asgi_server: str) -> Iterator[Page]:
    with offline_page(browser, asgi_server, accept_downloads=True) as page:
        yield page


def log_text(page: Page) -> str:
    return page.locator("#live-log-view").inner_text()


def test_watch_a_run_live_pause_search_filter_and_download(
    live_page, login, operator, make_workflow, run, localhost
):
    page = live_page
    definition = make_workflow([
        command("emit", EMIT, on_success="verify"),
        step("verify", "command", {"command": "echo verified"}),
    ])
    login(page, operator)
    instance = run(definition, hosts=[localhost.pk])
    page.goto(f"/instances/{instance.pk}/")
    page.evaluate("window.__notReloaded = true")

    view = page.locator("#live-log-view")
    expect(page.locator("#live-log")).to_be_visible()
    expect(page.locator("#instance-log")).to_be_hidden()  # the server-rendered list makes way
    expect(view).to_contain_text("out 1")
    expect(page.locator("#live-log-state")).to_have_text("Live")
    expect(view).to_contain_text("out 12")  # arriving while we watch

    # Pause auto-scroll: the view stays where it is while lines keep coming.
    page.get_by_role("button", name="Pause auto-scroll").click()
    expect(page.get_by_role("button", name="Resume auto-scroll", exact=True)).to_have_attribute("aria-pressed", "true")
    view.evaluate("el => { el.scrollTop = 0; }")
    expect(page.locator("#live-log-new")).to_be_visible()
    expect(view.locator(".live-log-row").first).to_contain_text("out 1")
    page.get_by_role("button", name="Resume auto-scroll", exact=True).click()
    expect(page.locator("#live-log-new")).to_be_hidden()

    expect(page.locator("#live-log-state")).to_have_text(re.compile(r"Run succeeded: the log is complete"),
                                                         timeout=30_000)
    expect(view).to_contain_text("verified")
    # The step list followed the statuses live.
    expect(page.locator('#live-log .live-log-step[data-step="emit"] .status')).to_have_attribute(
        "data-status", "succeeded")
    expect(page.locator('#live-log .live-log-step[data-step="verify"] .status')).to_have_attribute(
        "data-status", "succeeded")

    # Colours are rendered, escape codes never shown.
    red = view.locator(".ansi-fg-1.ansi-bold", has_text="red alert")
    expect(red).to_be_visible()
    assert "\x1b" not in log_text(page) and "[31m" not in log_text(page) and "title" not in log_text(page)

    # Search: every match highlighted, the current one distinct, next / previous.
    page.get_by_label("Search", exact=True).fill("warn")
    expect(page.locator("#live-log-matches")).to_have_text("4 of 4")
    expect(view.locator("mark.current")).to_have_text("warn")
    expect(view.locator(".live-log-row", has=page.locator("mark.current"))).to_contain_text("warn 40")
    page.get_by_role("button", name="Previous match").click()
    expect(page.locator("#live-log-matches")).to_have_text("3 of 4")
    expect(view.locator(".live-log-row", has=page.locator("mark.current"))).to_contain_text("warn 30")
    page.get_by_label("Search", exact=True).press("Enter")
    expect(page.locator("#live-log-matches")).to_have_text("4 of 4")
    page.get_by_label("Search", exact=True).fill("")

    # Errors only (stderr and system), then one step.
    page.get_by_label("Errors").check()
    expect(view).to_contain_text("warn 20")
    expect(view).not_to_contain_text("out 5")
    page.get_by_label("All", exact=True).check()
    page.locator('#live-log .live-log-step[data-step="verify"]').click()
    expect(view.locator(".live-log-row")).to_have_count(1)
    expect(view).to_contain_text("verified")
    page.locator('#live-log .live-log-host[data-step="verify"][data-host="localhost"]').click()
    expect(view.locator(".live-log-row")).to_have_count(1)

    with page.expect_download() as info:
        page.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == f"opsflow-run-{instance.pk}-verify-localhost.log"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert re.fullmatch(r"\S+Z \[verify/localhost\] stdout: verified\n", text)
    assert page.evaluate("window.__notReloaded") is True


def test_a_hidden_tab_stops_streaming_and_catches_up_when_shown(live_page, login, operator, org):
    page = live_page
    instance = WorkflowInstance.objects.create(organization=org, workflow_name="quiet", snapshot={},
                                               status="running")
    append(instance, 3)
    login(page, operator)
    page.goto(f"/instances/{instance.pk}/")
    view = page.locator("#live-log-view")
    expect(view).to_contain_text("line 2")
    expect(page.locator("#live-log-state")).to_have_text("Live")

    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {value: true, configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    expect(page.locator("#live-log-state")).to_have_text("Paused while this tab is hidden")
    append(instance, 2, start=3)
    page.wait_for_timeout(700)
    expect(view).not_to_contain_text("line 4")  # not streaming while hidden

    page.evaluate("""() => {
        Object.defineProperty(document, "hidden", {value: false, configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    expect(view).to_contain_text("line 4")
    expect(page.locator("#live-log-state")).to_have_text("Live")
    assert view.locator(".live-log-row").evaluate_all("rows => rows.map(r => +r.dataset.seq)") == [1, 2, 3, 4, 5]


def test_a_100000_line_job_stays_responsive(live_page, login, operator, make_workflow, run, localhost):
    page = live_page
    definition = make_workflow([command("flood", "seq 1 100000 | sed 's/^/row /'")])
    login(page, operator)
    instance = run(definition, hosts=[localhost.pk])
    page.goto(f"/instances/{instance.pk}/")
    view = page.locator("#live-log-view")

    expect(view).to_contain_text("row 100000", timeout=60_000)
    wait_for(instance, status=DONE)
    assert view.locator(".live-log-row").count() < 150  # only the rows in view are in the DOM
    started = time.monotonic()
    page.get_by_label("Search", exact=True).fill("row 4242")
    expect(page.locator("#live-log-matches")).to_have_text("11 of 11")  # 4242, 42420..42429
    expect(view.locator("mark.current")).to_be_visible()
    assert time.monotonic() - started < 5
    assert page.evaluate("document.querySelectorAll('#live-log-view .live-log-row').length") < 150


def test_a_finished_runs_page_shows_its_whole_log(live_page, login, operator, make_workflow, run, localhost):
    """Opened after the run ended: the terminal status comes with the replay, and the
    panel must not stop at it before the stored lines are shown (issue #12, item 2)."""
    page = live_page
    definition = make_workflow([
        command("check", "echo disk ok; echo load ok >&2", on_success="report"),
        step("report", "command", {"command": "echo all good"}),
    ])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status=DONE)
    assert instance.status == "succeeded"
    login(page, operator)
    page.goto(f"/instances/{instance.pk}/")

    expect(page.locator("#live-log-state")).to_have_text("Run succeeded: the log is complete")
    view = page.locator("#live-log-view")
    rows = view.locator(".live-log-row")
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("rows => rows.map(r => +r.dataset.seq)") == [1, 2, 3]
    for text in ("disk ok", "load ok", "all good"):
        expect(view).to_contain_text(text)
    expect(view).not_to_contain_text("No log lines")
