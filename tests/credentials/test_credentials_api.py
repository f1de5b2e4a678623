"""/api/credentials/: the vault. The secret is write-only: encrypted at rest, and never in a
response, the audit trail, a log line or a repr."""

import logging

import pytest
from django.db import connection

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.core.crypto import decrypt
from apps.credentials.models import Credential
from apps.credentials.services import credential_secret
from tests.credentials.factories import CredentialFactory
from tests.inventory.factories import HostFactory

pytestmark = pytest.mark.django_db

PLAINTEXT = "Pl41nText-Sentinel-7f3a9c"
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-sentinel\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture
def admin_client(api, org, make_member):
    return api(make_member(org, Role.ADMIN, "vault-admin"))


def _create(client, **overrides):
    payload = {"name": "db-root", "kind": "password", "username": "root", "secret": PLAINTEXT, **overrides}
    return client.post("/api/credentials/", payload, format="json")


def _audit_table_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(string_agg(data::text || target_repr, ' '), '') FROM audit_auditevent")
        return cursor.fetchone()[0]


def test_create_encrypts_and_never_returns_the_secret(admin_client, org):
    response = _create(admin_client, description="prod database")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["has_secret"] is True and body["host_count"] == 0 and body["created_by"] == "vault-admin"
    assert "secret" not in body and "secret_encrypted" not in body
    stored = Credential.objects.get(pk=body["id"])
    assert stored.organization == org
    assert PLAINTEXT not in stored.secret_encrypted
    assert decrypt(stored.secret_encrypted) == PLAINTEXT
    assert credential_secret(stored) == PLAINTEXT
    assert PLAINTEXT.encode() not in response.content
    assert stored.secret_encrypted.encode() not in response.content


def test_no_endpoint_shows_plaintext_or_ciphertext(admin_client):
    created = _create(admin_client).json()
    ciphertext = Credential.objects.get(pk=created["id"]).secret_encrypted.encode()
    responses = [
        admin_client.get("/api/credentials/"),
        admin_client.get(f"/api/credentials/{created['id']}/"),
        admin_client.get("/api/credentials/?search=db"),
        admin_client.patch(f"/api/credentials/{created['id']}/", {"description": "x"}, format="json"),
        admin_client.get("/api/audit/"),
    ]

    for response in responses:
        assert response.status_code == 200, response.content
        assert PLAINTEXT.encode() not in response.content
        assert ciphertext not in response.content


def test_update_without_secret_keeps_it_and_with_secret_replaces_it(admin_client):
    created = _create(admin_client).json()
    url = f"/api/credentials/{created['id']}/"

    put = admin_client.put(url, {"name": "db-root", "kind": "password", "username": "admin"}, format="json")
    assert put.status_code == 200 and put.json()["username"] == "admin"
    assert credential_secret(Credential.objects.get(pk=created["id"])) == PLAINTEXT

    replaced = admin_client.patch(url, {"secret": SSH_KEY, "kind": "ssh_key"}, format="json")
    assert replaced.status_code == 200
    assert SSH_KEY.encode() not in replaced.content
    assert credential_secret(Credential.objects.get(pk=created["id"])) == SSH_KEY  # trailing newline kept


def test_secret_never_reaches_the_audit_trail(admin_client):
    created = _create(admin_client).json()
    admin_client.patch(f"/api/credentials/{created['id']}/", {"secret": SSH_KEY}, format="json")
    ciphertext = Credential.objects.get(pk=created["id"]).secret_encrypted
    admin_client.delete(f"/api/credentials/{created['id']}/")

    actions = list(AuditEvent.objects.filter(target_type="credentials.credential").values_list("action", "data"))
    assert [action for action, _ in actions] == ["credential.delete", "credential.update", "credential.create"]
    assert actions[1][1]["secret_changed"] is True
    audit_text = _audit_table_text()
    assert PLAINTEXT not in audit_text and "sentinel" not in audit_text and ciphertext not in audit_text


