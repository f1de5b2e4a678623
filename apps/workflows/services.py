"""Every write to workflow definitions, each in one transaction with its audit event and a
new version (DESIGN §4): create, update (drafts; a published definition may only change
is_active/is_published), publish, clone, import, delete; plus the snapshot the engine
freezes into an instance and the bundled examples.

Lock order: the definition row, then its versions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max

from apps.accounts.models import Organization
from apps.audit.services import audit_record
from apps.core.errors import Conflict, InvalidInput
from apps.steps.base import Issue
from apps.workflows.formats import (
    CONTENT_DEFAULTS,
    CONTENT_FIELDS,
    FLAG_FIELDS,
    apply_content,
    definition_content,
    parse_definition_text,
)
from apps.workflows.models import WorkflowDefinition, WorkflowVersion
from apps.workflows.selectors import child_refs, definition_get, definition_name_taken, definitions_referencing
from apps.workflows.validation import ValidationResult, validate_definition

# What may still change once a definition is published (DESIGN §4).
MUTABLE_WHEN_PUBLISHED = frozenset({"is_active", "is_published"})
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
COPY_SUFFIX = " (Copy)"

Actor = AbstractBaseUser | None


@transaction.atomic
def definition_create(
    *, organization: Organization, actor: Actor, data: dict[str, Any] | None = None, **fields: Any
) -> WorkflowDefinition:
    """A new definition from fields, or from `data` in the contract's format (fields win)."""
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("The definition must be a JSON object.", code="invalid_definition")
    fields = {**(data or {}), **fields}
    _reject_unknown(fields)
    content = {**CONTENT_DEFAULTS, **{key: fields[key] for key in CONTENT_FIELDS if key in fields}}
    flags = {"is_active": True, "is_published": False, "is_template": False}
    flags.update({key: fields[key] for key in FLAG_FIELDS if key in fields})
    return _create(organization, actor, content, flags, action="workflow.create")


@transaction.atomic
def definition_update(
    *, organization: Organization, definition_id: int, actor: Actor, **changes: Any
) -> WorkflowDefinition:
    """Change the given fields (PATCH semantics). A published definition answers 409
    `definition_published` to anything but is_active/is_published."""
    _reject_unknown(changes)
    definition = definition_get(organization=organization, definition_id=definition_id, for_update=True)
    before = {**definition_content(definition), **_flags(definition)}
    after = {**before, **changes}
    for key in ("start", "on_cancel"):  # "" and null both mean "none"
        after[key] = after[key] or None
    changed = [key for key in (*CONTENT_FIELDS, *FLAG_FIELDS) if after[key] != before[key]]
    if not changed:
        return definition
    if definition.is_published and set(changed) - MUTABLE_WHEN_PUBLISHED:
        raise _published(definition, sorted(set(changed) - MUTABLE_WHEN_PUBLISHED))
    _check_flags(after)
    content = {key: after[key] for key in CONTENT_FIELDS}
    publishing = after["is_published"] and not before["is_published"]
    if set(changed) - MUTABLE_WHEN_PUBLISHED or publishing:
        check_definition(content, organization_id=organization.pk, definition_id=definition.pk, publishing=publishing)
    _ensure_name_free(organization.pk, content["name"], exclude_pk=definition.pk)
    if content["name"].lower() != before["name"].lower():
        _ensure_not_named_by_parents(definition)
    apply_content(definition, content)
    for key in FLAG_FIELDS:
        setattr(definition, key, after[key])
    _save(definition)
    version = _write_version(definition, actor)
    audit_record(actor=actor, action="workflow.update", target=definition,
                 data={"name": definition.name, "changed": changed, "version": version.number})
    return definition


@transaction.atomic
def definition_publish(*, organization: Organization, definition_id: int, actor: Actor) -> WorkflowDefinition:
    """Validate and freeze; publishing a published definition changes nothing."""
    definition = definition_get(organization=organization, definition_id=definition_id, for_update=True)
    if definition.is_published:
        return definition
    check_definition(definition_content(definition), organization_id=organization.pk,
                     definition_id=definition.pk, publishing=True)
    definition.is_published = True
    definition.save(update_fields=["is_published", "updated_at"])
    version = _write_version(definition, actor)
    audit_record(actor=actor, action="workflow.publish", target=definition,
                 data={"name": definition.name, "version": version.number})
    return definition


