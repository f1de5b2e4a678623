"""Host keys over the API (DESIGN §10): scan records the offered key as pending, trust and
revoke are audited editor actions, other organizations see 404s."""

from __future__ import annotations

import pytest

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.inventory.models import HostKey

pytestmark = pytest.mark.django_db


def test_scan_records_the_offered_key_pending_then_trust_and_revoke(api, org, owner, sshd, ssh_host):
    host = ssh_host()
    client = api(owner, org)

    scanned = client.post(f"/api/hosts/{host.pk}/scan-host-key/")
    assert scanned.status_code == 201, scanned.content
    key = scanned.json()
    assert key["fingerprint_sha256"] == sshd.fingerprint
    assert key["algorithm"] == "ssh-ed25519"
    assert key["state"] == "pending" and key["trusted_by"] is None

    again = client.post(f"/api/hosts/{host.pk}/scan-host-key/")
    assert again.json()["id"] == key["id"]  # the same key is not recorded twice

    trusted = client.post(f"/api/hosts/{host.pk}/host-keys/{key['id']}/trust/")
    assert trusted.status_code == 200, trusted.content
    assert trusted.json()["state"] == "trusted" and trusted.json()["trusted_by"] == "owner"
    assert trusted.json()["trusted_at"]

    listed = client.get(f"/api/hosts/{host.pk}/host-keys/").json()
    assert [(k["id"], k["state"]) for k in listed] == [(key["id"], "trusted")]

    revoked = client.post(f"/api/hosts/{host.pk}/host-keys/{key['id']}/revoke/")
    assert revoked.json()["state"] == "revoked"
    client.post(f"/api/hosts/{host.pk}/host-keys/{key['id']}/revoke/")  # a double click writes nothing
    actions = list(AuditEvent.objects.filter(organization=org, action__startswith="host_key.")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["host_key.seen", "host_key.trust", "host_key.revoke"]


def test_scan_of_a_host_that_does_not_answer_is_a_409(api, org, owner, make_sshd, ssh_host):
    server = make_sshd("127.0.0.5")
    host = ssh_host(address="127.0.0.5", server=server)
    server.stop()

    response = api(owner, org).post(f"/api/hosts/{host.pk}/scan-host-key/")

    assert response.status_code == 409
    assert response.json()["code"] == "host_unreachable"
    assert not HostKey.objects.exists()


def test_operators_read_keys_but_only_editors_trust_them(api, org, make_member, sshd, ssh_host):
    host = ssh_host()
    editor = make_member(org, Role.EDITOR, "editor")
    key = api(editor, org).post(f"/api/hosts/{host.pk}/scan-host-key/").json()
    operator = api(make_member(org, Role.OPERATOR, "op"), org)

    assert operator.get(f"/api/hosts/{host.pk}/host-keys/").status_code == 200
    assert operator.post(f"/api/hosts/{host.pk}/host-keys/{key['id']}/trust/").status_code == 403
    assert operator.post(f"/api/hosts/{host.pk}/scan-host-key/").status_code == 403
    assert HostKey.objects.get().state == "pending"


def test_other_organizations_get_404(api, org, other_org, owner, make_member, sshd, ssh_host):
    host = ssh_host()
    key = api(owner, org).post(f"/api/hosts/{host.pk}/scan-host-key/").json()
    stranger = api(make_member(other_org, Role.OWNER, "stranger"), other_org)

    assert stranger.get(f"/api/hosts/{host.pk}/host-keys/").status_code == 404
    assert stranger.post(f"/api/hosts/{host.pk}/host-keys/{key['id']}/trust/").status_code == 404
    assert stranger.post(f"/api/hosts/{host.pk}/scan-host-key/").status_code == 404
    assert api(owner, org).post(f"/api/hosts/{host.pk}/host-keys/999999/trust/").status_code == 404
    assert HostKey.objects.get().state == "pending"


def test_host_fields_for_ssh(api, org, owner, key_credential):
    response = api(owner, org).post("/api/hosts/", {
        "hostname": "db-1", "primary_ip": "127.0.0.2", "connection": "ssh", "credential": key_credential.pk,
        "username": "deploy", "become": True, "host_key_policy": "accept_new"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["username"], body["become"], body["host_key_policy"]) == ("deploy", True, "accept_new")
    bad = api(owner, org).post("/api/hosts/", {"hostname": "db-2", "host_key_policy": "yes"}, format="json")
    assert bad.status_code == 400
