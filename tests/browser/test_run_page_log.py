"""The run page's log panel follows the step chosen in the graph or the timeline ("Click
any step to view its output in the log panel"), and sits beside the steps on a wide
screen, below them on a narrow one. No worker runs: the rows are written directly."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.engine.models import WorkflowInstance
from tests.browser.conftest import offline_page
from tests.instances_portal.controls_data import make_jobs, make_row, make_run
from tests.instances_portal.data import make_log

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
HOSTS = ("web-1", "web-2", "web-3")


@pytest.fixture
def six_step_run(org) -> WorkflowInstance:
    """deploy: plan, fork (left, right), apply (failed on web-2), cleanup; each with jobs on
    three hosts and a log line per host."""
    started = timezone.now() - timedelta(minutes=6)
    run = make_run(org, "failed", started_at=started, finished_at=started + timedelta(minutes=5))
    for step_id in ("plan", "fork", "left", "right"):
        make_jobs(make_row(run, step_id, "succeeded", started_at=started, finished_at=started))
    make_jobs(make_row(run, "apply", "failed", started_at=started, finished_at=started,
                       error_class="NonZeroExit", error_message="exit 1 on web-2"), failed_on=("web-2",))
    make_row(run, "cleanup", "succeeded", started_at=started, finished_at=started)
    for step_id in ("plan", "left", "right", "apply", "cleanup"):
        for host in HOSTS:
            make_log(run, step_id, host, "stdout", f"{step_id} said hello on {host}")
    make_log(run, "apply", "web-2", "stderr", "E: could not lock /var/lib/dpkg/lock")
    return run


def expect_log_of(page: Page, step_id: str, rows: int) -> None:
    expect(page.locator(f'#live-log .live-log-step[data-step="{step_id}"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#live-log-view .live-log-row .log-step")).to_have_text([step_id] * rows)


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not laid out"
    return found


def test_choosing_a_step_in_the_graph_or_the_timeline_shows_its_log(browser, live_server, login, operator,
                                                                    six_step_run):
    with offline_page(browser, live_server.url, viewport={"width": 1400, "height": 900}) as page:
        login(page, operator)
        page.goto(f"/instances/{six_step_run.pk}/")
        expect(page.locator("#live-log-view .live-log-row")).to_have_count(16)  # all steps to begin with

        page.locator('#run-dag [data-step="apply"]').click()
        expect_log_of(page, "apply", 4)
        expect(page.locator("#live-log-view")).to_contain_text("could not lock")
        expect(page.locator("#step-apply")).to_have_class(re.compile("is-selected"))  # the timeline follows too

        page.locator("#step-left .step-title").click()  # a step's card in the timeline
        expect_log_of(page, "left", 3)
        expect(page.locator('#run-dag [data-step="left"]')).to_have_attribute("aria-pressed", "true")

        page.locator("#step-plan").get_by_role("button", name="Show log").click()
        expect_log_of(page, "plan", 3)

        page.locator("#step-right .step-meta").click()
        expect_log_of(page, "right", 3)
        page.locator('#live-log .live-log-step[data-step=""]').click()  # the panel's own selector still rules
        expect(page.locator("#live-log-view .live-log-row")).to_have_count(16)


def test_the_log_sits_beside_the_steps_on_a_wide_screen(browser, live_server, login, operator, six_step_run):
    with offline_page(browser, live_server.url, viewport={"width": 1400, "height": 900}) as page:
        login(page, operator)
        page.goto(f"/instances/{six_step_run.pk}/")
        expect(page.locator("#live-log")).to_be_visible()
        log, timeline, progress = box(page, "#log"), box(page, "#timeline"), box(page, "#progress")
        assert log["x"] >= timeline["x"] + timeline["width"], (log, timeline)  # beside, to the right
        assert log["y"] <= progress["y"] + 1, (log, progress)  # from the top of the steps, not below them
        expect(page.locator("#live-log-view")).to_be_in_viewport()  # on the first screen
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        # Scrolled down to the last step, the log is still in view beside it.
        page.locator("#step-cleanup .step-title").click()
        page.locator("#step-cleanup").scroll_into_view_if_needed()
        expect(page.locator("#live-log-view")).to_be_in_viewport()
        expect_log_of(page, "cleanup", 3)


def test_the_log_stacks_below_the_steps_on_a_narrow_screen(browser, live_server, login, operator, six_step_run):
    with offline_page(browser, live_server.url, viewport={"width": 800, "height": 900}) as page:
        login(page, operator)
        page.goto(f"/instances/{six_step_run.pk}/")
        expect(page.locator("#live-log")).to_be_visible()
        log, timeline = box(page, "#log"), box(page, "#timeline")
        assert log["y"] >= timeline["y"] + timeline["height"], (log, timeline)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        page.locator("#step-apply").get_by_role("button", name="Show log").click()  # takes the reader there
        expect_log_of(page, "apply", 4)
        expect(page.locator("#live-log-view")).to_be_in_viewport()
