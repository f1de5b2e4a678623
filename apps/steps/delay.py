"""delay: wait `seconds`, or until a date and time (`until`: ISO 8601 or a template)."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import Key, SchemaStep, config_of
from apps.steps.templating import is_template

MAX_DELAY_SECONDS = 90 * 24 * 3600


class DelayStep(SchemaStep):
    type_name = "delay"
    config_schema = {
        "seconds": Key((int, float), min_value=0, max_value=MAX_DELAY_SECONDS),
        "until": Key((str,), allow_blank=False, max_length=4096),
    }
    templated = ("until",)

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        has_seconds, until = "seconds" in config, config.get("until")
        if has_seconds and "until" in config:
            return [Issue(f"{path}.until", "conflicting_keys", f"{label}give either seconds or until, not both.")]
        if not has_seconds and "until" not in config:
            return [Issue(f"{path}.seconds", "missing_key", f"{label}a delay needs seconds or until.")]
        if isinstance(until, str) and until.strip() and not is_template(until) and parse_datetime(until) is None:
            return [Issue(f"{path}.until", "invalid_datetime",
                          f"{label}'{until[:50]}' is not an ISO 8601 date and time.")]
        return []

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        config = config_of(spec)
        if "until" not in config:
            return {"would_delay": {"seconds": config.get("seconds")}}
        until, error = sim.try_render(config["until"], real=True)
        if error:
            return {"would_delay": {"until": None}, "would_fail": f"TemplateError: {error}"}
        if parse_datetime(str(until)) is None:
            return {"would_delay": {"until": None},
                    "would_fail": f"ConfigError: '{str(until)[:50]}' is not an ISO 8601 date and time."}
        return {"would_delay": {"until": str(until)}}


STEP_TYPE = DelayStep()
