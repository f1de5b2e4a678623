"""The portal in a real browser: login, dashboard, host search, organization switch,
tenancy, keyboard use, logout."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.portal.data import CREDENTIAL_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def host_rows(page: Page) -> list[str]:
    return page.locator("table tbody tr td:first-child a").all_inner_texts()


def expect_stats(page: Page, stats: dict[str, int]) -> None:
    for key, value in stats.items():
        expect(page.locator(f"#stat-{key} .stat-value")).to_have_text(str(value))


def search_hosts(page: Page, text: str) -> None:
    page.get_by_label("Search").fill(text)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"search="))


def test_login_dashboard_host_search_and_detail(page, login, operator, acme, globex):
    login(page, operator)
    expect(page.get_by_role("heading", name=re.compile("Dashboard"))).to_be_visible()
    expect_stats(page, acme.expected.stats)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inventory").click()
    expect(page.get_by_role("heading", name="Hosts")).to_be_visible()
    assert host_rows(page) == ["db-1.acme.test", "web-1.acme.test", "web-2.acme.test"]

    search_hosts(page, "web-")
    assert host_rows(page) == ["web-1.acme.test", "web-2.acme.test"]
    search_hosts(page, "10.0.2.")
    assert host_rows(page) == ["db-1.acme.test"]
    search_hosts(page, "10.0.1.99")  # globex's web host
    expect(page.get_by_text("No hosts match.")).to_be_visible()

    search_hosts(page, "10.0.1.1")
    assert host_rows(page) == ["web-1.acme.test", "web-2.acme.test"]
    page.get_by_role("link", name="web-1.acme.test").click()
    expect(page.get_by_role("heading", name="web-1.acme.test")).to_be_visible()
    details = page.locator("dl.details")
    expect(details).to_contain_text("10.0.1.11")
    expect(details).to_contain_text("deploy-key")
    expect(details.get_by_role("link", name="web")).to_be_visible()
    expect(page.locator("pre")).to_contain_text('"tier": "front"')
    assert CREDENTIAL_SECRET not in page.content()


def test_organization_switcher_changes_the_data(page, login, member_of_both, org, other_org, acme, globex):
    login(page, member_of_both)
    expect(page.get_by_role("heading", name="Choose an organization")).to_be_visible()
    page.get_by_role("button", name=org.name).click()
    expect_stats(page, acme.expected.stats)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inventory").click()
    assert host_rows(page) == ["db-1.acme.test", "web-1.acme.test", "web-2.acme.test"]
    page.get_by_label("Organization").select_option(label=other_org.name)
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("status")).to_contain_text(f"You are now working in {other_org.name}.")
    expect(page.get_by_role("heading", name="Hosts")).to_be_visible()
    assert host_rows(page) == ["db-9.globex.test", "web-9.globex.test"]

    page.get_by_role("link", name="Opsflow").click()
    expect_stats(page, globex.expected.stats)


def test_foreign_host_url_is_404(page, login, operator, acme, globex):
    login(page, operator)
    foreign = globex.hosts["globex-web"]
    response = page.goto(f"/inventory/hosts/{foreign.pk}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert foreign.hostname not in page.content()
    own = acme.hosts["web-2"]
    assert page.goto(f"/inventory/hosts/{own.pk}/").status == 200


def test_keyboard_skip_link_then_search_with_enter(page, login, operator, acme):
    login(page, operator)
    page.goto("/inventory/hosts/")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

    search = page.get_by_label("Search")
    for _ in range(40):
        if page.evaluate("document.activeElement.id") == "host-search":
            break
        page.keyboard.press("Tab")
    expect(search).to_be_focused()
    page.keyboard.type("web-2")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"search=web-2"))
    assert host_rows(page) == ["web-2.acme.test"]


def test_logout(page, login, operator):
    login(page, operator)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to Opsflow")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))


def test_wrong_password_stays_on_login_with_a_message(page, operator):
    page.goto("/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("wrong")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
