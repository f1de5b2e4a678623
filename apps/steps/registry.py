"""Step type registry: `step_type("command")` -> the catalogue's instance for that type."""

from __future__ import annotations

from importlib import import_module

from apps.steps.base import StepType

# One module per step type; adding a type means adding its module here.
STEP_MODULES = {
    "script": "apps.steps.script",
    "command": "apps.steps.command",
    "approval": "apps.steps.approval",
    "conditional": "apps.steps.conditional",
    "delay": "apps.steps.delay",
    "pam_checkout": "apps.steps.pam_checkout",
    "pam_checkin": "apps.steps.pam_checkin",
    "parallel": "apps.steps.parallel",
    "notification": "apps.steps.notification",
    "workflow": "apps.steps.workflow",
    "set": "apps.steps.set",
}

_loaded: dict[str, StepType] = {}


class UnknownStepType(LookupError):
    pass


def step_type(name: str) -> StepType:
    """The step type called `name`; modules load on first use."""
    try:
        return _loaded[name]
    except KeyError:
        pass
    module_path = STEP_MODULES.get(name)
    if module_path is None:
        raise UnknownStepType(name)
    module = import_module(module_path)
    instance = module.STEP_TYPE
    if instance.type_name != name:
        raise RuntimeError(f"{module_path}.STEP_TYPE is {instance.type_name!r}, expected {name!r}")
    _loaded[name] = instance
    return instance


def type_names() -> list[str]:
    return list(STEP_MODULES)
