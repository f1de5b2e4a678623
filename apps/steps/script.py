"""script: a script body run by an interpreter on every target host (DESIGN §4)."""

from __future__ import annotations

from apps.steps.fanout import FanoutStep
from apps.steps.schema import Key

INTERPRETERS = ("bash", "sh", "python")


class ScriptStep(FanoutStep):
    type_name = "script"
    text_key = "body"
    config_schema = {
        "interpreter": Key((str,), choices=INTERPRETERS),
        "body": Key((str,), required=True, allow_blank=False),
    }
    templated = ("body",)


STEP_TYPE = ScriptStep()