@transaction.atomic
def definition_delete(*, organization: Organization, definition_id: int, actor: Actor) -> None:
    definition = definition_get(organization=organization, definition_id=definition_id, for_update=True)
    users = definitions_referencing(definition=definition)
    if users:
        raise Conflict(
            f"Workflow '{definition.name}' is started by {', '.join(sorted(users)[:5])}; change those first.",
            code="definition_in_use",
        )
    audit_record(actor=actor, action="workflow.delete", target=definition,
                 data={"name": definition.name, "versions": definition.versions.count()})
    definition.delete()


@transaction.atomic
def definition_clone(
    *, organization: Organization, definition_id: int, actor: Actor, name: str | None = None
) -> WorkflowDefinition:
    """A new draft "<name> (Copy)" (or `name`) in the caller's organization, not a template."""
    source = definition_get(organization=organization, definition_id=definition_id)
    content = definition_content(source)
    content["name"] = name or _copy_name(organization.pk, source.name)
    flags = {"is_active": True, "is_published": False, "is_template": False}
    return _create(organization, actor, content, flags, action="workflow.clone", audit_data={"source": source.pk})


@transaction.atomic
def definition_import(
    *, organization: Organization, actor: Actor, definition: Any, name: str | None = None
) -> WorkflowDefinition:
    """Import the contract's format (an object, or JSON/YAML text) as a new draft. A name
    already in use is a 409 `duplicate`: pass `name` to import under another name."""
    data = parse_definition_text(definition) if isinstance(definition, str) else definition
    if not isinstance(data, dict):
        raise InvalidInput("The definition must be a JSON or YAML object.", code="invalid_definition")
    if name:
        data = {**data, "name": name}
    content = {**CONTENT_DEFAULTS, **data}
    flags = {"is_active": True, "is_published": False, "is_template": False}
    return _create(organization, actor, content, flags, action="workflow.import")


def definition_export(*, definition: WorkflowDefinition) -> dict[str, Any]:
    """The contract's JSON form: content only, no ids, versions or execution history."""
    return definition_content(definition)


def definition_snapshot(definition: WorkflowDefinition) -> tuple[dict[str, Any], int]:
    """What an instance freezes at start, and the number of the version it is. Writes a
    version when the definition has none yet (or was changed outside these services)."""
    snapshot = definition_content(definition)
    latest = definition.versions.order_by("-number").first()
    if latest is not None and latest.snapshot == snapshot:
        return snapshot, latest.number
    with transaction.atomic():
        locked = WorkflowDefinition.objects.select_for_update().get(pk=definition.pk)
        snapshot = definition_content(locked)
        latest = locked.versions.order_by("-number").first()
        if latest is not None and latest.snapshot == snapshot:
            return snapshot, latest.number
        return snapshot, _write_version(locked, None).number


@transaction.atomic
def examples_load(*, organization: Organization, actor: Actor = None) -> list[WorkflowDefinition]:
    """The bundled example workflows, published; one that exists by name is left as it is."""
    loaded = []
    for data in _children_first([json.loads(path.read_text()) for path in sorted(EXAMPLES_DIR.glob("*.json"))]):
        existing = WorkflowDefinition.objects.filter(organization=organization, name__iexact=data["name"]).first()
        if existing is None:
            existing = definition_create(organization=organization, actor=actor, is_published=True, **data)
        loaded.append(existing)
    return loaded


def check_definition(
    content: dict[str, Any], *, organization_id: int, definition_id: int | None = None, publishing: bool = False
) -> ValidationResult:
    """validate_definition, raised as a 400 with every error (and the warnings) if any."""
    result = validate_definition(content, organization_id=organization_id, definition_id=definition_id)
    errors = list(result.errors)
    if publishing and not errors and not content.get("steps"):
        errors.append(Issue("steps", "no_steps", "A workflow needs at least one step to be published."))
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidInput(
            f"The workflow is invalid: {errors[0].message}{more}",
            code="invalid_definition",
            extra={"errors": [e.as_dict() for e in errors], "warnings": [w.as_dict() for w in result.warnings]},
        )
    return result


