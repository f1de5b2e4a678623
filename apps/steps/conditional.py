"""conditional: the first branch whose `when` holds decides the next step, else `default`
(else `on_success`)."""

from __future__ import annotations

from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import Key, SchemaStep, check_object, config_of, step_ref
from apps.steps.templating import TemplateError

BRANCH_SCHEMA = {
    "when": Key((str,), required=True, allow_blank=False),
    "next": Key((str,), required=True, allow_blank=False),
}


def _branches(spec: dict[str, Any]) -> list[dict[str, Any]]:
    branches = config_of(spec).get("branches")
    return [b for b in branches if isinstance(b, dict)] if isinstance(branches, list) else []


class ConditionalStep(SchemaStep):
    type_name = "conditional"
    config_schema = {
        "branches": Key((list,), required=True, items=(dict,), min_items=1, max_items=50),
        "default": Key((str,), nullable=True),
    }

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        issues = step_ref(ctx, config.get("default"), f"{path}.default", label)
        branches = config.get("branches")
        for index, branch in enumerate(branches if isinstance(branches, list) else []):
            if isinstance(branch, dict):
                branch_path = f"{path}.branches[{index}]"
                issues += check_object(branch, BRANCH_SCHEMA, branch_path, label=label)
                issues += step_ref(ctx, branch.get("next"), f"{branch_path}.next", label)
        return issues

    def next_ids(self, spec: dict[str, Any]) -> list[str | None]:
        edges = [branch.get("next") for branch in _branches(spec)]
        return [*edges, config_of(spec).get("default"), spec.get("on_success"), spec.get("on_failure")]

    def expression_fields(self, spec: dict[str, Any]) -> dict[str, str]:
        return {
            f"branches[{index}].when": branch["when"]
            for index, branch in enumerate(_branches(spec))
            if isinstance(branch.get("when"), str)
        }

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        branches = _branches(spec)
        fallback = config_of(spec).get("default") or spec.get("on_success")
        for index, branch in enumerate(branches):
            try:
                taken = bool(sim.evaluate(branch["when"]))
            except TemplateError as exc:
                return self._undecided(spec, branches[index:], fallback, sim, index, exc)
            if taken:
                return {"branch": index, "when": branch["when"], "next": [branch["next"]]}
        return {"branch": "default", "next": [fallback] if fallback else []}

    def _undecided(
        self, spec: dict[str, Any], rest: list[dict[str, Any]], fallback: str | None, sim: Any, index: int,
        exc: TemplateError,
    ) -> dict[str, Any]:
        runtime = sim.runtime_steps(rest[0]["when"], expression=True)
        if not runtime:
            on_failure = spec.get("on_failure")
            return {"branch": None, "would_fail": f"TemplateError in branches[{index}].when: {exc}",
                    "next": [on_failure] if on_failure else []}
        candidates = list(dict.fromkeys([*(b["next"] for b in rest), *([fallback] if fallback else [])]))
        return {
            "branch": None,
            "undetermined": f"branches[{index}].when depends on the result of step(s) {', '.join(runtime)}, "
            "known only at run time; every remaining branch is simulated.",
            "candidates": candidates,
            "next": candidates,
        }


STEP_TYPE = ConditionalStep()
