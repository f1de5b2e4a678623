"""Operator controls on the run page in a real browser, with the real worker running the
workflows: pause then resume, cancel with a mode, terminate after typing the run number,
retry a held failed step, the progress graph following the run; and, without a worker, a
failed live refresh shown as a banner with Retry, and answering an approval from the run."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from apps.approvals.models import ApprovalRequest
from apps.audit.models import AuditEvent
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import Job
from tests.engine import conftest as engine_fixtures
from tests.engine.conftest import until, wait_for
from tests.engine.test_steps_e2e import command
from tests.instances_portal.controls_data import make_row, make_run

HEADER_STATUS = "#instance-header .instance-status .status"
# The engine tests' fixtures: a published definition, a run started by the owner, a local host.
make_workflow, run, localhost = engine_fixtures.make_workflow, engine_fixtures.run, engine_fixtures.localhost


def open_run(page: Page, instance: WorkflowInstance) -> None:
    page.goto(f"/instances/{instance.pk}/")
    expect(page.get_by_role("heading", name=re.compile(rf"Run #{instance.pk}"))).to_be_visible()


def ready(page: Page) -> None:
    """The page's scripts (deferred, modules) have run: its buttons open their dialogs."""
    page.wait_for_load_state("domcontentloaded")


def flash(page: Page):
    """The page's messages (other parts of the page have status regions of their own)."""
    return page.locator("main > ul.messages")


def action(page: Page, name: str):
    return page.locator("#instance-actions").get_by_role("button", name=name, exact=True)


