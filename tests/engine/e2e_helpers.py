"""Helpers of the engine's end-to-end control tests."""

from __future__ import annotations

from apps.jobs.models import Job
from tests.engine.conftest import until
from tests.engine.test_steps_e2e import command


def controls(instance, owner):
    return {"instance_id": instance.pk, "organization_id": instance.organization_id, "actor": owner}


def job_running(instance, step_id):
    until(lambda: Job.objects.filter(instance=instance, step_id=step_id, status="running").exists(),
          message=f"no running job for {step_id}")


def flaky(step_id, marker, **fields):
    """Fails (exit 3) the first time, succeeds afterwards."""
    return command(step_id, f"test -f {marker} || {{ touch {marker}; exit 3; }}", **fields)


# --- pause / resume ---------------------------------------------------------------------
def wait_for_file(path) -> str:
    """A command that runs until the test creates `path` (no race with the machine's speed)."""
    return f'while [ ! -f "{path}" ]; do sleep 0.05; done'
