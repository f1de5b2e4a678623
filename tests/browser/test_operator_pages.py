"""Operator pages in a real browser: pausing automation from the Automation page (and the
banner every other page then shows), and approving a waiting run from the Approvals inbox
with the real worker carrying the run on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.approvals.models import ApprovalRequest
from apps.automation.models import KillSwitch
from apps.engine.models import WorkflowInstance
from tests.engine.conftest import wait_for

BANNER = "#kill-switch-banner"


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_pause_automation_see_the_banner_and_resume(page, login, owner, org):
    login(page, owner)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automation").click()
    expect(page.get_by_role("heading", name="Automation is running")).to_be_visible()
    expect(page.locator(BANNER)).to_have_count(0)
    expect(page.locator("#pause-timezone")).to_have_value(re.compile(r".+"))  # the browser's zone

    page.get_by_label("Reason").fill("incident 42: bad config push")
    page.get_by_role("button", name="Pause automation").click()

    expect(page.get_by_role("status")).to_contain_text("Automation is paused for the whole organization.")
    expect(page.get_by_role("heading", name="Automation is paused")).to_be_visible()
    expect(page.locator("#active-switches")).to_contain_text("incident 42: bad config push")
    assert KillSwitch.objects.get().engaged_by == owner

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Instances").click()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    banner = page.locator(BANNER)
    expect(banner).to_contain_text("Automation is paused in Acme: incident 42: bad config push.")
    banner.get_by_role("link", name="See the kill switch").click()

    expect(page).to_have_url(re.compile(r"/automation/$"))
    page.get_by_label("Why resume the organization").fill("rolled back")
    page.get_by_role("button", name="Resume automation").click()

    expect(page.get_by_role("status")).to_contain_text("Automation resumed for the whole organization.")
    expect(page.get_by_role("heading", name="Automation is running")).to_be_visible()
    expect(page.locator(BANNER)).to_have_count(0)
    expect(page.locator("#switch-history tbody tr").first).to_have_attribute("data-state", "released")
    expect(page.locator("#switch-history")).to_contain_text("rolled back")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Instances").click()
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()
    expect(page.locator(BANNER)).to_have_count(0)


@pytest.fixture
def waiting_deploy(org, owner) -> WorkflowInstance:
    """The example config-deploy, started by the owner on localhost: the operator may approve it."""
    from apps.engine.services import instance_start
    from apps.inventory.services import host_create
    from apps.workflows.services import examples_load

    definition = next(d for d in examples_load(organization=org, actor=owner) if d.name == "config-deploy")
    host = host_create(organization=org, actor=None, hostname="localhost", primary_ip="127.0.0.1",
                       connection="local")
    return instance_start(definition=definition, actor=owner, hosts=[host.pk])


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.xdist_group("worker")
def test_approve_a_waiting_run_from_the_inbox(worker, page, login, operator, waiting_deploy):
    instance = wait_for(waiting_deploy, step="approve", step_status="waiting")
    gate = ApprovalRequest.objects.get(instance=instance)

    login(page, operator)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Approvals", exact=True)).to_be_visible()
    card = page.locator(f"#approval-{gate.pk}")
    expect(card).to_contain_text("config-deploy")
    expect(card).to_contain_text("Apply CHG-0000?")
    expect(card).to_contain_text("0 of 1 required")

    card.get_by_role("link", name="View plan").click()
    expect(page.get_by_role("heading", name=re.compile("^Plan"))).to_be_visible()
    expect(page.locator("#plan pre")).to_have_text("+ ntp server 10.0.0.1")

    card = page.locator(f"#approval-{gate.pk}")
    card.get_by_label("Comment").fill("diff looks right")
    card.get_by_role("button", name="Approve").click()

    expect(page.get_by_role("status")).to_contain_text(
        f"Approved config-deploy #{instance.pk}, step approve: the run continues.")
    expect(page.locator(f"#approval-{gate.pk} [data-status]")).to_have_attribute("data-status", "approved")
    instance = wait_for(instance, status={"succeeded", "failed", "rejected"})
    assert instance.status == "succeeded", instance.error_message

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()