def job_running(instance: WorkflowInstance, step_id: str) -> None:
    until(lambda: Job.objects.filter(instance=instance, step_id=step_id, status="running").exists(),
          message=f"no running job for {step_id}")


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_pause_then_resume_a_running_run(worker, page, login, operator, make_workflow, run, localhost):
    definition = make_workflow([command("first", "sleep 3", on_success="second"), command("second", "sleep 2")])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "first")
    login(page, operator)
    open_run(page, instance)

    action(page, "Pause").click()
    dialog = page.locator("#reason-dialog")
    expect(dialog.get_by_role("heading")).to_have_text(f"Pause run #{instance.pk}?")
    dialog.get_by_label("Reason").fill("change freeze")
    dialog.get_by_role("button", name="Pause run").click()

    expect(flash(page)).to_contain_text(re.compile(rf"Run #{instance.pk} is paus(ing|ed)"))
    expect(page.locator(HEADER_STATUS)).to_have_attribute("data-status", "paused", timeout=15_000)
    expect(page.locator("#step-first .status").first).to_have_attribute("data-status", "succeeded")
    assert not Job.objects.filter(instance=instance, step_id="second").exists()  # nothing new started
    expect(page.locator('#run-dag [data-step="second"]')).to_have_attribute("data-status", "pending")

    ready(page)
    action(page, "Resume").click()
    dialog.get_by_label("Reason").fill("freeze over")
    dialog.get_by_role("button", name="Resume run").click()

    expect(flash(page)).to_contain_text(f"Run #{instance.pk} resumed.")
    history = page.locator("#history")
    expect(history.locator('tr[data-action="instance.pause"]')).to_contain_text("change freeze")
    expect(history.locator('tr[data-action="instance.resume"]')).to_contain_text("freeze over")
    expect(page.locator(HEADER_STATUS)).to_have_attribute("data-status", "succeeded", timeout=20_000)
    expect(page.locator("#instance-actions")).to_contain_text("Re-run…")  # the live header follows the state


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_cancel_with_the_kill_mode(worker, page, login, operator, make_workflow, run, localhost):
    definition = make_workflow([command("long", "sleep 30", on_success="never"), command("never", "echo no")])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "long")
    login(page, operator)
    open_run(page, instance)

    action(page, "Cancel…").click()
    dialog = page.locator("#cancel-dialog")
    expect(dialog.get_by_role("radio", name=re.compile("^Standard"))).to_be_checked()
    dialog.get_by_role("radio", name=re.compile("^Kill")).check()
    dialog.get_by_label("Reason").fill("wrong target")
    dialog.get_by_role("button", name="Cancel run").click()

    expect(flash(page)).to_contain_text(re.compile(rf"Run #{instance.pk} is (kill-canceling|canceled)"))
    expect(page.locator(HEADER_STATUS)).to_have_attribute("data-status", "canceled", timeout=15_000)
    instance.refresh_from_db()
    assert instance.status == "canceled"
    assert not Job.objects.filter(instance=instance, status="running").exists()  # the 30 s sleep was killed
    assert not StepExecution.objects.filter(instance=instance, step_id="never").exists()
    assert AuditEvent.objects.get(action="instance.cancel.kill").data["reason"] == "wrong target"


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_terminate_after_typing_the_run_number(worker, page, login, operator, make_workflow, run, localhost):
    definition = make_workflow([command("long", "sleep 30")])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "long")
    login(page, operator)
    open_run(page, instance)

    action(page, "Terminate…").click()
    dialog = page.locator("#terminate-dialog")
    confirm = dialog.get_by_role("button", name="Terminate run")
    expect(confirm).to_be_disabled()
    dialog.get_by_label(re.compile("Type the run number")).fill(f"{instance.pk}9")
    expect(confirm).to_be_disabled()
    # The server checks the number too: a form sent around the disabled button is refused.
    dialog.evaluate("d => { d.querySelector('[data-confirm-submit]').disabled = false; "
                    "d.querySelector('form').submit(); }")
    expect(flash(page)).to_contain_text(f"Type the run number {instance.pk} to confirm.")
    instance.refresh_from_db()
    assert instance.status == "running"

    ready(page)
    action(page, "Terminate…").click()
    dialog.get_by_label("Reason").fill("runaway job")
    dialog.get_by_label(re.compile("Type the run number")).fill(str(instance.pk))
    expect(confirm).to_be_enabled()
    confirm.click()

    expect(flash(page)).to_contain_text(f"Run #{instance.pk} was terminated")
    expect(page.locator(HEADER_STATUS)).to_have_attribute("data-status", "terminated")
    expect(page.locator("#instance-header .error-box")).to_contain_text("runaway job")
    until(lambda: not Job.objects.filter(instance=instance, status="running").exists(), timeout=15,
          message="the terminated run's job still runs")


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_retry_a_held_failed_step(worker, page, login, operator, make_workflow, run, localhost, tmp_path):
    marker = tmp_path / f"flaky-{uuid.uuid4().hex}"
    flaky = f"test -f {marker} || {{ touch {marker}; exit 3; }}"
    definition = make_workflow([command("fragile", flaky, hold_on_failure=True, on_success="after"),
                                command("after", "echo after")])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="paused")
    assert instance.pause_reason == "step_failed"
    login(page, operator)
    open_run(page, instance)

    resume = page.locator('[data-control="resume"]')
    expect(resume.get_by_role("button", name="Resume")).to_be_disabled()
    expect(resume).to_contain_text("holds on failed step: retry or skip it")
    expect(page.locator('#run-dag [data-step="fragile"]')).to_have_attribute("data-status", "failed")

    page.locator("#step-fragile").get_by_role("button", name="Retry step").click()
    dialog = page.locator("#reason-dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Retry step fragile?")
    dialog.get_by_label("Reason").fill("fixed the disk")
    dialog.get_by_role("button", name="Retry step").click()

    expect(flash(page)).to_contain_text(f"Step 'fragile' of run #{instance.pk} will run again.")
    expect(page).to_have_url(re.compile(r"#step-fragile$"))
    expect(page.locator(HEADER_STATUS)).to_have_attribute("data-status", "succeeded", timeout=20_000)
    expect(page.locator('#run-dag [data-step="fragile"]')).to_have_attribute("data-status", "succeeded")
    expect(page.locator('#run-dag [data-step="after"]')).to_have_attribute("data-status", "succeeded")
    fragile = StepExecution.objects.get(instance=instance, step_id="fragile")
    assert fragile.status == "succeeded" and fragile.attempt == 2


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_the_graph_follows_the_run(worker, page, login, viewer, make_workflow, run, localhost):
    definition = make_workflow([command("build", "sleep 4", on_success="ship"), command("ship", "sleep 4")])
    instance = run(definition, hosts=[localhost.pk])
    login(page, viewer)
    open_run(page, instance)

    build = page.locator('#run-dag [data-step="build"]')
    ship = page.locator('#run-dag [data-step="ship"]')
    expect(build).to_have_attribute("data-status", "running")
    expect(build).to_have_class(re.compile("tone-active"))
    expect(build.locator("rect")).to_have_css("fill", "rgb(225, 236, 251)")  # blue
    expect(build).to_contain_text("▸ running")  # the icon and the status in words, not colour alone
    expect(ship).to_have_attribute("data-status", "pending")
    expect(ship).to_contain_text("not reached yet")
    expect(ship.locator("rect")).to_have_css("fill", "rgb(236, 239, 243)")  # gray

    expect(ship).to_have_attribute("data-status", "running", timeout=15_000)
    expect(build).to_have_attribute("data-status", "succeeded")
    expect(build.locator("rect")).to_have_css("fill", "rgb(227, 244, 232)")  # green
    expect(build).to_contain_text("✓ succeeded")
    expect(page.locator(".dag-edge")).to_have_count(1)

    build.click()  # choose a node: its step in the timeline is shown and selected
    expect(build).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#step-build")).to_have_class(re.compile("is-selected"))
    expect(page.locator("#step-build")).to_be_focused()
    expect(page.locator("#step-build")).to_be_in_viewport()

    expect(ship).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(page.locator(HEADER_STATUS)).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#step-build")).to_have_class(re.compile("is-selected"))  # kept across refreshes
    expect(page.locator("#instance-actions button")).to_have_count(0)  # a viewer has no controls


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_a_failed_refresh_shows_a_banner_with_retry(page, login, viewer, org):
    instance = make_run(org, "running")
    make_row(instance, "plan", "running")
    login(page, viewer)
    open_run(page, instance)
    banner = page.locator("#live-error")
    expect(banner).to_be_hidden()

    live = f"**/instances/{instance.pk}/live/"
    page.route(live, lambda route: route.fulfill(status=503, body="down"))
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Could not refresh this run: the server answered 503")
    expect(banner).to_contain_text("out of date (last refreshed at")
    page.unroute(live)
    page.route(live, lambda route: route.abort())
    expect(banner).to_contain_text("the server could not be reached")

    page.unroute(live)
    StepExecution.objects.filter(instance=instance).update(status="succeeded")
    banner.get_by_role("button", name="Retry").click()
    expect(banner).to_be_hidden()
    expect(page.locator("#step-plan .status").first).to_have_attribute("data-status", "succeeded")


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_reject_a_waiting_gate_from_the_run_page(page, login, operator, owner, org):
    instance = make_run(org, "running", pause_reason="awaiting_approval", triggered_by=owner)
    gate = make_row(instance, "gate", "waiting", wait_reason="awaiting_approval")
    approval = ApprovalRequest.objects.create(organization=org, instance=instance, step_execution=gate,
                                              step_id="gate", message="Apply CHG-42?", requested_by=owner)
    login(page, operator)
    open_run(page, instance)

    page.locator("#step-gate").get_by_role("button", name="Reject…").click()
    dialog = page.locator("#approval-dialog")
    expect(dialog.get_by_role("heading")).to_have_text("Reject step gate?")
    expect(dialog.get_by_label("Comment")).to_have_attribute("required", "")
    dialog.get_by_role("button", name="Reject").click()  # the browser asks for the comment first
    expect(dialog).to_be_visible()
    approval.refresh_from_db()
    assert approval.status == "pending"

    dialog.get_by_label("Comment").fill("not during the sale")
    dialog.get_by_role("button", name="Reject").click()
    expect(flash(page)).to_contain_text(f"Rejected deploy #{instance.pk}, step gate.")
    expect(page).to_have_url(re.compile(rf"/instances/{instance.pk}/#step-gate$"))
    expect(page.locator('#history tr[data-action="approval.respond"]')).to_contain_text("not during the sale")
    approval.refresh_from_db()
    assert approval.status == "rejected"
