"""What a jobs worker runs for one job: the step's command or script rendered for the
job's host, with secrets decrypted in this process only and listed for masking.

The base context (variables, step results, secrets) is built once per step attempt
and reused for every host the worker claims, so a 10,000-host step is not 10,000 queries.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from apps.engine.context import Context, build_context
from apps.engine.errors import ErrorClass
from apps.engine.models import StepExecution
from apps.engine.step_types.base import render
from apps.jobs.executors.base import JobSpec, JobSpecError
from apps.steps.templating import context_names

ENV_NAME = re.compile(r"[^A-Za-z0-9_]")


@lru_cache(maxsize=32)
def _context(step_execution_id: int, attempt: int) -> tuple[Context, dict[str, Any], int]:
    step = StepExecution.objects.select_related("instance").get(pk=step_execution_id)
    instance = step.instance
    spec = next(s for s in instance.snapshot["steps"] if s["id"] == step.step_id)
    names = context_names(_template(spec))
    # Secrets are read either way: their values are masked in the job's output.
    return build_context(instance, with_secrets=True, with_steps=names is None or "steps" in names), spec, instance.pk


def _template(spec: dict[str, Any]) -> str:
    config = spec.get("config") or {}
    return (config.get("body") if spec["type"] == "script" else config.get("command")) or ""


def clear_cache() -> None:
    _context.cache_clear()


def job_env(context: Context, host: dict[str, Any], instance_id: int, step_id: str) -> dict[str, str]:
    env = {
        "OPSFLOW_INSTANCE_ID": str(instance_id),
        "OPSFLOW_STEP_ID": step_id,
        "OPSFLOW_HOSTNAME": host.get("hostname", ""),
        "OPSFLOW_HOST_IP": host.get("primary_ip") or "",
    }
    for name, value in context.data["vars"].items():
        if value is None:
            continue
        env[f"OPSFLOW_VAR_{ENV_NAME.sub('_', name).upper()}"] = value if isinstance(value, str) else str(value)
    return env


def job_spec(job: Any) -> JobSpec:
    try:
        context, spec, instance_id = _context(job.step_execution_id, job.attempt)
    except Exception as exc:  # secrets that cannot be decrypted, a vanished step
        raise JobSpecError(ErrorClass.CONFIG_ERROR, f"Cannot prepare the job: {exc}") from exc
    config = spec.get("config") or {}
    data = context.with_host(job.host)
    try:
        kind = "script" if spec["type"] == "script" else "command"
        text = render(_template(spec), data)
    except Exception as exc:
        raise JobSpecError(ErrorClass.TEMPLATE_ERROR, f"{type(exc).__name__}: {exc}") from exc
    return JobSpec(
        kind=kind,
        command=text,
        interpreter=config.get("interpreter") or "bash",
        env=job_env(context, job.host, instance_id, spec["id"]),
        timeout_seconds=job.timeout_seconds or spec.get("timeout_seconds"),
        secrets=list(context.secret_values),
    )
