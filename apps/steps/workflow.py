"""workflow: start a child instance of another definition of the same organization for
every batch of `batch_size` target hosts, passing `variables` (templates)."""

from __future__ import annotations

from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import Key, SchemaStep, config_of

MAX_BATCH_SIZE = 10_000


class WorkflowStep(SchemaStep):
    type_name = "workflow"
    config_schema = {
        "workflow": Key((str, int), required=True, allow_blank=False, max_length=200),
        "batch_size": Key((int,), nullable=True, min_value=1, max_value=MAX_BATCH_SIZE),
        "variables": Key((dict,)),
    }
    templated = ("variables",)

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        ref = config.get("workflow")
        if isinstance(ref, bool) or not isinstance(ref, int | str) or not str(ref).strip() or ctx.lookups is None:
            return []
        child = ctx.lookups.workflow(ref)
        if child is None:
            return [Issue(f"{path}.workflow", "unknown_workflow",
                          f"{label}workflow '{ref}' is not an active workflow of this organization.")]
        if child.cycle:
            return [Issue(f"{path}.workflow", "child_workflow_cycle",
                          f"{label}starting '{child.name}' leads back here: {' -> '.join(child.cycle)}.")]
        return self._check_variables(config.get("variables"), child.variables, child.name, path, label)

    def _check_variables(
        self, given: Any, declared: list[dict[str, Any]], child: str, path: str, label: str
    ) -> list[Issue]:
        given = given if isinstance(given, dict) else {}
        names = {var.get("name") for var in declared if isinstance(var, dict)}
        issues = [
            Issue(f"{path}.variables.{name}", "unknown_child_variable",
                  f"{label}workflow '{child}' declares no variable '{name}'.")
            for name in given
            if name not in names
        ]
        issues += [
            Issue(f"{path}.variables", "missing_child_variable",
                  f"{label}workflow '{child}' requires variable '{var['name']}'.")
            for var in declared
            if isinstance(var, dict) and var.get("required") and var.get("default") is None
            and var.get("name") not in given
        ]
        return issues

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        config = config_of(spec)
        variables, error = sim.try_render(config.get("variables") or {}, real=True)
        if error:
            return {"would_fail": f"TemplateError: {error}"}
        hosts = sim.hosts
        size = config.get("batch_size") or max(len(hosts), 1)
        batches = [hosts[i : i + size] for i in range(0, len(hosts), size)] or [[]]
        return {
            "batch_size": config.get("batch_size"),
            "batch_count": len(batches),
            "batches": [{"index": i, "hosts": [h["hostname"] for h in batch]} for i, batch in enumerate(batches)],
            **sim.child(config["workflow"], variables=variables, hosts=batches[0]),
        }


STEP_TYPE = WorkflowStep()
