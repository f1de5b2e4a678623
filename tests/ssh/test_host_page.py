"""The host page shows its SSH keys with Scan, Trust and Revoke for editors (DESIGN §10)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.inventory.models import HostKey

pytestmark = pytest.mark.django_db


def test_an_editor_scans_then_trusts_then_revokes_from_the_host_page(client, org, make_member, sshd, ssh_host):
    host = ssh_host()
    editor = make_member(org, Role.EDITOR, "editor")
    client.force_login(editor)
    page = reverse("inventory:host-detail", args=[host.pk])
    assert "No host key recorded yet" in client.get(page).content.decode()

    response = client.post(reverse("inventory:host-key-scan", args=[host.pk]), follow=True)
    html = response.content.decode()
    assert sshd.fingerprint in html and "pending" in html
    key = HostKey.objects.get(host=host)
    assert f'action="{reverse("inventory:host-key-trust", args=[host.pk, key.pk])}"' in html

    client.post(reverse("inventory:host-key-trust", args=[host.pk, key.pk]))
    key.refresh_from_db()
    assert (key.state, key.trusted_by) == ("trusted", editor)
    html = client.get(page).content.decode()
    assert "editor at" in html and reverse("inventory:host-key-trust", args=[host.pk, key.pk]) not in html
    assert f'action="{reverse("inventory:host-key-revoke", args=[host.pk, key.pk])}"' in html

    client.post(reverse("inventory:host-key-revoke", args=[host.pk, key.pk]))
    key.refresh_from_db()
    assert key.state == "revoked"
    assert list(AuditEvent.objects.filter(action__startswith="host_key.").order_by("id")
                .values_list("action", "actor")) == [
        ("host_key.seen", editor.pk), ("host_key.trust", editor.pk), ("host_key.revoke", editor.pk)]


def test_operators_see_the_keys_without_buttons_and_cannot_post(client, org, operator, sshd, ssh_host):
    from apps.inventory.services import host_key_record
    from apps.inventory.ssh_keys import scan_host_key

    host = ssh_host()
    key = host_key_record(host_id=host.pk, offered=scan_host_key("127.0.0.2", sshd.port))
    client.force_login(operator)

    html = client.get(reverse("inventory:host-detail", args=[host.pk])).content.decode()
    assert sshd.fingerprint in html and "Scan host key" not in html
    assert reverse("inventory:host-key-trust", args=[host.pk, key.pk]) not in html
    assert client.post(reverse("inventory:host-key-trust", args=[host.pk, key.pk])).status_code == 403
    key.refresh_from_db()
    assert key.state == "pending"


def test_other_organizations_get_404(client, org, other_org, make_member, sshd, ssh_host):
    from apps.inventory.services import host_key_record
    from apps.inventory.ssh_keys import scan_host_key

    host = ssh_host()
    key = host_key_record(host_id=host.pk, offered=scan_host_key("127.0.0.2", sshd.port))
    client.force_login(make_member(other_org, Role.OWNER, "stranger"))

    assert client.post(reverse("inventory:host-key-trust", args=[host.pk, key.pk])).status_code == 404
    assert client.get(reverse("inventory:host-key-trust", args=[host.pk, key.pk])).status_code == 405
    key.refresh_from_db()
    assert key.state == "pending"
