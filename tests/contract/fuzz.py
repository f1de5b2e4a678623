"""What the Schemathesis runs share: the checks, bounded and deterministic Hypothesis
settings, and a way to point about half of the generated path parameters at objects that
exist (generated ids alone would almost only ever reach a 404)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, Phase, settings
from rest_framework.fields import BooleanField
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts.models import Organization
from apps.accounts.services import api_token_create
from apps.audit.models import AuditEvent
from apps.credentials.services import credential_create
from apps.engine.advance import advance
from apps.engine.services import instance_start
from apps.inventory.services import host_create, host_group_create
from apps.workflows.services import definition_create, definition_publish

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Bounded (the whole module in about two minutes on two cores) and the same cases on
# every run: derandomized, no example database, no deadline (a first request warms caches),
# and no shrinking (a failure is reported as found; shrinking would replay it many times).
FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@dataclass
class OrgData:
    """Real values for the path parameters of each API collection (`/api/<collection>/...`)."""

    token: str
    organization: Organization | None = None
    path_values: dict[str, dict[str, str]] = field(default_factory=dict)


def make_org_data(org: Organization, owner) -> OrgData:
    """An organization with one of everything, and its owner's API token."""
    credential = credential_create(organization=org, actor=owner, name="fuzz-cred", kind="password", secret="s3cret")
    host = host_create(organization=org, actor=owner, hostname="fuzz-host", credential=credential)
    group = host_group_create(organization=org, actor=owner, name="fuzz-group", hosts=[host.pk])
    steps = [
        {"id": "gate", "type": "approval", "config": {"message": "Go?"}, "on_success": "apply"},
        {"id": "apply", "type": "command", "config": {"command": "true"}},
    ]
    workflow = definition_create(organization=org, actor=owner, name="fuzz-workflow", steps=steps)
    definition_publish(organization=org, definition_id=workflow.pk, actor=owner)
    instance = instance_start(definition=workflow, actor=owner, hosts=[host.pk])
    advance(instance.pk)  # opens the approval gate
    approval = instance.approvals.get()
    _, token = api_token_create(user=owner, name="fuzz")
    event = AuditEvent.objects.filter(organization=org).latest("pk")
    ids = {
        "approvals": {"id": approval.pk},
        "audit": {"id": event.pk},
        "credentials": {"id": credential.pk},
        "host-groups": {"id": group.pk},
        "hosts": {"id": host.pk},
        "instances": {"id": instance.pk, "step_id": "gate"},
        "workflows": {"id": workflow.pk, "number": 1},
        "organizations": {"slug": org.slug, "username": owner.username},
    }
    path_values = {name: {key: str(value) for key, value in values.items()} for name, values in ids.items()}
    return OrgData(token=token, organization=org, path_values=path_values)


def real_path_parameters(case: Case, data: OrgData) -> None:
    """Point the generated path parameters whose text has an odd length at real objects:
    deterministic, and it keeps both existing and made-up ids in every operation's cases."""
    if not case.path_parameters:
        return
    collection = case.path.split("/")[2]
    real = data.path_values.get(collection, {})
    for name, value in list(case.path_parameters.items()):
        if name in real and len(str(value)) % 2 == 1:
            case.path_parameters[name] = real[name]


def bounded(case: Case) -> None:
    """A followed log download of a live run streams until the run ends, and nothing runs
    it to its end here: such cases ask for the log without `follow` (every other value of
    `follow`, valid or not, is sent as generated)."""
    if case.path.endswith("/logs/download/") and _is_true((case.query or {}).get("follow")):
        del case.query["follow"]


def _is_true(value: object) -> bool:
    try:
        return value in BooleanField.TRUE_VALUES
    except TypeError:  # an unhashable generated value
        return False


def prepare(case: Case, data: OrgData) -> None:
    real_path_parameters(case, data)
    bounded(case)


def answered_before_authentication(case: Case) -> bool:
    """Requests answered 404 for anyone, token or not, before authentication: no route
    matches the path (an id that is not a number), or `format` names none of the view's
    renderers (DRF's format override). Neither says anything about an object."""
    try:
        resolve(unquote(case.formatted_path))
    except Resolver404:
        return True
    requested = (case.query or {}).get("format")
    formats = [parameter.get("schema", {}).get("enum", []) for parameter in case.operation.definition.raw.get(
        "parameters", []) if parameter.get("in") == "query" and parameter.get("name") == "format"]
    return requested is not None and bool(formats) and requested not in formats[0]
