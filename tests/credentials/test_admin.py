"""The vault admin: a write-only secret field; no page renders the plaintext or ciphertext."""

import pytest

from apps.audit.models import AuditEvent
from apps.credentials.models import Credential
from apps.credentials.services import credential_secret
from tests.credentials.factories import CredentialFactory

pytestmark = pytest.mark.django_db

PLAINTEXT = "Adm1n-Sentinel-Secret-42"


@pytest.fixture
def admin_browser(client, superuser):
    client.force_login(superuser)
    return client


def _form(org, **overrides):
    return {"organization": org.pk, "name": "db-root", "kind": "password", "username": "root",
            "description": "", **overrides}


def test_add_encrypts_through_the_service(admin_browser, org, superuser):
    response = admin_browser.post("/admin/credentials/credential/add/", _form(org, secret=PLAINTEXT))

    assert response.status_code == 302, response.content.decode()[:2000]
    credential = Credential.objects.get(name="db-root")
    assert credential.created_by == superuser
    assert PLAINTEXT not in credential.secret_encrypted and credential_secret(credential) == PLAINTEXT
    event = AuditEvent.objects.get(action="credential.create")
    assert event.actor_username == "root" and PLAINTEXT not in str(event.data)


def test_add_without_secret_is_a_form_error(admin_browser, org):
    response = admin_browser.post("/admin/credentials/credential/add/", _form(org, secret=""))

    assert response.status_code == 200
    assert "A new credential needs a secret." in response.content.decode()
    assert not Credential.objects.exists()


def test_pages_never_render_the_secret(admin_browser, org):
    credential = CredentialFactory(organization=org, secret=PLAINTEXT)
    admin_browser.post(f"/admin/credentials/credential/{credential.pk}/change/", _form(org, secret=PLAINTEXT + "2"))
    credential.refresh_from_db()
    pages = [
        "/admin/credentials/credential/",
        f"/admin/credentials/credential/{credential.pk}/change/",
        f"/admin/credentials/credential/{credential.pk}/history/",
        f"/admin/credentials/credential/{credential.pk}/delete/",
        "/admin/audit/auditevent/",
    ]

    for page in pages:
        response = admin_browser.get(page)
        assert response.status_code == 200, page
        assert PLAINTEXT.encode() not in response.content, page
        assert credential.secret_encrypted.encode() not in response.content, page
    change_page = admin_browser.get(f"/admin/credentials/credential/{credential.pk}/change/").content.decode()
    assert 'type="password"' in change_page and 'name="secret"' in change_page


def test_change_without_secret_keeps_it(admin_browser, org):
    credential = CredentialFactory(organization=org, secret=PLAINTEXT)

    response = admin_browser.post(
        f"/admin/credentials/credential/{credential.pk}/change/", _form(org, username="other", secret="")
    )

    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.username == "other" and credential_secret(credential) == PLAINTEXT


def test_change_cannot_move_a_credential_to_another_org(admin_browser, org, other_org):
    credential = CredentialFactory(organization=org, secret=PLAINTEXT)

    admin_browser.post(f"/admin/credentials/credential/{credential.pk}/change/", _form(other_org, secret=""))

    credential.refresh_from_db()
    assert credential.organization == org
