"""Operator controls end to end with a real worker: pause/resume (with children), cancel
modes, terminate, retry and skip a step, retry an instance (DESIGN §6)."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.automation.models import KillSwitch
from apps.core.errors import TransitionNotAllowed
from apps.engine.controls import instance_cancel, instance_pause, instance_resume, instance_terminate
from apps.engine.models import PamSession, WorkflowInstance
from apps.jobs.models import Job, LogLine
from tests.engine.conftest import step_of, until, wait_for
from tests.engine.e2e_helpers import controls, job_running, wait_for_file
from tests.engine.test_steps_e2e import command, step

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_pause_waits_for_the_running_job_then_nothing_new_starts_until_resume(
    worker, make_workflow, run, localhost, owner, tmp_path
):
    release = tmp_path / "release"
    definition = make_workflow([command("first", f"{wait_for_file(release)}; echo first done", on_success="second"),
                                command("second", "echo second")])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "first")

    paused = instance_pause(**controls(instance, owner), reason="maintenance window")
    assert paused.status == "pausing"  # answered at once, the job still runs
    again = instance_pause(**controls(instance, owner), reason="double click")
    assert again.status == "pausing"
    release.touch()

    instance = wait_for(instance, status="paused")
    assert instance.pause_reason == "operator"
    assert step_of(instance, "first").status == "succeeded"
    assert not Job.objects.filter(instance=instance, step_id="second").exists()

    instance_resume(**controls(instance, owner), reason="window over")
    instance = wait_for(instance, status="succeeded")
    assert step_of(instance, "second").status == "succeeded"
    actions = list(AuditEvent.objects.filter(target_id=str(instance.pk), action__in=[
        "instance.pause", "instance.resume"]).order_by("id").values_list("action", "data__reason"))
    assert actions == [("instance.pause", "maintenance window"), ("instance.resume", "window over")]


def test_pause_cascades_to_children_and_resume_brings_back_only_those(
    worker, make_workflow, run, fleet, owner, tmp_path
):
    release = tmp_path / "release"
    make_workflow([command("work", f"{wait_for_file(release)}; echo child {{{{ hosts.hostname }}}}",
                           on_success="more"),
                   command("more", "echo more")], name="child-wf")
    parent = make_workflow([step("fan", "workflow", {"workflow": "child-wf", "batch_size": 3})])
    instance = run(parent, hosts=[h.pk for h in fleet[:4]])
    until(lambda: WorkflowInstance.objects.filter(parent=instance).count() == 2)
    children = list(WorkflowInstance.objects.filter(parent=instance).order_by("pk"))
    for kid in children:
        job_running(kid, "work")

    instance_pause(**controls(instance, owner))
    assert {kid.status for kid in WorkflowInstance.objects.filter(parent=instance)} == {"pausing"}
    release.touch()
    for kid in children:
        wait_for(kid, status="paused")
    instance = wait_for(instance, status="paused")
    # A child the operator pauses on its own is not resumed with its parent.
    WorkflowInstance.objects.filter(pk=children[1].pk).update(paused_by_parent=False)

    instance_resume(**controls(instance, owner))
    wait_for(children[0], status="succeeded")
    kid = wait_for(children[1], status="paused")
    assert instance.__class__.objects.get(pk=instance.pk).status == "running"
    assert not Job.objects.filter(instance=kid, step_id="more").exists()

    instance_resume(**controls(kid, owner))
    wait_for(instance, status="succeeded")


def _gated_fanout(make_workflow, tmp_path, shape):
    """One command over every host; each host's job waits for its own release file."""
    gate = f'while [ ! -f "{tmp_path}/release-{{{{ hosts.hostname }}}}" ]; do sleep 0.05; done'
    if shape == "max_parallel":
        return make_workflow([command("patch", gate, max_parallel=1)])
    return make_workflow([command("patch", gate)], canary_percentage=20)  # 1 of 5 hosts is the canary


def _release_all(tmp_path, fleet):
    for host in fleet:
        (tmp_path / f"release-{host.hostname}").touch()


