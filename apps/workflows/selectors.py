"""Org-scoped reads of workflow definitions and their versions."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from apps.accounts.models import Organization
from apps.core.errors import InvalidInput, NotFound
from apps.core.refs import MAX_ID, parse_ref
from apps.workflows.models import WorkflowDefinition, WorkflowVersion


def definition_list(*, organization: Organization) -> QuerySet[WorkflowDefinition]:
    latest = WorkflowVersion.objects.filter(definition=OuterRef("pk")).order_by("-number").values("number")[:1]
    return (
        WorkflowDefinition.objects.filter(organization=organization)
        .select_related("created_by")
        .annotate(latest_version=Subquery(latest))
    )


def definition_get(
    *, organization: Organization, definition_id: int | str, for_update: bool = False
) -> WorkflowDefinition:
    queryset = WorkflowDefinition.objects.filter(organization=organization)
    if for_update:
        queryset = queryset.select_for_update()
    definition = queryset.filter(pk=definition_id).first() if str(definition_id).isdigit() else None
    if definition is None:
        raise NotFound(f"Workflow {definition_id} was not found.")
    return definition


def definition_search(queryset: QuerySet[WorkflowDefinition], query: str) -> QuerySet[WorkflowDefinition]:
    """Definitions whose name or description contains the text (any case)."""
    query = query.strip()
    if not query:
        return queryset
    return queryset.filter(Q(name__icontains=query) | Q(description__icontains=query))


def definition_templates(*, organization: Organization) -> QuerySet[WorkflowDefinition]:
    return definition_list(organization=organization).filter(is_template=True).order_by("name", "id")


def definition_name_taken(*, organization_id: int, name: str, exclude_pk: int | None = None) -> bool:
    queryset = WorkflowDefinition.objects.alias(name_lower=Lower("name")).filter(
        organization_id=organization_id, name_lower=name.lower()
    )
    return queryset.exclude(pk=exclude_pk).exists() if exclude_pk else queryset.exists()


def definition_versions(*, definition: WorkflowDefinition) -> QuerySet[WorkflowVersion]:
    return definition.versions.select_related("actor").order_by("-number")


def definition_version_get(*, definition: WorkflowDefinition, number: int | str) -> WorkflowVersion:
    versions = definition_versions(definition=definition)
    version = versions.filter(number=number).first() if str(number).isdigit() else None
    if version is None:
        raise NotFound(f"Version {number} of workflow '{definition.name}' was not found.")
    return version


def definition_for_child(*, organization_id: int, ref: Any) -> WorkflowDefinition | None:
    """The active definition a `workflow` step names (id or name), in the same organization only."""
    definition_id, name = parse_ref(ref)
    queryset = WorkflowDefinition.objects.filter(organization_id=organization_id, is_active=True)
    if definition_id is not None:
        return queryset.filter(pk=definition_id).first() if definition_id <= MAX_ID else None
    if name is not None:
        return queryset.alias(name_lower=Lower("name")).filter(name_lower=name.lower()).first()
    return None


def definition_for_ref(*, organization: Organization, ref: Any) -> WorkflowDefinition:
    """The organization's definition `ref` names: its id, or its name (any case; a name made
    of digits is tried as a name when no definition has that id). Foreign = missing: 404."""
    definition_id, name = parse_ref(ref)
    if definition_id is None and name is None:
        raise InvalidInput("Name the workflow by its id (an integer) or its name.", code="invalid_reference")
    queryset = WorkflowDefinition.objects.filter(organization=organization)
    found = None
    if definition_id is not None:
        found = queryset.filter(pk=definition_id).first() if definition_id <= MAX_ID else None
        name = str(definition_id)
    if found is None:
        found = queryset.alias(name_lower=Lower("name")).filter(name_lower=name.lower()).first()
    if found is None:
        raise NotFound(f"Workflow '{name}' was not found.")
    return found


def child_refs(steps: Any) -> list[Any]:
    """The `workflow` references of a step list."""
    if not isinstance(steps, list):
        return []
    return [
        step["config"].get("workflow")
        for step in steps
        if isinstance(step, dict) and step.get("type") == "workflow" and isinstance(step.get("config"), dict)
    ]


def definitions_referencing(*, definition: WorkflowDefinition, by_name_only: bool = False) -> list[str]:
    """Names of the organization's other definitions whose `workflow` steps start this one
    (`by_name_only`: those that name it, rather than give its id)."""
    names = []
    # Scanned in Python: SQLite (the embedded mode) has no JSON containment lookup.
    others = WorkflowDefinition.objects.filter(organization_id=definition.organization_id).exclude(pk=definition.pk)
    for other in others.only("name", "steps"):
        for ref in child_refs(other.steps):
            definition_id, name = parse_ref(ref)
            by_id = definition_id == definition.pk and not by_name_only
            if by_id or (name is not None and name.lower() == definition.name.lower()):
                names.append(other.name)
                break
    return names
