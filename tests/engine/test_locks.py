"""Row locks on instance, step and timer rows live in one module, apps/engine/locks.py,
which writes the lock order once (issue 14, item 1); they are real Postgres row locks."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from django.db import DatabaseError, connections, transaction

from apps.core.errors import NotFound
from apps.engine import locks
from apps.engine.models import StepExecution, WorkflowInstance

APPS = Path(__file__).resolve().parents[2] / "apps"
ENGINE_ROWS = {"WorkflowInstance", "StepExecution", "Timer"}


def _receiver_names(call: ast.Call) -> set[str]:
    """Names and attributes along `X.objects.filter(...).select_for_update()`'s receiver."""
    names: set[str] = set()
    node: ast.AST = call.func
    while isinstance(node, ast.Attribute | ast.Call):
        node = node.value if isinstance(node, ast.Attribute) else node.func
        if isinstance(node, ast.Attribute):
            names.add(node.attr)
    if isinstance(node, ast.Name):
        names.add(node.id)
    return names


def test_instance_step_and_timer_rows_are_locked_only_in_locks_py():
    outside = []
    for path in sorted(APPS.rglob("*.py")):
        if path == APPS / "engine" / "locks.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "select_for_update"
                and _receiver_names(node) & (ENGINE_ROWS | {"steps", "children", "timers"})
            ):
                outside.append(f"{path.relative_to(APPS.parent)}:{node.lineno}")
    assert outside == [], f"lock instance/step/timer rows through apps.engine.locks: {outside}"


@pytest.mark.django_db(transaction=True)
def test_instance_lock_holds_the_row_and_hides_other_organizations(make_workflow, run, localhost, other_org):
    definition = make_workflow([{"id": "one", "type": "command", "config": {"command": "true"}}])
    instance = run(definition, hosts=[localhost.pk])
    step = StepExecution.objects.create(instance=instance, step_id="one")
    seen: dict[str, str] = {}

    def other_writer() -> None:
        try:
            for model, pk in ((WorkflowInstance, instance.pk), (StepExecution, step.pk)):
                try:
                    with transaction.atomic():
                        model.objects.select_for_update(nowait=True).filter(pk=pk).first()
                    seen[model.__name__] = "free"
                except DatabaseError:
                    seen[model.__name__] = "locked"
        finally:
            connections.close_all()

    with transaction.atomic():
        assert locks.instance_lock(instance_id=instance.pk, organization_id=instance.organization_id) == instance
        assert locks.steps_lock(instance) == [step]
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(10)
    assert seen == {"WorkflowInstance": "locked", "StepExecution": "locked"}

    with pytest.raises(NotFound), transaction.atomic():
        locks.instance_lock(instance_id=instance.pk, organization_id=other_org.pk)