@pytest.mark.parametrize("shape", ["max_parallel", "canary"])
def test_pause_during_a_fanout_sends_no_new_host_until_resume(worker, make_workflow, run, fleet, owner, tmp_path,
                                                              shape):
    definition = _gated_fanout(make_workflow, tmp_path, shape)
    instance = run(definition, hosts=[h.pk for h in fleet])
    job_running(instance, "patch")
    assert Job.objects.filter(instance=instance).count() == 1

    assert instance_pause(**controls(instance, owner)).status == "pausing"
    _release_all(tmp_path, fleet)  # any host sent from now on would finish at once

    instance = wait_for(instance, status="paused")
    assert instance.pause_reason == "operator"
    assert step_of(instance, "patch").status == "running"
    assert list(Job.objects.filter(instance=instance).values_list("status", flat=True)) == ["succeeded"]

    instance_resume(**controls(instance, owner))
    instance = wait_for(instance, status={"succeeded", "failed"})
    assert instance.status == "succeeded", instance.error_message
    hostnames = sorted(Job.objects.filter(instance=instance, status="succeeded").values_list("hostname", flat=True))
    assert hostnames == sorted(h.hostname for h in fleet)  # every host exactly once
    assert Job.objects.filter(instance=instance).count() == len(fleet)


def test_the_kill_switch_during_a_fanout_sends_no_new_host(worker, make_workflow, run, fleet, owner, org, tmp_path):
    definition = _gated_fanout(make_workflow, tmp_path, "max_parallel")
    instance = run(definition, hosts=[h.pk for h in fleet])
    job_running(instance, "patch")

    switch = KillSwitch.objects.create(organization=org, reason="incident 42", engaged_by=owner)
    _release_all(tmp_path, fleet)

    instance = wait_for(instance, status={"paused", "succeeded", "failed"})
    assert (instance.status, instance.pause_reason) == ("paused", "kill_switch")
    assert Job.objects.filter(instance=instance).count() == 1

    KillSwitch.objects.filter(pk=switch.pk).update(released_at=switch.created_at)
    instance_resume(**controls(instance, owner))
    instance = wait_for(instance, status={"succeeded", "failed"})
    assert instance.status == "succeeded", instance.error_message
    assert sorted(Job.objects.filter(instance=instance).values_list("hostname", flat=True)) == sorted(
        h.hostname for h in fleet)


def test_a_held_instance_resumes_only_through_retry_or_skip(worker, make_workflow, run, localhost, owner):
    definition = make_workflow([command("fragile", "exit 4", hold_on_failure=True)])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="paused")

    with pytest.raises(TransitionNotAllowed) as refused:
        instance_resume(**controls(instance, owner))
    assert refused.value.code == "step_failed_hold"


def test_a_kill_switch_pause_resumes_only_once_the_switch_is_off(
    worker, make_workflow, run, localhost, owner, org, tmp_path
):
    release = tmp_path / "release"
    definition = make_workflow([command("first", wait_for_file(release), on_success="second"),
                                command("second", "echo 2")])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "first")
    switch = KillSwitch.objects.create(organization=org, reason="incident 42", engaged_by=owner)
    release.touch()

    instance = wait_for(instance, status="paused")
    assert (instance.pause_reason, instance.status_message) == ("kill_switch", "Kill switch active")
    with pytest.raises(TransitionNotAllowed) as refused:
        instance_resume(**controls(instance, owner))
    assert refused.value.code == "kill_switch_active"

    KillSwitch.objects.filter(pk=switch.pk).update(released_at=switch.created_at)
    instance_resume(**controls(instance, owner))
    wait_for(instance, status="succeeded")


