"""approval: pause until enough approvers agree, or until the timeout decides (DESIGN §6)."""

from __future__ import annotations

from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import Key, SchemaStep, config_of, step_ref

ON_TIMEOUT = ("reject", "approve", "fail", "skip")
# What a rejection routed by `on_failure` means for the instance: "reject" (default) the
# branch cleans up or notifies and the instance still ends `rejected`; "recover" the branch
# takes over and the instance ends as it ends.
ON_REJECT = ("reject", "recover")
GROUP_PREFIX = "group:"
MAX_WAIT_SECONDS = 90 * 24 * 3600


class ApprovalStep(SchemaStep):
    type_name = "approval"
    config_schema = {
        "approvers": Key((list,), items=(str,), allow_blank=False, max_items=200),
        "required_approvals": Key((int,), min_value=1, max_value=100),
        "allow_self_approval": Key((bool,)),
        "timeout_seconds": Key((int,), nullable=True, min_value=1, max_value=MAX_WAIT_SECONDS),
        "on_timeout": Key((str,), choices=ON_TIMEOUT),
        "on_reject": Key((str,), choices=ON_REJECT),
        "message": Key((str,)),
        "plan_from": Key((str,), nullable=True),
    }
    templated = ("message",)

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        issues = step_ref(ctx, config.get("plan_from"), f"{path}.plan_from", label, of=spec.get("id"))
        if config.get("on_reject") == "recover" and not spec.get("on_failure"):
            issues.append(Issue(
                f"{path}.on_reject", "missing_key",
                f"{label}on_reject 'recover' needs on_failure: the step that recovers from a rejection.",
            ))
        approvers = config.get("approvers")
        if not isinstance(approvers, list) or not all(isinstance(a, str) for a in approvers):
            return issues
        for index, entry in enumerate(approvers):
            if entry.startswith(GROUP_PREFIX) and not entry[len(GROUP_PREFIX):].strip():
                issues.append(Issue(f"{path}.approvers[{index}]", "blank", f"{label}'{entry}' names no group."))
        required = config.get("required_approvals")
        users = {a for a in approvers if not a.startswith(GROUP_PREFIX)}
        if isinstance(required, int) and approvers and len(users) == len(approvers) and required > len(users):
            issues.append(Issue(
                f"{path}.required_approvals", "not_enough_approvers",
                f"{label}{required} approvals are required but only {len(users)} approver(s) are listed.",
            ))
        return issues

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        config = config_of(spec)
        entries = config.get("approvers") or []
        message, error = sim.try_render(config.get("message") or "")
        prediction = {
            "would_pause_for_approval": True,
            **sim.approvers(entries),
            "anyone_with_execute": not entries,
            "required_approvals": config.get("required_approvals") or 1,
            "allow_self_approval": bool(config.get("allow_self_approval", False)),
            "timeout_seconds": config.get("timeout_seconds"),
            "on_timeout": config.get("on_timeout") or "reject",
            "on_reject": config.get("on_reject") or "reject",
            "message": message,
            "plan_from": config.get("plan_from"),
        }
        if error:
            prediction["would_fail"] = f"TemplateError: {error}"
        return prediction


STEP_TYPE = ApprovalStep()
