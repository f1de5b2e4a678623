"""The interface every step type implements: its authoring half (validation, graph edges,
templates, simulation), which is pure and sees plain data only.

The execution half (`start`, `on_event`, `stop`) is the engine's, in
`apps.engine.step_types` with its own registry: authoring never loads the engine
(DESIGN §1), and the engine imports this catalogue, one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class Issue:
    """One validation finding: `path` like `steps[2].config.command`, a stable `code`."""

    path: str
    code: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message, "severity": self.severity}


@dataclass(frozen=True)
class ChildWorkflow:
    """A definition a `workflow` step may start, as its validation sees it."""

    id: int
    name: str
    variables: list[dict[str, Any]]
    # Names of the definitions that lead back to the one being validated, if any.
    cycle: tuple[str, ...] = ()


class Lookups(Protocol):
    """Organization-scoped reads that validation needs; given by apps.workflows."""

    def workflow(self, ref: Any) -> ChildWorkflow | None: ...

    def credential(self, ref: Any) -> dict[str, Any] | None: ...


@dataclass
class ValidationContext:
    """What a step's validation may look at beyond its own spec."""

    organization_id: int | None
    step_ids: frozenset[str]
    variable_names: frozenset[str]
    specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # step id -> the ids of every step that may have run before it.
    upstream: dict[str, frozenset[str]] = field(default_factory=dict)
    lookups: Lookups | None = None

    def is_upstream(self, step_id: str, *, of: str) -> bool:
        return step_id in self.upstream.get(of, frozenset())


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

    def expression_fields(self, spec: dict[str, Any]) -> dict[str, str]:
        """{config path: expression} for every condition in the config (`when`)."""
        return {}

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        """The step's prediction; `sim` is apps.workflows.simulation.Simulation. A `next`
        key (list of step ids) overrides where the walk continues."""
        raise NotImplementedError
