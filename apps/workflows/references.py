"""What a definition's validation looks up in its organization: child workflows (and
whether starting one leads back to the definition being validated) and vault credentials."""

from __future__ import annotations

from collections import deque
from typing import Any

from apps.core.refs import parse_ref
from apps.credentials.selectors import credential_for_ref
from apps.steps.base import ChildWorkflow
from apps.workflows.models import WorkflowDefinition
from apps.workflows.selectors import child_refs, definition_for_child

MAX_DEFINITIONS_FOLLOWED = 100


class OrganizationLookups:
    """Implements apps.steps.base.Lookups for one validation run (answers are cached)."""

    def __init__(self, organization_id: int, *, definition_id: int | None = None, name: str = "") -> None:
        self.organization_id = organization_id
        self.definition_id = definition_id
        self.name = name
        self._children: dict[str, ChildWorkflow | None] = {}
        self._credentials: dict[str, dict[str, Any] | None] = {}

    def workflow(self, ref: Any) -> ChildWorkflow | None:
        key = repr(ref)
        if key not in self._children:
            child = definition_for_child(organization_id=self.organization_id, ref=ref)
            self._children[key] = None if child is None else ChildWorkflow(
                id=child.pk,
                name=child.name,
                variables=child.variables if isinstance(child.variables, list) else [],
                cycle=self._cycle(child),
            )
        return self._children[key]

    def credential(self, ref: Any) -> dict[str, Any] | None:
        key = repr(ref)
        if key not in self._credentials:
            self._credentials[key] = credential_info(organization_id=self.organization_id, ref=ref)
        return self._credentials[key]

    def _is_self(self, definition: WorkflowDefinition) -> bool:
        if self.definition_id is not None:
            return definition.pk == self.definition_id
        return bool(self.name) and definition.name.lower() == self.name.lower()

    def _cycle(self, child: WorkflowDefinition) -> tuple[str, ...]:
        """The chain of names from here through `child` back to here, or () if none."""
        queue = deque([(child, (self.name, child.name))])
        seen = {child.pk}
        while queue and len(seen) <= MAX_DEFINITIONS_FOLLOWED:
            definition, chain = queue.popleft()
            if self._is_self(definition):
                return chain
            for ref in child_refs(definition.steps):
                if parse_ref(ref) == (None, None):
                    continue
                nested = definition_for_child(organization_id=self.organization_id, ref=ref)
                if nested is not None and nested.pk not in seen:
                    seen.add(nested.pk)
                    queue.append((nested, (*chain, nested.name)))
        return ()


def credential_info(*, organization_id: int, ref: Any) -> dict[str, Any] | None:
    """Name, kind and username of the organization's credential `ref` (id or name); never the secret."""
    credential = credential_for_ref(organization_id=organization_id, ref=ref)
    if credential is None:
        return None
    return {"id": credential.pk, "name": credential.name, "kind": credential.kind, "username": credential.username}
