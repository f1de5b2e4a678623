"""Every step type, run for real: a Celery worker, the local executor, Postgres, Redis."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.jobs.models import Job, LogLine
from tests.engine.conftest import step_of, until, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def step(step_id: str, step_type: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "type": step_type, "config": config, **fields}


def command(step_id: str, text: str, **fields: Any) -> dict[str, Any]:
    return step(step_id, "command", {"command": text}, **fields)


def test_command_output_feeds_a_conditional_and_set_in_one_run(worker, make_workflow, run, localhost):
    definition = make_workflow(
        [
            command("probe", "echo checking {{ hosts.hostname }}; echo '{\"free\": 42}'", on_success="judge"),
            step(
                "judge",
                "conditional",
                {"branches": [{"when": "steps.probe.output.free > 40", "next": "roomy"}], "default": "tight"},
            ),
            step("roomy", "set", {"variables": {"verdict": "roomy {{ steps.probe.output.free }}"}}),
            step("tight", "set", {"variables": {"verdict": "tight"}}),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status={"succeeded", "failed"})

    assert instance.status == "succeeded", instance.error_message
    assert step_of(instance, "probe").output == {"free": 42}
    assert step_of(instance, "judge").next_step == "roomy"
    assert instance.variables["verdict"] == "roomy 42"
    assert not instance.steps.filter(step_id="tight").exists()
    job = Job.objects.get(instance=instance)
    assert (job.status, job.exit_code, job.hostname) == ("succeeded", 0, "localhost")
    lines = list(LogLine.objects.filter(instance=instance).order_by("seq").values_list("seq", "line"))
    assert "checking localhost" in [line for _, line in lines]
    assert [seq for seq, _ in lines] == sorted({seq for seq, _ in lines})  # increasing, no duplicates


def test_a_command_renders_earlier_steps_results_and_a_plain_command_runs_without_them(
    worker, make_workflow, run, localhost
):
    """The jobs worker builds `steps` only for a template that reads it; both kinds run."""
    definition = make_workflow(
        [
            command("probe", "echo '{\"free\": 42}'", on_success="plain"),
            command("plain", "echo plain-ok", on_success="report"),
            command("report", "echo free={{ steps.probe.output.free }} plain={{ steps.plain.status }}"),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status={"succeeded", "failed"})

    assert instance.status == "succeeded", instance.error_message
    lines = set(LogLine.objects.filter(instance=instance).values_list("line", flat=True))
    assert {"plain-ok", "free=42 plain=succeeded"} <= lines


def test_script_runs_with_its_interpreter_and_variables_in_the_environment(worker, make_workflow, run, localhost):
    definition = make_workflow(
        [
            step(
                "py",
                "script",
                {
                    "interpreter": "python",
                    "body": "import json, os\nprint(json.dumps({'who': os.environ['OPSFLOW_VAR_TEAM']}))",
                },
            )
        ],
        variables=[{"name": "team", "default": "sre"}],
    )

    instance = wait_for(
        run(definition, hosts=[localhost.pk], variables={"team": "netops"}), status={"succeeded", "failed"}
    )

    assert instance.status == "succeeded", instance.error_message
    assert step_of(instance, "py").output == {"who": "netops"}


def test_a_failing_command_fails_the_instance_with_its_exit_code(worker, make_workflow, run, localhost):
    definition = make_workflow(
        [
            command("boom", "echo about to fail >&2; exit 3", on_success="never"),
            step("never", "set", {"variables": {"x": "1"}}),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status={"succeeded", "failed"})

    assert instance.status == "failed"
    boom = step_of(instance, "boom")
    assert (boom.status, boom.error_class, boom.result["exit_code"], boom.attempt) == ("failed", "NonZeroExit", 3, 1)
    assert "localhost" in boom.error_message
    assert instance.error_class == "NonZeroExit"
    assert LogLine.objects.filter(instance=instance, stream="stderr", line="about to fail").exists()
    assert not instance.steps.filter(step_id="never").exists() or step_of(instance, "never").status == "unreachable"


def test_auto_retry_runs_a_command_that_fails_twice_then_succeeds(worker, make_workflow, run, localhost, tmp_path):
    counter = tmp_path / "attempts"
    text = f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; echo attempt $n; [ $n -ge 3 ]"
    definition = make_workflow([command("flaky", text, retry_count=2, retry_delay_seconds=1, retry_on_exit_codes=[1])])

    instance = wait_for(run(definition, hosts=[localhost.pk]), status={"succeeded", "failed"})

    assert instance.status == "succeeded", instance.error_message
    flaky = step_of(instance, "flaky")
    assert flaky.attempt == 3
    assert list(Job.objects.filter(instance=instance).order_by("attempt").values_list("attempt", "status")) == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]


def test_a_non_zero_exit_is_not_auto_retried_unless_its_code_is_listed(worker, make_workflow, run, localhost):
    definition = make_workflow([command("once", "exit 1", retry_count=3, retry_delay_seconds=1)])

    instance = wait_for(run(definition, hosts=[localhost.pk]), status={"succeeded", "failed"})

    assert instance.status == "failed"
    assert step_of(instance, "once").attempt == 1
    assert Job.objects.filter(instance=instance).count() == 1


def test_delay_waits_with_pause_reason_then_continues(worker, make_workflow, run):
    definition = make_workflow(
        [step("nap", "delay", {"seconds": 2}, on_success="after"), step("after", "set", {"variables": {"done": "yes"}})]
    )

    instance = run(definition)
    waiting = wait_for(instance, step="nap", step_status="waiting", timeout=10)
    assert waiting.pause_reason == "delay"
    instance = wait_for(instance, status={"succeeded", "failed"}, timeout=20)

    assert instance.status == "succeeded"
    nap = step_of(instance, "nap")
    assert (nap.finished_at - nap.started_at) >= timedelta(seconds=1.9)


def test_deferred_start_is_scheduled_then_runs(worker, make_workflow, run):
    definition = make_workflow([step("only", "set", {"variables": {"x": "1"}})])

    instance = run(definition, scheduled_for=timezone.now() + timedelta(seconds=2))
    assert instance.status == "scheduled"
    instance = wait_for(instance, status="succeeded", timeout=20)

    assert instance.started_at >= instance.scheduled_for


def test_workflow_timeout_stops_running_jobs(worker, make_workflow, run, localhost):
    definition = make_workflow(
        [
            command("slow", "echo started; sleep 60", on_success="later"),
            step("later", "set", {"variables": {"x": "1"}}),
        ],
        default_timeout_seconds=2,
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status={"timeout", "succeeded", "failed"}, timeout=30)

    assert instance.status == "timeout"
    assert instance.error_message
    job = Job.objects.get(instance=instance)
    until(lambda: Job.objects.filter(pk=job.pk, status__in=["canceled", "timeout", "failed"]).exists())
    assert step_of(instance, "slow").status == "canceled"
    assert not instance.steps.filter(step_id="later").exclude(status="unreachable").exists()
