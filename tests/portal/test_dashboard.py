"""The dashboard shows the selected organization's real counts, in a fixed number of queries."""

from __future__ import annotations

import re

import pytest
from django.urls import resolve, reverse

from apps.accounts.roles import Role
from apps.engine.states import InstanceStatus
from tests.portal.data import build_acme, make_instance, stat

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("portal:dashboard")


def test_dashboard_counts_are_the_organizations_own(client, operator, acme, globex):
    client.force_login(operator)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = response.content.decode()
    assert {key: stat(html, key) for key in acme.expected.stats} == acme.expected.stats


def test_dashboard_follows_the_organization_switch(client, member_of_both, org, other_org, acme, globex):
    client.force_login(member_of_both)
    for organization, world in ((org, acme), (other_org, globex)):
        client.post(reverse("portal:switch-organization"), {"organization": organization.slug})
        html = client.get(DASHBOARD).content.decode()
        assert {key: stat(html, key) for key in world.expected.stats} == world.expected.stats


def test_recent_activity_lists_only_this_organizations_events(client, operator, acme, globex):
    client.force_login(operator)
    html = client.get(DASHBOARD).content.decode()
    assert "host.create" in html
    assert "globex.secret-plan" not in html


def test_cards_link_to_existing_pages_only(client, operator, acme):
    client.force_login(operator)
    html = client.get(DASHBOARD).content.decode()
    assert f'<a href="{reverse("inventory:host-list")}">Hosts</a>' in html
    assert f'<a href="{reverse("inventory:group-list")}">Host groups</a>' in html
    # No link at all rather than a dead one: each href on the page resolves.
    for href in set(re.findall(r'href="(/[^"#?]*)', html)):
        if not href.startswith("/static/"):
            resolve(href)


def test_instance_groups_follow_status_and_finish_time(client, operator, org):
    client.force_login(operator)
    make_instance(org, InstanceStatus.KILL_CANCELING)
    make_instance(org, InstanceStatus.TERMINATED, finished_hours_ago=1)
    make_instance(org, InstanceStatus.SUCCEEDED, finished_hours_ago=24.5)
    html = client.get(DASHBOARD).content.decode()
    assert (stat(html, "instances-active"), stat(html, "instances-succeeded"), stat(html, "instances-failed")) == (
        1,
        0,
        0,
    )


def test_dashboard_query_count_does_not_grow_with_data(client, org, make_member, django_assert_max_num_queries):
    user = make_member(org, Role.VIEWER, "counter")
    client.force_login(user)
    build_acme(org)
    # session, user, organization, membership, six counts, the switcher, recent events, the kill switch banner,
    # the nav's approvals badge (groups, count)
    with django_assert_max_num_queries(15):
        assert client.get(DASHBOARD).status_code == 200
    for index in range(5):
        make_instance(org, InstanceStatus.RUNNING)
        make_instance(org, InstanceStatus.FAILED, finished_hours_ago=index)
    with django_assert_max_num_queries(15):
        assert client.get(DASHBOARD).status_code == 200


def test_each_run_card_links_to_the_runs_it_counts(client, operator, org):
    client.force_login(operator)
    counted = {
        "instances-active": {make_instance(org, status).pk for status in (
            InstanceStatus.RUNNING, InstanceStatus.PAUSED, InstanceStatus.CANCELING)},
        "instances-succeeded": {make_instance(org, InstanceStatus.SUCCEEDED, finished_hours_ago=2).pk},
        "instances-failed": {make_instance(org, InstanceStatus.FAILED, finished_hours_ago=1).pk,
                             make_instance(org, InstanceStatus.TIMEOUT, finished_hours_ago=23).pk},
    }
    make_instance(org, InstanceStatus.SCHEDULED)
    make_instance(org, InstanceStatus.SUCCEEDED, finished_hours_ago=30)
    make_instance(org, InstanceStatus.FAILED, finished_hours_ago=25)
    make_instance(org, InstanceStatus.CANCELED, finished_hours_ago=1)
    html = client.get(DASHBOARD).content.decode()

    for key, expected in counted.items():
        href = re.search(rf'id="stat-{key}".*?<a href="([^"]+)"', html, re.S).group(1).replace("&amp;", "&")
        listed = client.get(href)
        assert listed.status_code == 200
        shown = {int(pk) for pk in re.findall(r'href="/instances/(\d+)/"', listed.content.decode())}
        assert (stat(html, key), shown) == (len(expected), expected), key
    # The list's form shows the filter the card applied (and submitting it keeps it).
    page = listed.content.decode()
    assert '<option value="failures" selected>Failed or timed out</option>' in page
    assert '<option value="24h" selected>Last 24 hours</option>' in page
