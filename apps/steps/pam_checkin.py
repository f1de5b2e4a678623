"""pam_checkin: close the lease a pam_checkout step opened (`checkout`: that step's id)."""

from __future__ import annotations

from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import Key, SchemaStep, config_of, step_ref


class PamCheckinStep(SchemaStep):
    type_name = "pam_checkin"
    config_schema = {"checkout": Key((str,), required=True, allow_blank=False)}

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        checkout = config.get("checkout")
        if not isinstance(checkout, str) or not checkout.strip():
            return []
        target = ctx.specs.get(checkout)
        if target is not None and target.get("type") != "pam_checkout":
            return [Issue(f"{path}.checkout", "not_a_checkout",
                          f"{label}checkout names step '{checkout}', which is a {target.get('type')} step, "
                          "not a pam_checkout.")]
        return step_ref(ctx, checkout, f"{path}.checkout", label, of=spec.get("id"))

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        return {"would_check_in": config_of(spec)["checkout"]}


STEP_TYPE = PamCheckinStep()
