"""The Workflows pages in a real browser (issue #3 item 7): create a definition in the
editor, see a validation error next to its field, fix and save, publish (then editing is
disabled), clone, export then import, simulate and read the report."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from apps.accounts.roles import Role
from apps.workflows.models import WorkflowDefinition
from apps.workflows.services import definition_create, examples_load
from tests.workflows.conftest import basic

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def editor(org, make_member):
    return make_member(org, Role.EDITOR, "editor")


@pytest.fixture
def js_errors(page: Page):
    """Script errors on any page fail the test (an HTTP 4xx the page expects is not one)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if msg.type == "error" and "Failed to load resource" not in msg.text else None
        ),
    )
    yield errors
    assert not errors


def step(page: Page, index: int):
    return page.locator("#step-list > li.step-card").nth(index)


def editor_ready(page: Page) -> None:
    """The editor's script has run (its controls respond)."""
    expect(page.locator("#editor")).to_have_attribute("data-ready", "true")


def add_step(page: Page, kind: str) -> None:
    panel = page.locator("#panel-steps")
    panel.get_by_label("New step type").select_option(kind)
    panel.get_by_role("button", name="Add step").click()


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")


def test_create_validate_save_publish(page, login, editor, js_errors):
    login(page, editor)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workflows").click()
    page.get_by_role("link", name="New workflow").click()
    expect(page.get_by_role("heading", name="New workflow")).to_be_visible()
    editor_ready(page)

    open_tab(page, "Settings")
    page.locator("#panel-settings").get_by_role("textbox", name="Name", exact=True).fill("nightly-restart")
    page.locator("#panel-settings").get_by_label("Default timeout (seconds)").fill("900")
    open_tab(page, "Steps")
    add_step(page, "command")
    page.get_by_role("button", name="Save").click()

    # The error sits next to the field it concerns, and the field is marked invalid.
    command_field = step(page, 0).locator('[data-path="steps[0].config.command"]')
    expect(command_field.locator(".field-errors")).to_contain_text("Step 'command_1': config.command is required.")
    expect(command_field.get_by_role("textbox", name="Command")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#editor-issues")).to_contain_text("1 problem to fix")
    assert not WorkflowDefinition.objects.filter(name="nightly-restart").exists()

    command_field.get_by_role("textbox", name="Command").fill("systemctl restart nginx")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_contain_text("Saved “nightly-restart” as a draft (version 1).")
    definition = WorkflowDefinition.objects.get(name="nightly-restart")
    expect(page).to_have_url(re.compile(rf"/workflows/{definition.pk}/edit/$"))
    editor_ready(page)
    assert definition.steps == [
        {"id": "command_1", "type": "command", "config": {"command": "systemctl restart nginx"}}
    ]
    assert definition.default_timeout_seconds == 900

    # A second step follows the first; the graph draws the edge.
    add_step(page, "notification")
    second = step(page, 1)
    second.get_by_label("Channel").select_option("email")
    second.get_by_label("Recipients").fill("ops@example.com")
    second.get_by_label("Body").fill("restarted")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_contain_text("Saved (version 2).")
    page.get_by_role("tab", name="Steps").focus()
    page.keyboard.press("ArrowRight")  # the tabs work from the keyboard
    expect(page.get_by_role("tab", name="Graph")).to_be_focused()
    expect(page.locator('#graph [data-edge="command_1->notification_1"][data-kind="success"]')).to_have_count(1)
    page.locator('#graph [data-step="notification_1"]').press("Enter")
    expect(page.locator("#graph-step").get_by_label("Recipients")).to_have_value("ops@example.com")

    # The source view and the forms stay in sync, in JSON and in YAML.
    open_tab(page, "Source")
    expect(page.get_by_label("Definition source")).to_have_value(re.compile(r'"command": "systemctl restart nginx"'))
    page.get_by_label("YAML").check()
    source = page.get_by_label("Definition source")
    expect(source).to_have_value(re.compile(r"type: notification"))
    source.fill(source.input_value().replace("systemctl restart nginx", "systemctl reload nginx"))
    open_tab(page, "Steps")
    expect(step(page, 0).get_by_role("textbox", name="Command")).to_have_value("systemctl reload nginx")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_contain_text("Saved (version 3).")

    page.get_by_role("button", name="Versions").click()
    versions = page.get_by_role("dialog", name="Versions")
    expect(versions.locator("tbody tr")).to_have_count(3)
    expect(versions.locator("tbody tr").first).to_contain_text("3")
    expect(versions.locator("tbody tr").first.locator("td").nth(2)).to_have_text("2")
    versions.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Publish").click()
    dialog = page.get_by_role("dialog", name="Publish “nightly-restart”?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Publish").click()
    expect(page.locator("#editor-status")).to_contain_text("Published “nightly-restart”. It is now read-only.")
    expect(page.locator(".badges .badge-published")).to_have_text("published")
    editor_ready(page)
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    expect(step(page, 0).get_by_role("textbox", name="Command")).to_be_disabled()
    expect(page.get_by_role("button", name="Add step")).to_have_count(0)
    assert WorkflowDefinition.objects.get(pk=definition.pk).is_published


def test_clone_export_import_and_template_library(page, login, editor, org, tmp_path, js_errors):
    examples_load(organization=org)
    definition_create(organization=org, actor=editor, is_template=True, **basic(name="tpl-deploy"))
    login(page, editor)
    page.goto("/workflows/?q=patch")
    expect(page.locator("#template-library")).to_contain_text("tpl-deploy")  # not hidden by the search

    page.get_by_role("button", name="Clone patch-canary").click()
    expect(page.get_by_role("status").first).to_contain_text("Cloned 'patch-canary' as 'patch-canary (Copy)', a draft.")
    expect(page.get_by_role("heading", name="patch-canary (Copy)")).to_be_visible()
    editor_ready(page)
    expect(page.locator(".badges .badge-draft")).to_be_visible()
    expect(page.locator("#step-list > li.step-card")).to_have_count(5)

    page.goto("/workflows/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export patch-canary", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == "patch-canary.json"
    exported = tmp_path / "patch-canary.json"
    download.save_as(exported)
    assert json.loads(exported.read_text())["canary_percentage"] == 10

    page.get_by_text("Import a workflow").click()
    page.get_by_label("File (JSON or YAML)").set_input_files(str(exported))
    page.get_by_label("Name (optional)").fill("patch-canary-imported")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status").first).to_contain_text("Imported 'patch-canary-imported' as a draft.")
    expect(page.locator("#step-list > li.step-card")).to_have_count(5)
    imported = WorkflowDefinition.objects.get(name="patch-canary-imported")
    original = WorkflowDefinition.objects.get(name="patch-canary")
    assert imported.steps == original.steps and not imported.is_published

    page.goto("/workflows/")
    page.get_by_role("button", name="Use template tpl-deploy").click()
    expect(page.get_by_role("heading", name="tpl-deploy (Copy)")).to_be_visible()


def test_simulate_shows_the_per_step_report(page, login, operator, org, acme, js_errors):
    examples_load(organization=org)
    definition = WorkflowDefinition.objects.get(organization=org, name="patch-canary")
    login(page, operator)
    page.goto(f"/workflows/{definition.pk}/edit/")
    editor_ready(page)
    expect(page.get_by_role("button", name="Save")).to_have_count(0)  # operators run, they do not edit

    page.get_by_role("button", name="Simulate").click()
    dialog = page.get_by_role("dialog", name="Simulate “patch-canary”")
    dialog.get_by_label("Search hosts and groups").fill("web")
    dialog.get_by_role("button", name="Add group web").click()
    dialog.get_by_label("Search hosts and groups").fill("10.0.2")
    dialog.get_by_role("button", name="Add host db-1.acme.test").click()
    expect(dialog.locator("#targets")).to_contain_text("group web")
    dialog.get_by_label("package").fill("nginx")
    dialog.get_by_role("button", name="Run simulation").click()

    report = dialog.locator("#simulation-report")
    expect(report).to_contain_text("Would create: 5 steps · 6 jobs · 0 approvals · 0 PAM checkouts · 1 notification")
    expect(report).to_contain_text("Targets: 3 hosts (db-1.acme.test, web-1.acme.test, web-2.acme.test)")
    apply = report.locator('[data-step="apply"]')
    expect(apply).to_contain_text('echo "upgrading nginx on db-1.acme.test (10.0.2.21)"')
    expect(apply).to_contain_text("Canary")
    expect(report.locator('[data-step="decide"]')).to_contain_text("known only at run time")
    expect(report.locator('[data-step="alert"]')).to_contain_text("Would notify")


def test_errors_point_at_their_fields_and_can_be_reached_by_keyboard(page, login, editor, org, js_errors):
    definition = definition_create(
        organization=org,
        actor=editor,
        name="branchy",
        variables=[{"name": "x", "default": 1}],
        steps=[
            {"id": "check", "type": "command", "config": {"command": "true"}, "on_success": "decide"},
            {"id": "decide", "type": "conditional", "config": {"branches": [{"when": "vars.x == 1", "next": "done"}]}},
            {"id": "done", "type": "set", "config": {"variables": {"result": "ok"}}},
        ],
    )
    login(page, editor)
    page.goto(f"/workflows/{definition.pk}/edit/")
    editor_ready(page)
    when = step(page, 1).get_by_role("textbox", name="Branch 1: when")
    when.fill("vars.nope == 1")
    page.keyboard.press("Control+s")

    field = step(page, 1).locator('[data-path="steps[1].config.branches[0].when"]')
    expect(field.locator(".field-errors")).to_contain_text("vars.nope")
    expect(when).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#editor-status")).to_contain_text("Not saved")
    assert WorkflowDefinition.objects.get(pk=definition.pk).steps[1]["config"]["branches"][0]["when"] == "vars.x == 1"

    open_tab(page, "Settings")
    page.locator("#editor-issues").get_by_role("button", name="Show steps[1].config.branches[0].when").click()
    expect(page.get_by_role("tab", name="Steps")).to_have_attribute("aria-selected", "true")
    expect(step(page, 1).get_by_role("textbox", name="Branch 1: when")).to_be_focused()

    # Renaming a step updates the steps that point at it.
    step(page, 2).get_by_role("textbox", name="Step id").fill("finish")
    step(page, 2).get_by_role("textbox", name="Step id").press("Tab")
    expect(step(page, 1).get_by_label("Branch 1: go to")).to_have_value("finish")
    step(page, 1).get_by_role("textbox", name="Branch 1: when").fill("vars.x == 2")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#editor-status")).to_contain_text("Saved (version 2).")
    saved = WorkflowDefinition.objects.get(pk=definition.pk).steps
    assert saved[1]["config"]["branches"] == [{"when": "vars.x == 2", "next": "finish"}]
    assert saved[2]["id"] == "finish"


def test_unpublish_and_deactivate_from_the_workflows_page(page, login, editor, org, js_errors):
    examples_load(organization=org)
    login(page, editor)
    page.goto("/workflows/?q=patch-canary")
    row = page.locator("tr", has=page.get_by_role("link", name="patch-canary", exact=True))
    expect(row.locator(".badge-published")).to_be_visible()

    row.get_by_role("button", name="Unpublish patch-canary").click()
    expect(page.get_by_role("status").first).to_contain_text("Unpublished 'patch-canary': it is a draft again")
    expect(page).to_have_url(re.compile(r"/workflows/\?q=patch-canary$"))  # the same search
    expect(row.locator(".badge-draft")).to_be_visible()
    expect(row.get_by_role("button", name="Unpublish patch-canary")).to_have_count(0)

    row.get_by_role("button", name="Deactivate patch-canary").click()
    expect(page.get_by_role("status").first).to_contain_text("Deactivated 'patch-canary'")
    expect(row.locator(".badge-off")).to_have_text("No")
    row.get_by_role("button", name="Activate patch-canary").click()
    expect(page.get_by_role("status").first).to_contain_text("Activated 'patch-canary'")
    definition = WorkflowDefinition.objects.get(organization=org, name="patch-canary")
    assert definition.is_active and not definition.is_published

    row.get_by_role("link", name="patch-canary", exact=True).click()  # a draft again: editable
    editor_ready(page)
    expect(page.locator("#save-button")).to_be_visible()


def test_a_failed_load_on_the_workflows_page_can_be_retried(page, login, editor, org):
    definition_create(organization=org, actor=editor, is_template=True, **basic(name="tpl-deploy"))
    login(page, editor)
    library = "**/workflows/templates/"
    page.route(library, lambda route: route.fulfill(status=503, body="down"))
    page.goto("/workflows/")
    banner = page.locator("#template-library [role=alert]")
    expect(banner).to_contain_text("The template library could not be loaded (the server answered 503)")

    page.unroute(library)
    banner.get_by_role("button", name="Retry").click()
    expect(page.locator("#template-library")).to_contain_text("tpl-deploy")
    expect(banner).to_have_count(0)

    page.route(library, lambda route: route.abort())  # twice in a row: one banner, not two
    page.reload()
    expect(banner).to_have_count(1)
    banner.get_by_role("button", name="Retry").click()
    expect(banner).to_have_count(1)
    expect(banner.get_by_role("button", name="Retry")).to_be_enabled()
