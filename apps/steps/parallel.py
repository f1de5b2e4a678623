"""parallel: start every branch at once; each branch is the chain of steps from its root
to a step with on_success null. `join`: all (every branch must succeed) or any (the first
success wins). Branch chains are checked by the definition's graph validation."""

from __future__ import annotations

from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import Key, SchemaStep, config_of, step_ref

JOINS = ("all", "any")


def branch_roots(spec: dict[str, Any]) -> list[str]:
    branches = config_of(spec).get("branches")
    return [b for b in branches if isinstance(b, str)] if isinstance(branches, list) else []


class ParallelStep(SchemaStep):
    type_name = "parallel"
    config_schema = {
        "branches": Key((list,), required=True, items=(str,), allow_blank=False, min_items=1, max_items=50),
        "join": Key((str,), choices=JOINS),
    }

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        issues: list[Issue] = []
        seen: set[str] = set()
        for index, root in enumerate(config.get("branches") or []):
            if not isinstance(root, str):
                continue
            branch_path = f"{path}.branches[{index}]"
            if root == spec.get("id"):
                issues.append(Issue(branch_path, "cycle", f"{label}a branch cannot start with the parallel step."))
            elif root in seen:
                issues.append(Issue(branch_path, "parallel_branch_overlap", f"{label}branch '{root}' is listed twice."))
            else:
                issues += step_ref(ctx, root, branch_path, label)
            seen.add(root)
        return issues

    def next_ids(self, spec: dict[str, Any]) -> list[str | None]:
        return [*branch_roots(spec), spec.get("on_success"), spec.get("on_failure")]

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        return {
            "join": config_of(spec).get("join") or "all",
            "branches": {root: sim.walk(root) for root in branch_roots(spec)},
        }


STEP_TYPE = ParallelStep()
