"""Host search (the run page's host picker), filters, ordering, pagination and query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.roles import Role
from tests.credentials.factories import CredentialFactory
from tests.inventory.factories import HostFactory, HostGroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api, org, make_member):
    return api(make_member(org, Role.OPERATOR, "picker"))


@pytest.fixture
def fleet(org):
    web = HostGroupFactory(organization=org, name="web")
    key = CredentialFactory(organization=org, name="deploy-key")
    return {
        "web-01": HostFactory(organization=org, hostname="web-01", primary_ip="10.0.1.11", os="debian",
                              labels=["prod", "eu"], groups=[web], credential=key),
        "web-02": HostFactory(organization=org, hostname="web-02", primary_ip="10.0.1.12", os="debian",
                              labels=["staging"], groups=[web]),
        "db-web-cache": HostFactory(organization=org, hostname="db-web-cache", primary_ip="10.0.2.5", os="rhel",
                                    labels=["prod"]),
        "mail": HostFactory(organization=org, hostname="mail", primary_ip="192.168.10.1", connection="agent",
                            port=None, is_enabled=False),
        "edge": HostFactory(organization=org, hostname="edge", primary_ip="2001:db8::10", connection="local",
                            port=None),
    }


def _hostnames(client, query: str) -> list[str]:
    response = client.get(f"/api/hosts/{query}")
    assert response.status_code == 200, response.content
    return [row["hostname"] for row in response.json()["results"]]


def test_search_hostname_prefix_ranks_before_contains(client, fleet):
    assert _hostnames(client, "?search=web") == ["web-01", "web-02", "db-web-cache"]


def test_search_is_case_insensitive(client, fleet):
    assert _hostnames(client, "?search=WEB-0") == ["web-01", "web-02"]


def test_search_by_ip_prefix(client, fleet):
    assert _hostnames(client, "?search=10.0.1.") == ["web-01", "web-02"]
    assert _hostnames(client, "?search=10.0") == ["db-web-cache", "web-01", "web-02"]
    assert _hostnames(client, "?search=192.168") == ["mail"]
    assert _hostnames(client, "?search=2001:db8") == ["edge"]


def test_search_ip_matches_only_as_prefix(client, fleet):
    assert _hostnames(client, "?search=1.11") == []


def test_search_treats_like_wildcards_literally(client, fleet):
    assert _hostnames(client, "?search=%25") == []
    assert _hostnames(client, "?search=_") == []


def test_blank_search_lists_everything_by_hostname(client, fleet):
    assert _hostnames(client, "?search=%20") == sorted(fleet)


def test_explicit_ordering_overrides_search_rank(client, fleet):
    assert _hostnames(client, "?search=web&ordering=-hostname") == ["web-02", "web-01", "db-web-cache"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?connection=agent", ["mail"]),
        ("?connection=local", ["edge"]),
        ("?os=DEBIAN", ["web-01", "web-02"]),
        ("?label=prod", ["db-web-cache", "web-01"]),
        ("?label=eu", ["web-01"]),
        ("?label=pro", []),
        ("?group=web", ["web-01", "web-02"]),
        ("?is_enabled=false", ["mail"]),
        ("?is_enabled=true&connection=ssh", ["db-web-cache", "web-01", "web-02"]),
        ("?search=web&label=prod", ["web-01", "db-web-cache"]),
        ("?ordering=primary_ip&connection=ssh", ["web-01", "web-02", "db-web-cache"]),
    ],
)
def test_filters(client, fleet, query, expected):
    assert _hostnames(client, query) == expected


def test_filter_by_group_id_and_credential_id(client, fleet, org):
    group_id = fleet["web-01"].groups.get().pk
    credential_id = fleet["web-01"].credential_id

    assert _hostnames(client, f"?group={group_id}") == ["web-01", "web-02"]
    assert _hostnames(client, f"?credential={credential_id}") == ["web-01"]


@pytest.mark.parametrize("query", ["?connection=telnet", "?credential=abc"])
def test_bad_filter_values_are_400(client, fleet, query):
    response = client.get(f"/api/hosts/{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and response.json()["detail"]


def test_pagination_shape(client, fleet):
    first = client.get("/api/hosts/?page_size=2").json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 5 and len(first["results"]) == 2 and first["previous"] is None
    second = client.get(first["next"]).json()
    assert [row["hostname"] for row in second["results"]] == ["mail", "web-01"]
    assert second["previous"] is not None


def test_list_query_count_does_not_grow_with_hosts(client, org):
    groups = [HostGroupFactory(organization=org) for _ in range(3)]
    credential = CredentialFactory(organization=org)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/hosts/?search=host")
        assert response.status_code == 200
        return len(queries)

    HostFactory.create_batch(2, organization=org, groups=groups, credential=credential)
    count_queries()  # the first request also stamps the token's last_used_at
    few = count_queries()
    HostFactory.create_batch(20, organization=org, groups=groups, credential=credential)
    assert count_queries() == few
    assert few == 6  # token, organization, membership, count, page, groups