# --- cancel -------------------------------------------------------------------------------
def test_standard_cancel_lets_the_running_job_finish_and_starts_nothing_new(
    worker, make_workflow, run, localhost, owner, tmp_path
):
    release = tmp_path / "release"
    definition = make_workflow([command("first", f"{wait_for_file(release)}; echo finished", on_success="second"),
                                command("second", "echo never")])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "first")

    answered = instance_cancel(**controls(instance, owner), mode="standard", reason="wrong host")
    assert answered.status == "canceling"
    release.touch()

    instance = wait_for(instance, status="canceled")
    job = Job.objects.get(instance=instance, step_id="first")
    assert job.status == "succeeded"
    assert LogLine.objects.filter(instance=instance, line="finished").exists()
    assert not Job.objects.filter(instance=instance, step_id="second").exists()


def test_standard_cancel_with_cleanup_runs_the_on_cancel_chain_first(
    worker, make_workflow, run, localhost, owner, tmp_path
):
    release = tmp_path / "release"
    definition = make_workflow(
        [command("work", wait_for_file(release), on_success="next"), command("next", "echo next"),
         command("cleanup", "echo cleaning up")],
        on_cancel="cleanup",
    )
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "work")

    instance_cancel(**controls(instance, owner), mode="standard", cleanup=True)
    release.touch()

    instance = wait_for(instance, status="canceled")
    assert step_of(instance, "cleanup").status == "succeeded"
    assert LogLine.objects.filter(instance=instance, step_id="cleanup", line="cleaning up").exists()
    assert not Job.objects.filter(instance=instance, step_id="next").exists()


def test_force_cancel_stops_the_running_job(worker, make_workflow, run, localhost, owner):
    definition = make_workflow([command("slow", "sleep 30")])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "slow")

    assert instance_cancel(**controls(instance, owner), mode="force").status == "force_canceling"

    instance = wait_for(instance, status="canceled", timeout=20)
    # A force cancel does not wait for the job; `sleep` honours SIGTERM and ends soon after.
    until(lambda: Job.objects.filter(instance=instance, finished_at__isnull=False).exists(), timeout=10)
    job = Job.objects.get(instance=instance)
    assert job.status != "succeeded" and job.verified_stopped_at is not None
    assert step_of(instance, "slow").status == "canceled"


def test_kill_cancel_kills_a_job_that_ignores_sigterm(worker, make_workflow, run, localhost, owner, settings):
    definition = make_workflow([command("stubborn", "trap '' TERM; echo ready; sleep 60 & wait; sleep 60")])
    instance = run(definition, hosts=[localhost.pk])
    until(lambda: LogLine.objects.filter(instance=instance, line="ready").exists())

    assert instance_cancel(**controls(instance, owner), mode="kill").status == "kill_canceling"

    instance = wait_for(instance, status="canceled", timeout=30)
    job = Job.objects.get(instance=instance)
    assert job.finished_at is not None and job.status != "succeeded"
    # Repeating a cancel on a canceled instance with nothing left running is harmless.
    assert instance_cancel(**controls(instance, owner), mode="kill").status == "canceled"


# --- terminate ----------------------------------------------------------------------------
def test_terminate_ends_at_once_kills_jobs_and_closes_pam_sessions(
    worker, make_workflow, run, localhost, owner, vault_credential
):
    definition = make_workflow([
        step("checkout", "pam_checkout", {"credential": vault_credential.name, "alias": "db"}, on_success="slow"),
        command("slow", "sleep 30", on_success="after"),
        command("after", "echo never"),
    ])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "slow")

    answered = instance_terminate(**controls(instance, owner), reason="runaway")
    assert answered.status == "terminated"
    assert "runaway" in answered.error_message
    assert not PamSession.objects.filter(instance=instance, closed_at__isnull=True).exists()
    until(lambda: Job.objects.filter(instance=instance, finished_at__isnull=False).count() == 1, timeout=20)
    assert not Job.objects.filter(instance=instance, step_id="after").exists()
    assert instance_terminate(**controls(instance, owner)).status == "terminated"  # double click
    with pytest.raises(TransitionNotAllowed) as refused:
        instance_pause(**controls(instance, owner))
    assert refused.value.code == "instance_terminal"


# --- retry / skip ---------------------------------------------------------------------------
