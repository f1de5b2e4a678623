"""One maker per API object endpoint: given an organization, create an object there and
return the path parameters that address it. The contract tests walk the OpenAPI schema
and fail for any object endpoint that has no maker here, so every endpoint added later
is covered by the tenancy matrix and the malformed-input sweep."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from apps.accounts.models import Membership, Organization
from apps.accounts.roles import Role
from apps.audit.services import audit_record
from tests.factories import UserFactory

Maker = Callable[[Organization], dict[str, str]]
_serial = itertools.count(1)  # makers run once per method: each call makes a new object


def _audit_event(org: Organization) -> dict[str, str]:
    event = audit_record(actor=None, action="contract.probe", organization=org, data={"probe": org.slug})
    return {"id": str(event.pk)}


def _credential(org: Organization) -> dict[str, str]:
    from apps.credentials.services import credential_create

    credential = credential_create(
        organization=org, actor=None, name=f"cred-{org.slug}-{next(_serial)}", kind="password", secret="contract-secret"
    )
    return {"id": str(credential.pk)}


def _host(org: Organization) -> dict[str, str]:
    from apps.inventory.services import host_create

    return {"id": str(host_create(organization=org, actor=None, hostname=f"host-{org.slug}-{next(_serial)}").pk)}


def _host_key(org: Organization) -> dict[str, str]:
    from apps.inventory.services import host_create, host_key_record
    from apps.inventory.ssh_keys import OfferedKey

    host = host_create(organization=org, actor=None, hostname=f"host-{org.slug}-{next(_serial)}")
    key = host_key_record(host_id=host.pk, offered=OfferedKey("ssh-ed25519", "ssh-ed25519 AAAA", f"SHA256:{host.pk}"))
    return {"id": str(host.pk), "key_id": str(key.pk)}


def _host_group(org: Organization) -> dict[str, str]:
    from apps.inventory.services import host_group_create

    return {"id": str(host_group_create(organization=org, actor=None, name=f"group-{org.slug}-{next(_serial)}").pk)}


def _instance(org: Organization) -> dict[str, str]:
    from apps.engine.models import WorkflowInstance

    instance = WorkflowInstance.objects.create(organization=org, workflow_name="contract-probe", snapshot={"steps": []})
    return {"id": str(instance.pk)}


def _instance_step(org: Organization) -> dict[str, str]:
    from apps.engine.models import StepExecution

    ids = _instance(org)
    StepExecution.objects.create(instance_id=int(ids["id"]), step_id="probe", step_type="command", status="failed")
    return {**ids, "step_id": "probe"}


def _approval(org: Organization) -> dict[str, str]:
    from apps.approvals.models import ApprovalRequest
    from apps.engine.models import StepExecution, WorkflowInstance

    instance = WorkflowInstance.objects.create(
        organization=org, workflow_name="contract-probe", status="running", snapshot={"steps": []}
    )
    step = StepExecution.objects.create(instance=instance, step_id="gate", step_type="approval", status="waiting",
                                        attempt=1)
    approval = ApprovalRequest.objects.create(organization=org, instance=instance, step_execution=step,
                                              step_id="gate", message="contract probe")
    return {"id": str(approval.pk)}


def _workflow(org: Organization) -> dict[str, str]:
    from apps.workflows.services import definition_create

    steps = [{"id": "probe", "type": "command", "config": {"command": "true"}}]
    definition = definition_create(organization=org, actor=None, name=f"wf-{org.slug}-{next(_serial)}", steps=steps)
    return {"id": str(definition.pk), "number": "1"}


def _organization(org: Organization) -> dict[str, str]:
    return {"slug": org.slug}


def _member(org: Organization) -> dict[str, str]:
    user = UserFactory(username=f"member-of-{org.slug}")
    Membership.objects.get_or_create(organization=org, user=user, defaults={"role": Role.VIEWER})
    return {"slug": org.slug, "username": user.username}


MAKERS: dict[str, Maker] = {
    "/api/approvals/{id}/": _approval,
    "/api/approvals/{id}/approve/": _approval,
    "/api/approvals/{id}/reject/": _approval,
    "/api/audit/{id}/": _audit_event,
    "/api/credentials/{id}/": _credential,
    "/api/host-groups/{id}/": _host_group,
    "/api/hosts/{id}/": _host,
    "/api/hosts/{id}/host-keys/": _host,
    "/api/hosts/{id}/host-keys/{key_id}/revoke/": _host_key,
    "/api/hosts/{id}/host-keys/{key_id}/trust/": _host_key,
    "/api/hosts/{id}/scan-host-key/": _host,
    "/api/instances/{id}/": _instance,
    "/api/instances/{id}/cancel/": _instance,
    "/api/instances/{id}/history/": _instance,
    "/api/instances/{id}/jobs/": _instance,
    "/api/instances/{id}/pause/": _instance,
    "/api/instances/{id}/rerun/": _instance,
    "/api/instances/{id}/resume/": _instance,
    "/api/instances/{id}/retry/": _instance,
    "/api/instances/{id}/steps/{step_id}/retry/": _instance_step,
    "/api/instances/{id}/steps/{step_id}/skip/": _instance_step,
    "/api/instances/{id}/terminate/": _instance,
    "/api/instances/{id}/logs/": _instance,
    "/api/instances/{id}/logs/download/": _instance,
    "/api/workflows/{id}/": _workflow,
    "/api/workflows/{id}/clone/": _workflow,
    "/api/workflows/{id}/export/": _workflow,
    "/api/workflows/{id}/publish/": _workflow,
    "/api/workflows/{id}/run/": _workflow,
    "/api/workflows/{id}/simulate/": _workflow,
    "/api/workflows/{id}/versions/": _workflow,
    "/api/workflows/{id}/versions/{number}/": _workflow,
    "/api/organizations/{slug}/": _organization,
    "/api/organizations/{slug}/members/": _organization,
    "/api/organizations/{slug}/members/{username}/": _member,
}