def test_secret_never_reaches_logs_or_repr(admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    created = _create(admin_client).json()
    admin_client.patch(f"/api/credentials/{created['id']}/", {"secret": "", "name": ""}, format="json")
    admin_client.post("/api/credentials/", {"name": "x", "kind": "nope", "secret": PLAINTEXT}, format="json")
    credential = Credential.objects.get(pk=created["id"])

    assert PLAINTEXT not in caplog.text
    assert PLAINTEXT not in repr(credential) and PLAINTEXT not in str(credential)
    assert credential.secret_encrypted not in repr(credential)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "c", "kind": "password"}, "secret"),
        ({"name": "c", "kind": "password", "secret": ""}, "secret"),
        ({"name": "c", "kind": "certificate", "secret": "x"}, "kind"),
        ({"name": "", "kind": "password", "secret": "x"}, "name"),
        ({"name": "c", "kind": "password", "secret": "x", "password": "x"}, "password"),
        ({"name": "c", "kind": "password", "secret": {"nested": "x"}}, "secret"),
    ],
)
def test_invalid_input_is_400(admin_client, payload, field):
    response = admin_client.post("/api/credentials/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"] and response.json()["detail"]
    assert not Credential.objects.exists()


def test_blank_secret_on_update_is_400_and_keeps_the_old_one(admin_client):
    created = _create(admin_client).json()

    response = admin_client.patch(f"/api/credentials/{created['id']}/", {"secret": ""}, format="json")

    assert response.status_code == 400 and "secret" in response.json()["errors"]
    assert credential_secret(Credential.objects.get(pk=created["id"])) == PLAINTEXT


def test_duplicate_name_is_409(admin_client, org):
    CredentialFactory(organization=org, name="db-root")

    response = _create(admin_client)

    assert response.status_code == 409 and response.json()["code"] == "duplicate"


def test_deleting_a_credential_in_use_is_409(admin_client, org):
    credential = CredentialFactory(organization=org, name="shared")
    HostFactory(organization=org, hostname="web-01", credential=credential)

    listed = admin_client.get(f"/api/credentials/{credential.pk}/").json()
    response = admin_client.delete(f"/api/credentials/{credential.pk}/")

    assert listed["host_count"] == 1
    assert response.status_code == 409
    assert response.json()["code"] == "credential_in_use"
    assert "web-01" in response.json()["detail"]
    assert Credential.objects.filter(pk=credential.pk).exists()
    Credential.objects.get(pk=credential.pk).hosts.update(credential=None)
    assert admin_client.delete(f"/api/credentials/{credential.pk}/").status_code == 204


def test_filters_and_search(admin_client, org):
    CredentialFactory(organization=org, name="web-key", kind="ssh_key", username="deploy")
    CredentialFactory(organization=org, name="api-token", kind="token", username="bot")

    def names(query: str) -> list[str]:
        return [row["name"] for row in admin_client.get(f"/api/credentials/{query}").json()["results"]]

    assert names("") == ["api-token", "web-key"]
    assert names("?kind=token") == ["api-token"]
    assert names("?search=DEPLOY") == ["web-key"]
    assert names("?ordering=-name") == ["web-key", "api-token"]


@pytest.mark.parametrize(
    ("role", "can_read", "can_write"),
    [(Role.VIEWER, True, False), (Role.OPERATOR, True, False), (Role.EDITOR, True, False), (Role.ADMIN, True, True)],
)
def test_permission_matrix(api, org, make_member, role, can_read, can_write):
    client = api(make_member(org, role, f"user-{role}"))
    credential = CredentialFactory(organization=org, name="existing")

    assert client.get("/api/credentials/").status_code == (200 if can_read else 403)
    assert client.get(f"/api/credentials/{credential.pk}/").status_code == (200 if can_read else 403)
    created = _create(client)
    patched = client.patch(f"/api/credentials/{credential.pk}/", {"secret": "new"}, format="json")
    deleted = client.delete(f"/api/credentials/{credential.pk}/")

    expected = (201, 200, 204) if can_write else (403, 403, 403)
    assert (created.status_code, patched.status_code, deleted.status_code) == expected
    if not can_write:
        assert "settings.manage" in created.json()["detail"]
        assert credential_secret(Credential.objects.get(pk=credential.pk)).startswith("s3cret-")


def test_other_orgs_credential_is_404_and_never_listed(api, owner, other_org):
    client = api(owner)
    foreign = CredentialFactory(organization=other_org, name="their-root")

    assert client.get(f"/api/credentials/{foreign.pk}/").status_code == 404
    assert client.patch(f"/api/credentials/{foreign.pk}/", {"secret": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/credentials/{foreign.pk}/").status_code == 404
    assert client.get("/api/credentials/?search=their").json()["count"] == 0
    assert credential_secret(Credential.objects.get(pk=foreign.pk)).startswith("s3cret-")
