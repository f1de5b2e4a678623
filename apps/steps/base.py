"""The interface every step type implements.

Authoring half (validation, graph edges, templates, simulation) is pure: it sees plain
data only. Execution half (`start`, `on_event`, `stop`) runs inside the engine's advance
pass with the instance row locked; see `apps.engine.runtime` for `StepRun` and `Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from apps.engine.runtime import Outcome, StepRun


@dataclass(frozen=True)
class Issue:
    """One validation finding: `path` like `steps[2].config.command`, a stable `code`."""

    path: str
    code: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message, "severity": self.severity}


@dataclass
class ValidationContext:
    """What a step's validation may look at beyond its own spec."""

    organization_id: int | None
    step_ids: frozenset[str]
    variable_names: frozenset[str]
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)


class StepType:
    type_name: ClassVar[str] = ""
    # Steps that dispatch one job per target host (canary, max_parallel apply).
    fans_out: ClassVar[bool] = False

    # --- authoring -------------------------------------------------------------------
    def validate_config(self, spec: dict[str, Any], path: str, ctx: ValidationContext) -> list[Issue]:
        raise NotImplementedError

    def next_ids(self, spec: dict[str, Any]) -> list[str | None]:
        """Every step id this step may route to (on_success/on_failure and type-specific edges)."""
        return [spec.get("on_success"), spec.get("on_failure")]

    def template_fields(self, spec: dict[str, Any]) -> dict[str, str]:
        """{config path: template text} for every templated string in the config."""
        return {}

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        raise NotImplementedError

    # --- execution (apps.engine) ----------------------------------------------------------
    def start(self, run: StepRun) -> Outcome:
        raise NotImplementedError(f"{self.type_name} cannot be executed")

    def on_event(self, run: StepRun) -> Outcome | None:
        return None

    def stop(self, run: StepRun, mode: str) -> None:
        """Stop side effects; `mode` is queued|standard|term|kill."""
