"""A jobs drainer that finishes a step's last job advances the instance itself and goes on
with the next step's jobs: no Celery hop, and no wake message, per step of a chain."""

from __future__ import annotations

import pytest

from apps.core import wake
from apps.engine.advance import advance
from apps.engine.models import StepExecution
from apps.jobs.models import Job, LogLine
from apps.jobs.tasks import jobs_drain

pytestmark = pytest.mark.django_db(transaction=True)


def command(step_id: str, text: str, **fields):
    return {"id": step_id, "type": "command", "config": {"command": text}, **fields}


@pytest.fixture
def messages(settings, tmp_path, monkeypatch) -> dict[str, list[int]]:
    """The Celery messages the engine sends, recorded instead of sent (no worker here)."""
    settings.OPSFLOW_JOBS_DIR = tmp_path / "jobs"
    sent: dict[str, list[int]] = {"advance": [], "drain": []}
    monkeypatch.setattr(wake, "advance_send", sent["advance"].append)
    monkeypatch.setattr(jobs_drain, "delay", sent["drain"].append)
    return sent


def test_a_chain_of_single_host_commands_runs_in_one_drain_with_one_wake_message(
    make_workflow, run, localhost, messages
):
    definition = make_workflow([
        command("one", "echo first", on_success="two"),
        command("two", "echo second", on_success="three"),
        command("three", "echo third"),
    ])
    instance = run(definition, hosts=[localhost.pk])
    advance(instance.pk)
    first = StepExecution.objects.get(instance=instance, step_id="one")
    assert messages["drain"] == [first.pk]

    assert jobs_drain.apply(args=[first.pk]).get() == 3

    instance.refresh_from_db()
    assert instance.status == "succeeded", instance.error_message
    assert messages["drain"] == [first.pk]  # steps two and three: taken over by the drainer
    assert Job.objects.filter(instance=instance, status="succeeded").count() == 3
    assert set(LogLine.objects.filter(instance=instance).values_list("line", flat=True)) == {
        "first", "second", "third"}


def test_a_fan_out_after_an_inline_advance_wakes_one_drainer_fewer(make_workflow, run, localhost, org, messages):
    from apps.inventory.services import host_create

    second_host = host_create(organization=org, actor=None, hostname="localhost-2", primary_ip="127.0.0.1",
                              connection="local")
    definition = make_workflow([command("one", "true", on_success="wide"), command("wide", "echo $OPSFLOW_HOSTNAME")])
    instance = run(definition, hosts=[localhost.pk, second_host.pk])
    advance(instance.pk)
    first = StepExecution.objects.get(instance=instance, step_id="one")
    assert messages["drain"] == [first.pk, first.pk]  # one drainer per queued job (at most OPSFLOW_JOB_DRAINERS)

    assert jobs_drain.apply(args=[first.pk]).get() == 4

    wide = StepExecution.objects.get(instance=instance, step_id="wide")
    assert messages["drain"] == [first.pk, first.pk, wide.pk]  # this drainer is the other one
    instance.refresh_from_db()
    assert instance.status == "succeeded", instance.error_message
    assert sorted(LogLine.objects.filter(instance=instance).values_list("line", flat=True)) == [
        "localhost", "localhost-2"]
