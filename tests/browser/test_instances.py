"""Running a workflow and watching it in a real browser: the Run page's host search and
selection, variables, Run -> the instance page (which follows the run without a reload),
the Instances list with its badges and filters, scheduling errors."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.core import wake
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.states import InstanceStatus
from tests.instances_portal.data import SECRET, make_definition
from tests.inventory.factories import HostFactory, HostGroupFactory

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def hosts(org, other_org) -> dict:
    web = HostGroupFactory(organization=org, name="web")
    return {
        "web-1": HostFactory(organization=org, hostname="web-1.acme.test", primary_ip="10.0.1.11", groups=[web]),
        "web-2": HostFactory(organization=org, hostname="web-2.acme.test", primary_ip="10.0.1.12", groups=[web]),
        "db-1": HostFactory(organization=org, hostname="db-1.acme.test", primary_ip="10.0.2.21"),
        "foreign": HostFactory(organization=other_org, hostname="db-9.globex.test", primary_ip="10.0.2.99"),
    }


def search(page: Page, text: str) -> None:
    page.get_by_label("Search hosts").fill(text)
    page.get_by_label("Search hosts").press("Enter")


def result_names(page: Page) -> list[str]:
    return page.locator("#host-results .hostname").all_inner_texts()


def chosen_names(page: Page) -> list[str]:
    return page.locator("#chosen-hosts .hostname").all_inner_texts()


def test_run_a_workflow_and_follow_it(page, login, operator, org, hosts, monkeypatch):
    # This test plays the engine itself (it writes the step rows the page must follow):
    # the real engine must not advance the run, even if a Celery worker from another
    # test runs in this process.
    monkeypatch.setattr(wake, "advance_send", lambda instance_id: None)
    make_definition(org)
    login(page, operator)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Instances").click()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    page.get_by_role("link", name="Run a workflow").click()
    page.get_by_role("link", name="Run patch-web").click()
    expect(page.get_by_role("heading", name="Run patch-web")).to_be_visible()

    search(page, "10.0.2.")
    expect(page.locator("#host-results")).to_contain_text("Hosts matching “10.0.2.”")
    assert result_names(page) == ["db-1.acme.test"]  # never the other organization's 10.0.2.99
    page.locator("#host-results").get_by_label("db-1.acme.test").check()
    expect(page.locator("#chosen-count")).to_have_text("(1)")
    page.get_by_label("Search hosts").fill("web-2")  # typing searches too, without Enter
    expect(page.locator("#host-results")).to_contain_text("Hosts matching “web-2”")
    assert result_names(page) == ["web-2.acme.test"]
    page.locator("#host-results").get_by_label("web-2.acme.test").check()
    assert chosen_names(page) == ["db-1.acme.test", "web-2.acme.test"]
    search(page, "10.0.2.2")
    expect(page.locator("#host-results").get_by_label("db-1.acme.test")).to_be_checked()  # remembered
    page.locator("#chosen-hosts").get_by_label("web-2.acme.test").click()  # removes it from the list
    expect(page.locator("#chosen-count")).to_have_text("(1)")
    assert chosen_names(page) == ["db-1.acme.test"]
    page.locator("#host-results").get_by_label("db-1.acme.test").uncheck()
    expect(page.locator("#no-chosen-hosts")).to_be_visible()
    page.locator("#host-results").get_by_label("db-1.acme.test").check()

    page.get_by_label("package").fill("curl")
    expect(page.get_by_label("api_token")).to_have_attribute("type", "password")
    page.get_by_label("api_token").fill(SECRET)
    page.get_by_role("button", name="Run now").click()

    expect(page).to_have_url(re.compile(r"/instances/\d+/$"))
    instance = WorkflowInstance.objects.get()
    assert page.url.endswith(f"/instances/{instance.pk}/")
    expect(page.get_by_role("status")).to_contain_text(f"Run #{instance.pk} of patch-web started.")
    expect(page.get_by_role("heading", name=re.compile(rf"patch-web.*Run #{instance.pk}"))).to_be_visible()
    expect(page.locator("#instance-header .status")).to_have_attribute(
        "data-status", re.compile("pending|running|succeeded|failed"))
    assert [t["hostname"] for t in instance.targets] == ["db-1.acme.test"]
    assert instance.variables["package"] == "curl"
    expect(page.locator("#variables")).to_contain_text("***")
    assert SECRET not in page.content()

    # The page follows the run (a 2 s poll of its live parts), without a reload.
    page.evaluate("window.__notReloaded = true")
    StepExecution.objects.create(instance=instance, step_id="plan", step_type="command", status="running",
                                 attempt=1, started_at=timezone.now())
    WorkflowInstance.objects.filter(pk=instance.pk).update(status=InstanceStatus.RUNNING, started_at=timezone.now())
    expect(page.locator("#step-plan .status")).to_have_attribute("data-status", "running")
    expect(page.locator("#instance-header .status")).to_have_attribute("data-status", "running")
    StepExecution.objects.filter(instance=instance).update(status="succeeded", finished_at=timezone.now(),
                                                           output={"ok": True})
    WorkflowInstance.objects.filter(pk=instance.pk).update(status=InstanceStatus.SUCCEEDED,
                                                          finished_at=timezone.now())
    expect(page.locator("#instance-header .status")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#outputs pre")).to_contain_text('"ok": true')
    expect(page.locator("#instance-header")).to_have_attribute("data-active", "false")  # polling stops
    assert page.evaluate("window.__notReloaded") is True


def test_instances_list_badges_and_filters(page, login, viewer, org, operator):
    definition = make_definition(org)
    other = make_definition(org, "restart-db")
    ok = WorkflowInstance.objects.create(organization=org, definition=definition, workflow_name="patch-web",
                                         snapshot={}, status="succeeded", triggered_by=operator)
    failed = WorkflowInstance.objects.create(organization=org, definition=other, workflow_name="restart-db",
                                             snapshot={}, status="failed", error_class="HostUnreachable",
                                             error_message="db-1.acme.test did not answer\ndetails")
    old = WorkflowInstance.objects.create(organization=org, definition=definition, workflow_name="patch-web",
                                          snapshot={}, status="pending")
    WorkflowInstance.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    login(page, viewer)
    page.goto("/instances/")
    rows = page.locator("table.instances tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator(f'tr[data-instance="{ok.pk}"] .status')).to_have_text(re.compile(r"✓\s*succeeded"))
    failed_row = page.locator(f'tr[data-instance="{failed.pk}"]')
    expect(failed_row.locator(".status")).to_have_class(re.compile("status-bad"))
    expect(failed_row.locator(".error-preview")).to_have_text("HostUnreachable db-1.acme.test did not answer")
    expect(page.get_by_role("link", name="Run a workflow")).to_have_count(0)  # viewers cannot run

    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-instance", str(failed.pk))

    page.get_by_role("link", name="Clear").click()
    expect(page.locator("[data-custom-range]")).to_be_hidden()
    page.get_by_label("Workflow").select_option(label="patch-web")
    page.get_by_label("Created").select_option("24h")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-instance", str(ok.pk))

    page.get_by_label("Created").select_option("custom")
    expect(page.locator("[data-custom-range]")).to_be_visible()
    day = (timezone.now() - timedelta(days=3)).date().isoformat()
    page.get_by_label("From").fill(day)
    page.get_by_label("To").fill(day)
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-instance", str(old.pk))
    page.get_by_role("link", name=f"#{old.pk}").click()
    expect(page.get_by_role("heading", name=re.compile(rf"Run #{old.pk}"))).to_be_visible()


def test_schedule_errors_show_beside_the_form_then_schedule(page, login, operator, org, hosts):
    definition = make_definition(org)
    login(page, operator)
    page.goto(f"/workflows/{definition.pk}/run/")
    page.get_by_role("group", name="Host groups").get_by_label("web").check()
    search(page, "db-")
    page.locator("#host-results").get_by_label("db-1.acme.test").check()
    page.get_by_role("button", name="Schedule").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The run was not started")
    expect(alert).to_contain_text("Choose a date and a time to schedule the run.")
    assert not WorkflowInstance.objects.exists()
    # What was chosen is still chosen.
    expect(page.get_by_role("group", name="Host groups").get_by_label("web")).to_be_checked()
    assert chosen_names(page) == ["db-1.acme.test"]
    expect(page.locator("#host-results").get_by_label("db-1.acme.test")).to_be_checked()

    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    page.get_by_label("Date").fill(tomorrow)
    page.get_by_label("Time").fill("10:15")
    page.get_by_role("button", name="Schedule").click()
    expect(page).to_have_url(re.compile(r"/instances/\d+/$"))
    expect(page.locator("#instance-header .status")).to_have_attribute("data-status", "scheduled")
    expect(page.locator("#timeline")).to_contain_text("The run starts at")
    instance = WorkflowInstance.objects.get()
    assert instance.status == "scheduled"
    assert [t["hostname"] for t in instance.targets] == ["db-1.acme.test", "web-1.acme.test", "web-2.acme.test"]
