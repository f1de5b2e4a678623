"""Login, logout, the layout's navigation and the organization choice."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Membership
from apps.accounts.roles import Perm, Role
from apps.accounts.tenancy import SESSION_KEY
from apps.portal.nav import NAV, NavItem, nav_entries
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("portal:dashboard")
SWITCH = reverse("portal:switch-organization")


def test_anonymous_is_sent_to_login(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next=/"


def test_login_page_has_labelled_fields_csrf_and_a_skip_link(client):
    html = client.get(reverse("portal:login")).content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<a class="skip-link" href="#main">' in html
    assert "/static/css/opsflow.css" in html


def test_login_enforces_csrf(operator):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("portal:login"), {"username": "operator", "password": PASSWORD})
    assert response.status_code == 403


def test_login_then_dashboard(client, operator, org):
    response = client.post(reverse("portal:login"), {"username": "operator", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == DASHBOARD
    html = response.content.decode()
    assert "Signed in as <strong>operator</strong>" in html
    assert org.name in html


def test_wrong_password_is_a_clear_error(client, operator):
    response = client.post(reverse("portal:login"), {"username": "operator", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post(client, operator):
    client.force_login(operator)
    assert client.get(reverse("portal:logout")).status_code == 405
    response = client.post(reverse("portal:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:login")
    assert client.get(DASHBOARD).status_code == 302


def test_every_nav_link_leads_to_a_page(client, operator):
    client.force_login(operator)
    html = client.get(DASHBOARD).content.decode()
    nav = re.search(r'<nav class="main-nav" aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    links = re.findall(r'href="([^"]+)"', nav)
    assert reverse("inventory:host-list") in links
    assert reverse("audit:event-list") in links
    for link in links:
        assert client.get(link).status_code == 200, link


def test_every_registered_section_names_an_existing_page():
    for item in NAV:
        assert reverse(item.url_name), item.label  # NoReverseMatch: a dead entry in the registry


def test_nav_shows_only_resolvable_and_permitted_sections(rf, viewer, org):
    request = rf.get("/inventory/hosts/")
    request.user = viewer
    request.resolver_match = None
    items = (
        NavItem("Later", "nowhere:list", Perm.WORKFLOWS_VIEW),
        NavItem("Managers", "portal:dashboard", Perm.AUTOMATION_MANAGE),
        NavItem("Home", "portal:dashboard", Perm.WORKFLOWS_VIEW),
        NavItem("Anyone", "inventory:host-list"),
    )
    entries = nav_entries(request=request, organization=org, items=items)
    assert [(e.label, e.url) for e in entries] == [("Home", "/"), ("Anyone", "/inventory/hosts/")]


def test_current_section_is_marked(client, operator):
    client.force_login(operator)
    html = client.get(reverse("inventory:group-list")).content.decode()
    assert f'<a href="{reverse("inventory:host-list")}" aria-current="page">Inventory</a>' in html


def test_user_without_organization_gets_a_clear_page(client, db):
    client.force_login(UserFactory(username="loner"))
    for url in (
        DASHBOARD,
        reverse("inventory:host-list"),
        reverse("audit:event-list"),
        reverse("portal:choose-organization"),
    ):
        response = client.get(url)
        assert response.status_code == 403
        assert "You are not a member of any organization" in response.content.decode()


def test_member_of_several_organizations_is_asked_to_choose(client, member_of_both, org, other_org):
    client.force_login(member_of_both)
    response = client.get(reverse("inventory:host-list"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:choose-organization')}?next=%2Finventory%2Fhosts%2F"
    html = client.get(response["Location"]).content.decode()
    assert org.name in html and other_org.name in html

    response = client.post(SWITCH, {"organization": other_org.slug, "next": "/inventory/hosts/"})
    assert response["Location"] == "/inventory/hosts/"
    assert client.session[SESSION_KEY] == other_org.slug
    assert client.get("/inventory/hosts/").status_code == 200


def test_switch_to_a_foreign_organization_is_404(client, operator, org, other_org):
    client.force_login(operator)
    client.post(SWITCH, {"organization": org.slug})
    response = client.post(SWITCH, {"organization": other_org.slug})
    assert response.status_code == 404
    assert client.session[SESSION_KEY] == org.slug
    assert client.post(SWITCH, {"organization": "no-such-org"}).status_code == 404


def test_switch_needs_post_and_a_choice(client, operator):
    client.force_login(operator)
    assert client.get(SWITCH).status_code == 405
    response = client.post(SWITCH, {"organization": ""}, follow=True)
    assert "Choose an organization." in response.content.decode()


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/inventory/hosts/?group=7", "/inventory/hosts/"),  # filters name objects of the old org
        ("/inventory/hosts/12/", "/"),  # an object page of the old org
        ("https://evil.example/", "/"),
        ("/no/such/page/", "/"),
        ("", "/"),
    ],
)
def test_switch_redirects_to_a_safe_page(client, member_of_both, other_org, next_url, expected):
    client.force_login(member_of_both)
    response = client.post(SWITCH, {"organization": other_org.slug, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == expected


def test_switcher_is_in_the_layout_for_members_of_several(client, member_of_both, org, other_org):
    client.force_login(member_of_both)
    client.post(SWITCH, {"organization": org.slug})
    html = client.get(DASHBOARD).content.decode()
    assert '<label for="organization-switcher">Organization</label>' in html
    assert f'<option value="{org.slug}" selected>{org.name}</option>' in html
    assert f'<option value="{other_org.slug}">{other_org.name}</option>' in html


def test_stale_choice_falls_back_to_the_remaining_organization(client, member_of_both, org, other_org):
    client.force_login(member_of_both)
    client.post(SWITCH, {"organization": other_org.slug})
    Membership.objects.filter(user=member_of_both, organization=other_org).delete()
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert response.context["current_organization"] == org


def test_superuser_without_membership_chooses_among_all(client, superuser, org, other_org):
    client.force_login(superuser)
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    client.post(SWITCH, {"organization": other_org.slug})
    assert client.get(DASHBOARD).context["current_organization"] == other_org


def test_unknown_page_is_a_styled_404(client, operator):
    client.force_login(operator)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is nothing at this address in your organization." in response.content.decode()


def test_member_role_is_enough_for_the_dashboard(client, org, make_member):
    client.force_login(make_member(org, Role.VIEWER))
    assert client.get(DASHBOARD).status_code == 200