# --- helpers ------------------------------------------------------------------------------
def _create(
    organization: Organization, actor: Actor, content: dict[str, Any], flags: dict[str, Any], *,
    action: str, audit_data: dict[str, Any] | None = None,
) -> WorkflowDefinition:
    _check_flags(flags)
    check_definition(content, organization_id=organization.pk, publishing=bool(flags["is_published"]))
    _ensure_name_free(organization.pk, content["name"])
    definition = WorkflowDefinition(
        organization=organization, created_by=actor if getattr(actor, "is_authenticated", False) else None, **flags
    )
    apply_content(definition, content)
    _save(definition)
    version = _write_version(definition, actor)
    audit_record(actor=actor, action=action, target=definition, data={
        "name": definition.name, "steps": definition.step_count, "version": version.number, **(audit_data or {}),
    })
    return definition


def _write_version(definition: WorkflowDefinition, actor: Actor) -> WorkflowVersion:
    """The caller holds the definition's row lock (or just created it)."""
    latest = definition.versions.aggregate(number=Max("number"))["number"] or 0
    snapshot = definition_content(definition)
    return WorkflowVersion.objects.create(
        definition=definition,
        number=latest + 1,
        snapshot=snapshot,
        step_count=len(snapshot["steps"]),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _flags(definition: WorkflowDefinition) -> dict[str, bool]:
    return {key: getattr(definition, key) for key in FLAG_FIELDS}


def _check_flags(flags: dict[str, Any]) -> None:
    wrong = [key for key in FLAG_FIELDS if not isinstance(flags.get(key), bool)]
    if wrong:
        raise InvalidInput(f"{wrong[0]} must be true or false.", extra={"errors": {wrong[0]: ["Must be a boolean."]}})


def _reject_unknown(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(CONTENT_FIELDS) - set(FLAG_FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")


def _ensure_name_free(organization_id: int, name: str, exclude_pk: int | None = None) -> None:
    if definition_name_taken(organization_id=organization_id, name=name, exclude_pk=exclude_pk):
        raise _duplicate(name)


def _ensure_not_named_by_parents(definition: WorkflowDefinition) -> None:
    """A rename would break the definitions whose `workflow` steps start this one by name
    (they would fail to start it with NotFound at run time)."""
    parents = definitions_referencing(definition=definition, by_name_only=True)
    if parents:
        raise Conflict(
            f"Workflow '{definition.name}' is started by name from {', '.join(sorted(parents)[:5])}; renaming it "
            f"would break them. Point their workflow steps at id {definition.pk} first, or keep the name.",
            code="definition_in_use",
        )


def _duplicate(name: str) -> Conflict:
    return Conflict(f"A workflow named '{name}' already exists; choose another name.", code="duplicate")


def _published(definition: WorkflowDefinition, fields: list[str]) -> Conflict:
    return Conflict(
        f"Workflow '{definition.name}' is published, so {', '.join(fields)} cannot change; only is_active and "
        "is_published can. Clone it to edit a copy, or unpublish it first.",
        code="definition_published",
    )


def _save(definition: WorkflowDefinition) -> None:
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError as exc:  # a concurrent request took the name after the check
        raise _duplicate(definition.name) from exc


def _copy_name(organization_id: int, name: str) -> str:
    for attempt in range(1, 1000):
        suffix = COPY_SUFFIX if attempt == 1 else f" (Copy {attempt})"
        candidate = name[: 200 - len(suffix)] + suffix
        if not definition_name_taken(organization_id=organization_id, name=candidate):
            return candidate
    raise Conflict(f"Too many copies of '{name}'; name the copy yourself.", code="duplicate")


def _children_first(definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order definitions so that a workflow a `workflow` step starts comes before its parent."""
    names = {d["name"].lower() for d in definitions}
    ordered: list[dict[str, Any]] = []
    pending = list(definitions)
    while pending:
        placed = {d["name"].lower() for d in ordered}
        ready = [d for d in pending if all(
            not isinstance(ref, str) or ref.lower() not in names or ref.lower() in placed
            for ref in child_refs(d.get("steps"))
        )] or pending[:1]
        ordered += ready
        pending = [d for d in pending if d not in ready]
    return ordered
