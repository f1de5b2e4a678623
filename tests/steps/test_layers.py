"""The step catalogue is authoring: loading it loads nothing of the engine or jobs (DESIGN §1,
issue 14 item 3), and the engine's step-type registry executes exactly the catalogue's types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from apps.engine.step_types.registry import EXECUTIONS
from apps.steps.registry import STEP_MODULES

ROOT = Path(__file__).resolve().parents[2]

LOAD_EVERY_TYPE = """
import json, sys
from apps.steps.registry import step_type, type_names
for name in type_names():
    step_type(name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("apps."))))
"""


def test_loading_every_step_type_loads_only_the_catalogue():
    done = subprocess.run(  # a fresh interpreter: this one has loaded the engine already
        [sys.executable, "-c", LOAD_EVERY_TYPE], cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout)
    assert [m for m in loaded if not m.startswith("apps.steps")] == []
    assert {f"apps.steps.{name}" for name in STEP_MODULES} <= set(loaded)


def test_the_engine_executes_exactly_the_catalogues_step_types():
    assert set(EXECUTIONS) == set(STEP_MODULES)
