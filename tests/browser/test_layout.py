"""Layout of every portal page in a real browser, at 1400 and 800 px, signed in as a member
of several organizations (so the header carries the organization switcher): every control
stays inside its container, and at 1400 px the page never scrolls sideways.

Each page is also kept as a screenshot under test-artifacts/screenshots/ (git-ignored), to
look at: a rule that a script can check does not catch everything a person sees."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.accounts.models import Membership
from apps.accounts.roles import Role
from apps.approvals.models import ApprovalRequest
from apps.inventory.models import HostGroup
from apps.workflows.models import WorkflowDefinition
from tests.browser.conftest import offline_page
from tests.factories import OrganizationFactory, UserFactory
from tests.instances_portal.controls_data import make_jobs, make_row, make_run
from tests.instances_portal.data import make_instance, make_log

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WIDTHS = (1400, 800)
LONG_NAME = ("fleet-wide-openssl-and-libssl-security-patch-with-canary-batches-approval-gates-and-"
             "automatic-rollback-for-the-eu-west-web-tier")

# For each visible control: the ancestors (block boxes below the first one that scrolls or
# clips) its box sticks out of, by more than a pixel. A control inside a scroll box (a wide
# table, the graph) may go out of view: that box is where the check stops.
OVERFLOWS_JS = """
() => {
  const controls = document.querySelectorAll(
    "input:not([type=hidden]), select, textarea, button, a.button");
  const problems = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  for (const control of controls) {
    const box = control.getBoundingClientRect();
    if (!box.width || !box.height || control.closest("[hidden], dialog:not([open])")) continue;
    for (let parent = control.parentElement; parent && parent !== document.documentElement;
         parent = parent.parentElement) {
      const style = getComputedStyle(parent);
      if (style.display === "inline" || style.display === "contents") continue;
      if (style.overflowX !== "visible" || style.overflowY !== "visible") break;
      const outer = parent.getBoundingClientRect();
      if (box.left < outer.left - 1 || box.right > outer.right + 1) {
        problems.push(`${describe(control)} [${Math.round(box.left)}..${Math.round(box.right)}] ` +
          `sticks out of ${describe(parent)} [${Math.round(outer.left)}..${Math.round(outer.right)}]`);
        break;
      }
    }
  }
  // Dates in tables stay on one line.
  for (const time of document.querySelectorAll("td time")) {
    if (time.getClientRects().length > 1) problems.push(`the date "${time.textContent}" wraps over lines`);
  }
  return problems;
}
"""
# At 1400 px the header is one row: the brand, the nav and the session (organization
# switcher, "Signed in as", Log out) side by side.
HEADER_JS = """
() => ["a.brand", ".main-nav", "#organization-switcher", ".session .user", ".session button[type=submit]:last-child"]
  .map((selector) => {
    const box = document.querySelector(".topbar " + selector).getBoundingClientRect();
    return [selector, Math.round(box.top + box.height / 2)];
  })
"""


@pytest.fixture
def several_orgs(org, other_org, acme, globex):
    """A user in three organizations (admin in acme, so every page of the nav shows), and
    acme's data: a failed eight-step run with jobs and log lines, a pending approval."""
    third = OrganizationFactory(slug="initech", name="Initech Infrastructure Operations (EMEA)")
    user = UserFactory(username="several")
    Membership.objects.create(organization=org, user=user, role=Role.ADMIN)
    Membership.objects.create(organization=other_org, user=user, role=Role.OPERATOR)
    Membership.objects.create(organization=third, user=user, role=Role.VIEWER)
    long_one = WorkflowDefinition.objects.create(organization=org, name=LONG_NAME, is_published=True,
                                                 description="Patches openssl on every web host, one batch at a time.")
    started = timezone.now() - timedelta(minutes=7)
    run = make_run(org, "failed", started_at=started, finished_at=started + timedelta(minutes=5),
                   error_class="NonZeroExit", error_message="apply failed on web-2 (exit 1)")
    for step_id in ("plan", "fork", "left", "right"):
        make_jobs(make_row(run, step_id, "succeeded", started_at=started, finished_at=started + timedelta(seconds=30)))
    make_jobs(make_row(run, "apply", "failed", started_at=started, finished_at=started + timedelta(minutes=4),
                       error_class="NonZeroExit", error_message="exit 1 on web-2"), failed_on=("web-2",))
    make_row(run, "cleanup", "succeeded", started_at=started, finished_at=started + timedelta(minutes=5))
    for step_id in ("plan", "left", "right", "apply", "cleanup"):
        for host in ("web-1", "web-2", "web-3"):
            make_log(run, step_id, host, "stdout", f"{step_id} on {host}: done")
    make_log(run, "apply", "web-2", "stderr", "E: could not lock /var/lib/dpkg/lock")
    for index in range(3):
        make_instance(org, "failed", definition=long_one, started_at=started - timedelta(days=index),
                      finished_at=started, error_class="NonZeroExit",
                      error_message="apply failed on web-2.acme.test: E: could not lock /var/lib/dpkg/lock-frontend")
    approval = ApprovalRequest.objects.filter(organization=org, status="pending").first()
    return {"user": user, "run": run, "approval": approval, "definition": run.definition,
            "host": acme.hosts["web-1"], "group": HostGroup.objects.get(organization=org, name="web")}


def pages(data: dict) -> dict[str, str]:
    """Every page of the nav, and the pages they lead to."""
    return {
        "dashboard": reverse("portal:dashboard"),
        "workflows": reverse("workflows:definition-list"),
        "workflow-editor": reverse("workflows:definition-edit", args=[data["definition"].pk]),
        "workflow-new-visual": reverse("workflows:definition-new") + "?mode=visual",
        "workflow-run": reverse("engine:run", args=[data["definition"].pk]),
        "instances": reverse("engine:instance-list"),
        "run-choose": reverse("engine:run-choose"),
        "run-page": reverse("engine:instance-detail", args=[data["run"].pk]),
        "rerun": reverse("engine:instance-rerun", args=[data["run"].pk]),
        "approvals": reverse("approvals:inbox"),
        "approval-detail": reverse("approvals:detail", args=[data["approval"].pk]),
        "automation": reverse("automation:overview"),
        "inventory-hosts": reverse("inventory:host-list"),
        "inventory-host": reverse("inventory:host-detail", args=[data["host"].pk]),
        "inventory-groups": reverse("inventory:group-list"),
        "inventory-group": reverse("inventory:group-detail", args=[data["group"].pk]),
        "audit": reverse("audit:event-list"),
    }


def visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    assert urlsplit(page.url).path == urlsplit(url).path, f"{url} led to {page.url}"
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_keeps_its_controls_inside_at(width, browser, live_server, login, several_orgs):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    with offline_page(browser, live_server.url, viewport={"width": width, "height": 900}) as page:
        login(page, several_orgs["user"])
        page.get_by_role("button", name="Acme", exact=True).click()
        expect(page.locator("#organization-switcher")).to_have_value("acme")
        for name, url in pages(several_orgs).items():
            visit(page, url)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}-first-screen.png"))
            found = page.evaluate(OVERFLOWS_JS)
            scroll = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if width >= 1400 and scroll[0] > scroll[1]:
                found.append(f"the page scrolls sideways: {scroll[0]} px wide in a {scroll[1]} px window")
            rows = dict(page.evaluate(HEADER_JS))
            if width >= 1400 and max(rows.values()) - min(rows.values()) > 8:
                found.append(f"the header takes more than one row: {rows}")
            if found:
                problems[name] = found
    assert not problems, "\n".join(f"{name}:\n  " + "\n  ".join(lines) for name, lines in problems.items())
