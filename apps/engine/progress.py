"""The run's graph for the detail page's progress view: one node per step of the frozen
snapshot with the status of its execution, edges as the step catalogue routes them
(`successors`: on_success, on_failure, conditional and parallel branches). The browser
lays it out with the workflow editor's layout (static/js/workflows/dag.js)."""

from __future__ import annotations

from typing import Any

from apps.engine.lifecycle import successors
from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.templatetags.engine_ui import STATUS_STYLES, UNKNOWN_STYLE
from apps.steps.registry import UnknownStepType

BRANCH_LABELS = {"parallel": "parallel", "conditional": "branch"}


def progress_graph(instance: WorkflowInstance, steps: list[StepExecution], *, active: bool) -> dict[str, Any]:
    specs = [spec for spec in instance.snapshot.get("steps", []) if isinstance(spec, dict) and spec.get("id")]
    ids = {spec["id"] for spec in specs}
    rows = {step.step_id: step for step in steps}
    nodes = []
    edges = []
    for spec in specs:
        row = rows.get(spec["id"])
        nodes.append({"id": spec["id"], "type": spec.get("type", ""), **_state(row, active=active)})
        for target in dict.fromkeys(_targets(spec)):
            if target not in ids:
                continue
            if target == spec.get("on_success"):
                edges.append({"from": spec["id"], "to": target, "kind": "success", "label": "on success"})
            elif target == spec.get("on_failure"):
                edges.append({"from": spec["id"], "to": target, "kind": "failure", "label": "on failure"})
            else:
                label = BRANCH_LABELS.get(spec.get("type", ""), "branch")
                edges.append({"from": spec["id"], "to": target, "kind": "branch", "label": label})
    start = instance.snapshot.get("start")
    return {
        "start": start if start in ids else (specs[0]["id"] if specs else None),
        "on_cancel": instance.snapshot.get("on_cancel") or None,
        "nodes": nodes,
        "edges": edges,
    }


def _targets(spec: dict[str, Any]) -> list[str]:
    try:
        return successors(spec)
    except UnknownStepType:  # a snapshot from before a step type was removed
        return [edge for edge in (spec.get("on_success"), spec.get("on_failure")) if edge]


def _state(row: StepExecution | None, *, active: bool) -> dict[str, Any]:
    """status, tone (colour), icon and the words shown: never the colour alone."""
    if row is None:
        status, label = "pending", "not reached yet" if active else "not run"
    else:
        status, label = row.status, row.status.replace("_", " ")
    tone, icon = STATUS_STYLES.get(status, UNKNOWN_STYLE)
    return {"status": status, "tone": tone, "icon": icon, "label": label, "executed": row is not None}
