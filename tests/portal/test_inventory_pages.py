"""Hosts and host groups pages: search, filters, pagination, tenancy, no secrets."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from tests.inventory.factories import HostFactory
from tests.portal.data import CREDENTIAL_SECRET

pytestmark = pytest.mark.django_db

HOSTS = reverse("inventory:host-list")
GROUPS = reverse("inventory:group-list")


def hostnames(response) -> list[str]:
    return [host.hostname for host in response.context["page_obj"].object_list]


@pytest.fixture
def logged_in(client, operator):
    client.force_login(operator)
    return client


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("web", ["web-1.acme.test", "web-2.acme.test"]),
        ("WEB-2", ["web-2.acme.test"]),
        ("10.0.1.", ["web-1.acme.test", "web-2.acme.test"]),
        ("10.0.2", ["db-1.acme.test"]),
        ("10.0.1.99", []),  # globex's host: never found from acme
        ("nothing-like-this", []),
        ("", ["db-1.acme.test", "web-1.acme.test", "web-2.acme.test"]),
    ],
)
def test_host_search_by_hostname_or_ip_prefix(logged_in, acme, globex, query, expected):
    response = logged_in.get(HOSTS, {"search": query})
    assert response.status_code == 200
    assert hostnames(response) == expected


def test_host_filters_by_connection_and_group(logged_in, acme, globex):
    assert hostnames(logged_in.get(HOSTS, {"connection": "agent"})) == ["db-1.acme.test"]
    web = acme.groups["web"]
    assert hostnames(logged_in.get(HOSTS, {"group": web.pk})) == ["web-1.acme.test", "web-2.acme.test"]
    assert hostnames(logged_in.get(HOSTS, {"group": web.pk, "search": "10.0.1.12"})) == ["web-2.acme.test"]
    # A foreign group id filters to nothing rather than showing its hosts.
    assert hostnames(logged_in.get(HOSTS, {"group": globex.groups["web"].pk})) == []


def test_group_choices_are_this_organizations_only(logged_in, acme, globex):
    html = logged_in.get(HOSTS).content.decode()
    options = re.findall(r'<option value="(\d+)"', html)
    assert sorted(map(int, options)) == sorted(group.pk for group in acme.groups.values())


def test_invalid_filter_is_a_clear_400(logged_in, acme):
    response = logged_in.get(HOSTS, {"connection": "telnet"})
    assert response.status_code == 400
    assert "Some filters are not valid" in response.content.decode()
    assert "telnet is not one of the available choices" in response.content.decode()


def test_host_list_paginates_and_keeps_filters(logged_in, org):
    for index in range(55):
        HostFactory(organization=org, hostname=f"node-{index:02d}.acme.test")
    first = logged_in.get(HOSTS, {"search": "node"})
    assert len(first.context["page_obj"].object_list) == 50
    assert 'href="?search=node&amp;page=2"' in first.content.decode()
    second = logged_in.get(HOSTS, {"search": "node", "page": 2})
    assert hostnames(second) == [f"node-{index}.acme.test" for index in range(50, 55)]
    assert logged_in.get(HOSTS, {"page": "abc"}).status_code == 200


def test_host_list_query_count_is_pinned(logged_in, org, django_assert_max_num_queries):
    for index in range(30):
        HostFactory(organization=org, hostname=f"node-{index}.acme.test")
    with django_assert_max_num_queries(12):  # 9 + the kill switch banner + the nav's approvals badge (2)
        assert logged_in.get(HOSTS).status_code == 200


def test_host_detail_shows_fields_groups_labels_vars_but_no_secret(logged_in, acme):
    host = acme.hosts["web-1"]
    response = logged_in.get(reverse("inventory:host-detail", args=[host.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    expected = [
        "web-1.acme.test",
        "10.0.1.11",
        "deploy-key",
        ">web</a>",
        '<li class="tag">prod</li>',
        "&quot;tier&quot;",
    ]
    for text in expected:
        assert text in html
    assert CREDENTIAL_SECRET not in html
    assert host.credential.secret_encrypted not in html


def test_foreign_host_and_group_are_404(logged_in, acme, globex):
    assert logged_in.get(reverse("inventory:host-detail", args=[globex.hosts["globex-web"].pk])).status_code == 404
    assert logged_in.get(reverse("inventory:group-detail", args=[globex.groups["web"].pk])).status_code == 404
    assert logged_in.get(reverse("inventory:host-detail", args=[999999])).status_code == 404


def test_group_list_counts_hosts_and_searches(logged_in, acme, globex):
    response = logged_in.get(GROUPS)
    assert [(g.name, g.host_count) for g in response.context["page_obj"].object_list] == [("db", 1), ("web", 2)]
    response = logged_in.get(GROUPS, {"search": "WE"})
    assert [g.name for g in response.context["page_obj"].object_list] == ["web"]


def test_group_detail_lists_its_hosts(logged_in, acme):
    response = logged_in.get(reverse("inventory:group-detail", args=[acme.groups["web"].pk]))
    assert response.status_code == 200
    assert hostnames(response) == ["web-1.acme.test", "web-2.acme.test"]


@pytest.mark.parametrize("url_name", ["inventory:host-list", "inventory:group-list"])
def test_every_role_can_read_the_inventory(client, org, make_member, url_name):
    for role in Role.values:
        client.force_login(make_member(org, role))
        assert client.get(reverse(url_name)).status_code == 200


def test_inventory_pages_need_login(client, acme):
    for url in (HOSTS, GROUPS, reverse("inventory:host-detail", args=[acme.hosts["web-1"].pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login"))
