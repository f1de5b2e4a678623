"""Two organizations with known contents, for the portal and browser tests.

Read-side rows (definitions, instances, approvals) are created directly: the dashboard only
counts them, and the engine's services are tested where they live."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from apps.accounts.models import Membership, Organization
from apps.accounts.roles import Role
from apps.approvals.models import ApprovalRequest, ApprovalStatus
from apps.audit.services import audit_record
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.states import InstanceStatus
from apps.inventory.models import Connection, Host, HostGroup
from apps.workflows.models import WorkflowDefinition
from tests.credentials.factories import CredentialFactory
from tests.factories import UserFactory
from tests.inventory.factories import HostFactory, HostGroupFactory

CREDENTIAL_SECRET = "hunter2-never-shown"


@dataclass
class Expected:
    hosts: int = 0
    host_groups: int = 0
    credentials: int = 0
    published: int = 0
    drafts: int = 0
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    pending_approvals: int = 0
    stats: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stats = {
            "hosts": self.hosts,
            "host-groups": self.host_groups,
            "credentials": self.credentials,
            "workflows-published": self.published,
            "workflows-drafts": self.drafts,
            "instances-active": self.active,
            "instances-succeeded": self.succeeded,
            "instances-failed": self.failed,
            "approvals-pending": self.pending_approvals,
        }


@dataclass
class World:
    hosts: dict[str, Host]
    groups: dict[str, HostGroup]
    expected: Expected


def make_definition(organization: Organization, name: str, *, published: bool) -> WorkflowDefinition:
    return WorkflowDefinition.objects.create(organization=organization, name=name, is_published=published)


def make_instance(
    organization: Organization, status: str, *, finished_hours_ago: float | None = None
) -> WorkflowInstance:
    finished_at = timezone.now() - timedelta(hours=finished_hours_ago) if finished_hours_ago is not None else None
    return WorkflowInstance.objects.create(
        organization=organization, workflow_name="patch", snapshot={}, status=status, finished_at=finished_at
    )


def make_approval(instance: WorkflowInstance, status: str = ApprovalStatus.PENDING) -> ApprovalRequest:
    step = StepExecution.objects.create(instance=instance, step_id="gate", step_type="approval", attempt=1)
    return ApprovalRequest.objects.create(
        organization=instance.organization, instance=instance, step_execution=step, step_id="gate", status=status
    )


def build_acme(org: Organization) -> World:
    credential = CredentialFactory(organization=org, name="deploy-key", secret=CREDENTIAL_SECRET)
    web = HostGroupFactory(organization=org, name="web")
    db = HostGroupFactory(organization=org, name="db")
    hosts = {
        "web-1": HostFactory(
            organization=org,
            hostname="web-1.acme.test",
            primary_ip="10.0.1.11",
            credential=credential,
            groups=[web],
            labels=["prod", "eu"],
            vars={"tier": "front"},
        ),
        "web-2": HostFactory(organization=org, hostname="web-2.acme.test", primary_ip="10.0.1.12", groups=[web]),
        "db-1": HostFactory(
            organization=org,
            hostname="db-1.acme.test",
            primary_ip="10.0.2.21",
            groups=[db],
            connection=Connection.AGENT,
            port=None,
        ),
    }
    make_definition(org, "patch-web", published=True)
    make_definition(org, "restart-db", published=True)
    make_definition(org, "draft-thing", published=False)
    paused = make_instance(org, InstanceStatus.PAUSED)
    for status in (InstanceStatus.RUNNING, InstanceStatus.PENDING, InstanceStatus.SCHEDULED):
        make_instance(org, status)
    for status, hours_ago in [
        (InstanceStatus.SUCCEEDED, 1),
        (InstanceStatus.SUCCEEDED, 23),
        (InstanceStatus.SUCCEEDED, 25),
        (InstanceStatus.FAILED, 2),
        (InstanceStatus.TIMEOUT, 3),
        (InstanceStatus.FAILED, 30),
        (InstanceStatus.CANCELED, 1),
        (InstanceStatus.REJECTED, 1),
    ]:
        make_instance(org, status, finished_hours_ago=hours_ago)
    make_approval(paused)
    make_approval(make_instance(org, InstanceStatus.SUCCEEDED, finished_hours_ago=48), ApprovalStatus.APPROVED)
    audit_record(actor=None, action="host.create", target=hosts["web-1"])
    expected = Expected(
        hosts=3,
        host_groups=2,
        credentials=1,
        published=2,
        drafts=1,
        active=3,
        succeeded=2,
        failed=2,
        pending_approvals=1,
    )
    return World(hosts=hosts, groups={"web": web, "db": db}, expected=expected)


def build_globex(org: Organization) -> World:
    CredentialFactory(organization=org, name="globex-1")
    CredentialFactory(organization=org, name="globex-2")
    group = HostGroupFactory(organization=org, name="web")  # same name as acme's: never mixed up
    hosts = {
        "globex-web": HostFactory(
            organization=org, hostname="web-9.globex.test", primary_ip="10.0.1.99", groups=[group]
        ),
        "globex-db": HostFactory(organization=org, hostname="db-9.globex.test", primary_ip="10.0.2.99"),
    }
    for index in range(4):
        make_definition(org, f"globex-{index}", published=True)
        make_instance(org, InstanceStatus.RUNNING)
    for _ in range(3):
        make_approval(make_instance(org, InstanceStatus.FAILED, finished_hours_ago=1))
    audit_record(actor=None, action="globex.secret-plan", target=hosts["globex-web"])
    expected = Expected(
        hosts=2,
        host_groups=1,
        credentials=2,
        published=4,
        drafts=0,
        active=4,
        succeeded=0,
        failed=3,
        pending_approvals=3,
    )
    return World(hosts=hosts, groups={"web": group}, expected=expected)


def make_member_of_both(org: Organization, other_org: Organization, username: str = "both"):
    user = UserFactory(username=username)
    Membership.objects.create(organization=org, user=user, role=Role.VIEWER)
    Membership.objects.create(organization=other_org, user=user, role=Role.OPERATOR)
    return user


def stat(html: str, key: str) -> int:
    """The number a dashboard card shows."""
    match = re.search(rf'id="stat-{key}".*?<dd class="stat-value">(\d+)</dd>', html, re.S)
    assert match, f"no stat {key}"
    return int(match.group(1))
