"""command: one shell command per target host (DESIGN §4)."""

from __future__ import annotations

from apps.steps.fanout import FanoutStep
from apps.steps.schema import Key


class CommandStep(FanoutStep):
    type_name = "command"
    text_key = "command"
    config_schema = {"command": Key((str,), required=True, allow_blank=False)}
    templated = ("command",)


STEP_TYPE = CommandStep()
