"""demo_bootstrap(): the first-run data of `manage.py standalone`, against the real database."""

from __future__ import annotations

from apps.accounts.models import Membership, Organization
from apps.audit.models import AuditEvent
from apps.credentials.models import Credential
from apps.inventory.models import Host
from apps.site.bootstrap import demo_bootstrap
from apps.workflows.models import WorkflowDefinition


def test_creates_demo_data_once_with_audit_events(db):
    first = demo_bootstrap()

    assert first.admin.is_superuser and first.admin.is_staff
    assert first.admin.check_password(first.admin_password)
    assert Membership.objects.get(organization__slug="demo", user=first.admin).role == "owner"
    assert (first.host.hostname, first.host.connection, first.host.primary_ip) == ("localhost", "local", "127.0.0.1")
    assert first.host.organization == first.organization
    examples = set(WorkflowDefinition.objects.filter(organization=first.organization).values_list("name", flat=True))
    assert {"config-deploy", "health-check", "multi-deploy", "patch-canary", "rotate-service-password"} == examples
    assert Credential.objects.filter(organization=first.organization, name="db-admin").exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"user.create", "organization.create", "membership.set", "host.create"} <= actions

    events = AuditEvent.objects.count()
    second = demo_bootstrap(admin_password="ignored-on-a-second-run")

    assert second.admin_password is None and second.created == ()
    assert (second.organization, second.admin, second.host) == (first.organization, first.admin, first.host)
    second.admin.refresh_from_db()
    assert second.admin.check_password(first.admin_password)  # never reset
    assert Organization.objects.count() == 1 and Host.objects.count() == 1
    assert AuditEvent.objects.count() == events
    WorkflowDefinition.objects.filter(name="health-check").delete()
    demo_bootstrap()
    assert not WorkflowDefinition.objects.filter(name="health-check").exists()  # deleted stays deleted


def test_uses_the_given_password_and_recreates_only_what_is_missing(db):
    first = demo_bootstrap(admin_password="chosen-by-the-operator-1")
    assert first.admin.check_password("chosen-by-the-operator-1")
    Host.objects.filter(pk=first.host.pk).delete()

    again = demo_bootstrap()

    assert again.created == ("host localhost",)
    assert again.admin_password is None
    assert Host.objects.filter(organization=first.organization, hostname="localhost").count() == 1
