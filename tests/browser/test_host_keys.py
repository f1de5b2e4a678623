"""The host page's SSH keys in a real browser: an editor trusts, then revokes, a key."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from apps.inventory.models import HostKey
from apps.inventory.services import host_create, host_key_record
from apps.inventory.ssh_keys import OfferedKey

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
FINGERPRINT = "SHA256:Bq3ZtE0mVlkVq1LJ3n6Q3o4B1bq3rY6o2Qe4qk7Qp0A"


def test_editor_trusts_then_revokes_a_host_key(page, login, org, make_member):
    editor = make_member(org, Role.EDITOR, "editor")
    host = host_create(organization=org, actor=None, hostname="web-1", primary_ip="127.0.0.2", connection="ssh")
    key = host_key_record(host_id=host.pk, offered=OfferedKey("ssh-ed25519", "ssh-ed25519 AAAAC3Nz", FINGERPRINT))
    login(page, editor)

    page.goto(f"/inventory/hosts/{host.pk}/")
    row = page.locator(f'tr[data-key="{key.pk}"]')
    expect(row).to_contain_text(FINGERPRINT)
    expect(row).to_contain_text("pending")
    row.get_by_role("button", name="Trust").click()

    expect(page.get_by_text(f"Key {FINGERPRINT} is trusted.")).to_be_visible()
    expect(row).to_contain_text("trusted")
    expect(row).to_contain_text("editor at")
    assert HostKey.objects.get(pk=key.pk).state == "trusted"

    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text(f"Key {FINGERPRINT} is revoked.")).to_be_visible()
    expect(row).to_contain_text("revoked")
    assert HostKey.objects.get(pk=key.pk).state == "revoked"
