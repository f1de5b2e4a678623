"""Inventory admin: saves go through the services (rules, audit), organization stays put."""

import pytest
from django.contrib.auth.models import Permission

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.inventory.models import Host
from tests.credentials.factories import CredentialFactory
from tests.inventory.factories import HostFactory, HostGroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, superuser):
    client.force_login(superuser)
    return client


def _host_form(org, **overrides):
    return {"organization": org.pk, "hostname": "web-01", "primary_ip": "", "os": "", "connection": "ssh",
            "port": "", "vars": "{}", "labels": "[]", "is_enabled": "on", "credential": "",
            "username": "", "host_key_policy": "strict", **overrides}


def test_changelists_and_add_pages_render(admin_browser, org):
    HostFactory(organization=org, groups=[HostGroupFactory(organization=org)])
    for page in ("/admin/inventory/host/", "/admin/inventory/hostgroup/", "/admin/inventory/host/add/",
                 "/admin/inventory/hostgroup/add/", "/admin/inventory/host/?connection__exact=ssh&q=host"):
        assert admin_browser.get(page).status_code == 200, page
    assert "selectfilter" in admin_browser.get("/admin/inventory/host/add/").content.decode().lower()


def test_add_host_goes_through_the_service(admin_browser, org):
    group = HostGroupFactory(organization=org, name="web")
    credential = CredentialFactory(organization=org)

    response = admin_browser.post("/admin/inventory/host/add/", _host_form(
        org, groups=[group.pk], credential=credential.pk, labels='["prod"]'))

    assert response.status_code == 302, response.content.decode()[:3000]
    host = Host.objects.get(hostname="web-01")
    assert host.port == 22 and list(host.groups.all()) == [group] and host.credential == credential
    assert AuditEvent.objects.filter(action="host.create", target_id=str(host.pk)).count() == 1


def test_admin_rejects_cross_org_references_and_bad_values(admin_browser, org, other_org):
    foreign_group = HostGroupFactory(organization=other_org)
    foreign_credential = CredentialFactory(organization=other_org)

    response = admin_browser.post("/admin/inventory/host/add/", _host_form(
        org, groups=[foreign_group.pk], credential=foreign_credential.pk, vars="[1]", hostname="bad host"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Pick a credential of the host&#x27;s organization." in page
    assert "Pick groups of the host&#x27;s organization." in page
    assert "vars must be a JSON object." in page and "is not a valid hostname" in page
    assert not Host.objects.exists()


def test_duplicate_hostname_is_a_form_error(admin_browser, org):
    HostFactory(organization=org, hostname="web-01")

    response = admin_browser.post("/admin/inventory/host/add/", _host_form(org, hostname="WEB-01"))

    assert response.status_code == 200
    assert "A host with this hostname already exists in this organization." in response.content.decode()


def test_delete_goes_through_the_service(admin_browser, org):
    host = HostFactory(organization=org)

    response = admin_browser.post(f"/admin/inventory/host/{host.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Host.objects.filter(pk=host.pk).exists()
    assert AuditEvent.objects.filter(action="host.delete", target_id=str(host.pk)).exists()


def test_staff_org_admin_sees_only_their_orgs_hosts(client, org, other_org, make_member):
    user = make_member(org, Role.ADMIN, "staff-admin")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="inventory"))
    HostFactory(organization=org, hostname="ours")
    theirs = HostFactory(organization=other_org, hostname="theirs")
    client.force_login(user)

    changelist = client.get("/admin/inventory/host/").content.decode()

    assert "ours" in changelist and "theirs" not in changelist
    assert client.get(f"/admin/inventory/host/{theirs.pk}/change/").status_code == 302  # "doesn't exist"
