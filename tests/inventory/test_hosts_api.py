"""/api/hosts/: CRUD, validation, duplicates, permissions and tenancy (DESIGN §7, §9)."""

import pytest

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.inventory.models import Host
from tests.credentials.factories import CredentialFactory
from tests.inventory.factories import HostFactory, HostGroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(api, org, make_member):
    return api(make_member(org, Role.ADMIN, "inventory-admin"))


def test_create_ssh_host_defaults_port_22_and_returns_it(admin_client, org):
    response = admin_client.post("/api/hosts/", {"hostname": "web-01.example.com", "primary_ip": "10.0.0.5"},
                                 format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["hostname"] == "web-01.example.com"
    assert body["connection"] == "ssh" and body["port"] == 22
    assert body["vars"] == {} and body["labels"] == [] and body["groups"] == [] and body["is_enabled"] is True
    assert Host.objects.get(pk=body["id"]).organization == org


def test_local_host_keeps_no_port(admin_client):
    response = admin_client.post("/api/hosts/", {"hostname": "localhost", "connection": "local"}, format="json")

    assert response.status_code == 201
    assert response.json()["port"] is None


def test_create_with_credential_groups_vars_and_labels(admin_client, org):
    credential = CredentialFactory(organization=org, name="root-key")
    web, db = HostGroupFactory(organization=org, name="web"), HostGroupFactory(organization=org, name="db")
    payload = {
        "hostname": "app-1", "primary_ip": "192.168.1.20", "os": "debian-12", "connection": "ssh", "port": 2222,
        "credential": credential.pk, "groups": [web.pk, "db"], "vars": {"role": "app", "tier": 2},
        "labels": ["prod", " eu ", "prod"],
    }

    response = admin_client.post("/api/hosts/", payload, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["credential"] == credential.pk and body["credential_name"] == "root-key"
    assert sorted(body["groups"]) == sorted([web.pk, db.pk]) and body["group_names"] == ["db", "web"]
    assert body["vars"] == {"role": "app", "tier": 2}
    assert body["labels"] == ["prod", "eu"]
    assert body["port"] == 2222


def test_retrieve_put_patch_and_delete(admin_client, org):
    group = HostGroupFactory(organization=org, name="web")
    host = HostFactory(organization=org, hostname="old-name", labels=["a"], groups=[group])
    url = f"/api/hosts/{host.pk}/"

    assert admin_client.get(url).json()["hostname"] == "old-name"

    patched = admin_client.patch(url, {"os": "rhel-9"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["os"] == "rhel-9"
    assert patched.json()["labels"] == ["a"] and patched.json()["groups"] == [group.pk]  # untouched

    put = admin_client.put(url, {"hostname": "new-name", "connection": "agent"}, format="json")
    assert put.status_code == 200
    assert put.json()["hostname"] == "new-name"
    assert put.json()["labels"] == [] and put.json()["groups"] == [] and put.json()["os"] == ""  # replaced

    assert admin_client.delete(url).status_code == 204
    assert admin_client.get(url).status_code == 404
    assert not Host.objects.filter(pk=host.pk).exists()


def test_every_write_is_audited_without_variable_values(admin_client, org):
    created = admin_client.post(
        "/api/hosts/", {"hostname": "db-1", "vars": {"db_password": "hunter2-value"}}, format="json"
    ).json()
    admin_client.patch(f"/api/hosts/{created['id']}/", {"port": 2200}, format="json")
    admin_client.patch(f"/api/hosts/{created['id']}/", {"vars": {"db_password": "hunter3-value"}}, format="json")
    admin_client.delete(f"/api/hosts/{created['id']}/")

    events = list(AuditEvent.objects.filter(target_type="inventory.host").order_by("id"))
    assert [event.action for event in events] == ["host.create", "host.update", "host.update", "host.delete"]
    assert events[0].organization == org and events[0].actor_username == "inventory-admin"
    assert events[0].data["vars_keys"] == ["db_password"]
    assert events[1].data["changed"] == {"port": 2200}
    assert events[2].data["changed"] == {"vars_keys": ["db_password"]}
    assert all("hunter" not in str(event.data) for event in events)


@pytest.mark.parametrize("hostname", ["WEB-01.example.com", "web-01.example.com"])
def test_duplicate_hostname_is_409_in_any_case(admin_client, org, hostname):
    HostFactory(organization=org, hostname="web-01.example.com")

    response = admin_client.post("/api/hosts/", {"hostname": hostname}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"
    assert "already exists" in response.json()["detail"]


def test_renaming_onto_another_host_is_409(admin_client, org):
    HostFactory(organization=org, hostname="taken")
    host = HostFactory(organization=org, hostname="free")

    response = admin_client.patch(f"/api/hosts/{host.pk}/", {"hostname": "Taken"}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "duplicate"


def test_same_hostname_in_another_org_is_fine(admin_client, other_org):
    HostFactory(organization=other_org, hostname="web-01")

    assert admin_client.post("/api/hosts/", {"hostname": "web-01"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        ({"hostname": "bad_host!"}, "hostname", "not a valid hostname"),
        ({"hostname": "-leading.example.com"}, "hostname", "not a valid hostname"),
        ({"hostname": "a" * 64 + ".example.com"}, "hostname", "not a valid hostname"),
        ({"hostname": ""}, "hostname", "blank"),
        ({"hostname": "ok", "port": 0}, "port", "greater than or equal to 1"),
        ({"hostname": "ok", "port": 65536}, "port", "less than or equal to 65535"),
        ({"hostname": "ok", "vars": ["a", "b"]}, "vars", "JSON object"),
        ({"hostname": "ok", "vars": "text"}, "vars", "JSON object"),
        ({"hostname": "ok", "labels": "prod"}, "labels", "list"),
        ({"hostname": "ok", "labels": [""]}, "labels", "blank"),
        ({"hostname": "ok", "connection": "telnet"}, "connection", "not a valid choice"),
        ({"hostname": "ok", "primary_ip": "10.0.0.300"}, "primary_ip", "valid IPv4 or IPv6"),
        ({"hostname": "ok", "groups": [{"id": 1}]}, "groups", "id (integer) or a name"),
        ({"hostname": "ok", "colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_invalid_input_is_400_naming_the_field(admin_client, payload, field, text):
    response = admin_client.post("/api/hosts/", payload, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"], body
    assert text in str(body["errors"][field]), body
    assert body["detail"].startswith(field)
    assert not Host.objects.exists()


def test_credential_and_groups_of_another_org_are_rejected(admin_client, org, other_org):
    foreign_credential = CredentialFactory(organization=other_org)
    HostGroupFactory(organization=other_org, name="foreign-group")

    by_credential = admin_client.post(
        "/api/hosts/", {"hostname": "h1", "credential": foreign_credential.pk}, format="json"
    )
    by_group = admin_client.post("/api/hosts/", {"hostname": "h1", "groups": ["foreign-group"]}, format="json")

    assert by_credential.status_code == 400 and "credential" in by_credential.json()["errors"]
    assert f"Credential {foreign_credential.pk} was not found" in by_credential.json()["detail"]
    assert by_group.status_code == 400 and "foreign-group" in by_group.json()["detail"]
    assert not Host.objects.filter(organization=org).exists()


@pytest.mark.parametrize(
    ("role", "can_write"),
    [(Role.VIEWER, False), (Role.OPERATOR, False), (Role.EDITOR, False), (Role.ADMIN, True), (Role.OWNER, True)],
)
def test_permission_matrix(api, org, make_member, role, can_write):
    """Every role reads (operators pick hosts for runs); only settings.manage writes."""
    client = api(make_member(org, role, f"user-{role}"))
    host = HostFactory(organization=org, hostname="existing")

    assert client.get("/api/hosts/").status_code == 200
    assert client.get("/api/hosts/?search=exist").json()["count"] == 1
    assert client.get(f"/api/hosts/{host.pk}/").status_code == 200
    created = client.post("/api/hosts/", {"hostname": "new-host"}, format="json")
    patched = client.patch(f"/api/hosts/{host.pk}/", {"os": "x"}, format="json")
    put = client.put(f"/api/hosts/{host.pk}/", {"hostname": "existing"}, format="json")
    deleted = client.delete(f"/api/hosts/{host.pk}/")

    if can_write:
        assert (created.status_code, patched.status_code, put.status_code, deleted.status_code) == (201, 200, 200, 204)
    else:
        assert {created.status_code, patched.status_code, put.status_code, deleted.status_code} == {403}
        assert created.json()["code"] == "permission_denied"
        assert "settings.manage" in created.json()["detail"]
        assert list(Host.objects.filter(organization=org).values_list("hostname", "os")) == [("existing", "")]


def test_other_orgs_host_is_404_and_never_listed(api, org, other_org, owner):
    client = api(owner)
    HostFactory(organization=org, hostname="mine-01", primary_ip="10.1.0.1")
    foreign = HostFactory(organization=other_org, hostname="mine-02", primary_ip="10.1.0.2")

    for method in ("get", "patch", "put", "delete"):
        response = getattr(client, method)(f"/api/hosts/{foreign.pk}/", {"hostname": "x"}, format="json")
        assert response.status_code == 404, method
    for query in ("", "?search=mine", "?search=10.1", f"?search={foreign.hostname}"):
        hostnames = [row["hostname"] for row in client.get(f"/api/hosts/{query}").json()["results"]]
        assert "mine-02" not in hostnames, query
    assert Host.objects.get(pk=foreign.pk).hostname == "mine-02"


def test_anonymous_is_refused(client):
    assert client.get("/api/hosts/").status_code in (401, 403)
