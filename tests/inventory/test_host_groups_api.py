"""/api/host-groups/: CRUD, membership by id or hostname, duplicates, permissions, tenancy."""

import pytest

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.inventory.models import Host, HostGroup
from tests.inventory.factories import HostFactory, HostGroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(api, org, make_member):
    return api(make_member(org, Role.ADMIN, "inventory-admin"))


def test_create_with_hosts_by_id_and_hostname(admin_client, org):
    web1 = HostFactory(organization=org, hostname="web-01")
    web2 = HostFactory(organization=org, hostname="web-02")

    response = admin_client.post(
        "/api/host-groups/",
        {"name": "web", "description": "Front ends", "hosts": [web1.pk, "WEB-02"], "vars": {"http_port": 8080}},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "web" and body["description"] == "Front ends"
    assert sorted(body["hosts"]) == sorted([web1.pk, web2.pk]) and body["host_count"] == 2
    assert body["vars"] == {"http_port": 8080}
    assert set(web2.groups.values_list("name", flat=True)) == {"web"}
    event = AuditEvent.objects.get(action="host_group.create")
    assert event.data["host_count"] == 2 and event.organization == org


def test_update_replaces_membership_and_patch_keeps_it(admin_client, org):
    a, b = HostFactory(organization=org, hostname="a"), HostFactory(organization=org, hostname="b")
    group = HostGroupFactory(organization=org, name="g")
    group.hosts.set([a])
    url = f"/api/host-groups/{group.pk}/"

    patched = admin_client.patch(url, {"description": "changed"}, format="json")
    assert patched.status_code == 200 and patched.json()["hosts"] == [a.pk]

    put = admin_client.put(url, {"name": "g2", "hosts": ["b"]}, format="json")
    assert put.status_code == 200
    assert put.json()["name"] == "g2" and put.json()["hosts"] == [b.pk] and put.json()["description"] == ""

    assert admin_client.delete(url).status_code == 204
    assert not HostGroup.objects.filter(pk=group.pk).exists()
    assert Host.objects.filter(pk__in=[a.pk, b.pk]).count() == 2  # hosts outlive their group


def test_duplicate_name_is_409(admin_client, org):
    HostGroupFactory(organization=org, name="web")

    response = admin_client.post("/api/host-groups/", {"name": "web"}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "duplicate"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "g", "vars": [1]}, "vars"),
        ({"name": "g", "hosts": "web-01"}, "hosts"),
        ({"name": "g", "hosts": [True]}, "hosts"),
        ({"name": "g", "members": []}, "members"),
    ],
)
def test_invalid_input_is_400(admin_client, payload, field):
    response = admin_client.post("/api/host-groups/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"] and response.json()["detail"]


def test_unknown_or_foreign_hosts_are_400(admin_client, org, other_org):
    foreign = HostFactory(organization=other_org, hostname="theirs")

    response = admin_client.post("/api/host-groups/", {"name": "g", "hosts": [foreign.pk, "nope"]}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_reference"
    assert str(foreign.pk) in response.json()["detail"] and "nope" in response.json()["detail"]
    assert not HostGroup.objects.filter(organization=org).exists()


def test_search_and_host_filter(admin_client, org):
    host = HostFactory(organization=org, hostname="db-01")
    HostGroupFactory(organization=org, name="databases").hosts.set([host])
    HostGroupFactory(organization=org, name="web")

    def names(query: str) -> list[str]:
        return [row["name"] for row in admin_client.get(f"/api/host-groups/{query}").json()["results"]]

    assert names("") == ["databases", "web"]
    assert names("?search=DATA") == ["databases"]
    assert names("?host=db-01") == ["databases"]
    assert names(f"?host={host.pk}") == ["databases"]
    assert names("?ordering=-name") == ["web", "databases"]


@pytest.mark.parametrize(("role", "can_write"), [(Role.VIEWER, False), (Role.OPERATOR, False), (Role.OWNER, True)])
def test_permission_matrix(api, org, make_member, role, can_write):
    client = api(make_member(org, role, f"user-{role}"))
    group = HostGroupFactory(organization=org, name="existing")

    assert client.get("/api/host-groups/").status_code == 200
    assert client.get(f"/api/host-groups/{group.pk}/").status_code == 200
    created = client.post("/api/host-groups/", {"name": "new"}, format="json")
    deleted = client.delete(f"/api/host-groups/{group.pk}/")

    assert (created.status_code, deleted.status_code) == ((201, 204) if can_write else (403, 403))


def test_other_orgs_group_is_404_and_never_listed(api, owner, other_org):
    client = api(owner)
    foreign = HostGroupFactory(organization=other_org, name="secret-group")

    assert client.get(f"/api/host-groups/{foreign.pk}/").status_code == 404
    assert client.patch(f"/api/host-groups/{foreign.pk}/", {"name": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/host-groups/{foreign.pk}/").status_code == 404
    assert client.get("/api/host-groups/?search=secret").json()["count"] == 0
    assert HostGroup.objects.get(pk=foreign.pk).name == "secret-group"


def test_host_filter_by_foreign_group_name_finds_nothing(api, owner, org, other_org):
    HostFactory(organization=org, hostname="mine")
    theirs = HostGroupFactory(organization=other_org, name="shared-name")
    HostFactory(organization=other_org, hostname="theirs", groups=[theirs])

    response = api(owner).get("/api/hosts/?group=shared-name")

    assert response.json()["count"] == 0
