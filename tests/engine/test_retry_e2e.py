"""Retry, skip and re-run with the real worker (DESIGN §6), split from test_controls_e2e.py."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import TransitionNotAllowed
from apps.engine.models import WorkflowInstance
from apps.engine.step_controls import instance_retry, step_retry, step_skip
from apps.jobs.models import Job
from tests.engine.conftest import step_of, wait_for
from tests.engine.e2e_helpers import controls, flaky, job_running, wait_for_file
from tests.engine.test_steps_e2e import command, step

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]


def test_retry_a_held_step_reruns_it_and_the_instance_goes_on(worker, make_workflow, run, localhost, owner, tmp_path):
    marker = tmp_path / "once"
    definition = make_workflow([command("prepare", "echo ready", on_success="flaky"),
                                flaky("flaky", marker, hold_on_failure=True, on_success="finish"),
                                command("finish", "echo done")])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="paused")
    assert step_of(instance, "flaky").error_class == "NonZeroExit"

    step_retry(**controls(instance, owner), step_id="flaky", reason="fixed the disk")
    step_retry(**controls(instance, owner), step_id="flaky")  # double click: harmless

    instance = wait_for(instance, status="succeeded")
    assert step_of(instance, "flaky").attempt == 2
    assert step_of(instance, "prepare").attempt == 1
    assert Job.objects.filter(instance=instance, step_id="flaky").count() == 2


def test_retry_refusals_say_why(worker, make_workflow, run, localhost, owner):
    definition = make_workflow([
        command("strict", "exit 1", retryable=False, hold_on_failure=True),
    ])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="paused")
    with pytest.raises(TransitionNotAllowed) as refused:
        step_retry(**controls(instance, owner), step_id="strict")
    assert refused.value.code == "step_not_retryable"
    with pytest.raises(TransitionNotAllowed) as refused:
        step_skip(**controls(instance, owner), step_id="strict")
    assert refused.value.code == "not_skippable"

    broken = make_workflow([command("broken", "echo {{ 10 // (vars.n | int) }}", hold_on_failure=True)],
                           variables=[{"name": "n", "default": "0"}])
    instance = wait_for(run(broken, hosts=[localhost.pk]), status="paused")
    assert step_of(instance, "broken").error_class == "TemplateError"
    with pytest.raises(TransitionNotAllowed) as refused:
        step_retry(**controls(instance, owner), step_id="broken")
    assert refused.value.code == "non_retryable_error"


def test_skip_a_failed_skippable_step_continues_to_on_success(worker, make_workflow, run, localhost, owner):
    definition = make_workflow([command("optional", "exit 2", skippable=True, hold_on_failure=True,
                                        on_success="finish"),
                                command("finish", "echo finished")])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="paused")

    step_skip(**controls(instance, owner), step_id="optional", reason="not needed today")
    step_skip(**controls(instance, owner), step_id="optional")  # harmless repeat

    instance = wait_for(instance, status="succeeded")
    assert step_of(instance, "optional").status == "skipped"
    assert step_of(instance, "finish").status == "succeeded"


def test_retry_a_failed_instance_resumes_at_the_failed_step(worker, make_workflow, run, localhost, owner, tmp_path):
    marker = tmp_path / "once"
    definition = make_workflow([command("prepare", "echo ready", on_success="flaky"),
                                flaky("flaky", marker, on_success="finish"),
                                command("finish", "echo done")])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="failed")
    assert step_of(instance, "finish").status == "unreachable"
    with pytest.raises(TransitionNotAllowed) as refused:
        step_retry(**controls(instance, owner), step_id="flaky")
    assert refused.value.code == "instance_terminal"

    assert instance_retry(**controls(instance, owner), reason="disk freed").status == "running"
    assert instance_retry(**controls(instance, owner)).status in {"running", "succeeded"}  # harmless repeat

    instance = wait_for(instance, status="succeeded")
    assert step_of(instance, "prepare").attempt == 1
    assert step_of(instance, "flaky").attempt == 2
    assert step_of(instance, "finish").status == "succeeded"
    assert instance.finished_at is not None and instance.error_message == ""


def test_retry_a_failed_branch_rejoins_its_parallel_step(worker, make_workflow, run, localhost, owner, tmp_path):
    marker = tmp_path / "once"
    definition = make_workflow([
        step("both", "parallel", {"branches": ["left", "right"], "join": "all"}, on_success="after"),
        command("left", "echo left"),
        flaky("right", marker),
        command("after", "echo after"),
    ])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="failed")
    assert step_of(instance, "both").error_class == "BranchFailed"

    instance_retry(**controls(instance, owner))

    instance = wait_for(instance, status="succeeded")
    assert step_of(instance, "left").attempt == 1
    assert step_of(instance, "right").attempt == 2
    assert step_of(instance, "both").status == "succeeded"
    assert step_of(instance, "after").status == "succeeded"


def test_retry_instance_refuses_a_failed_step_marked_not_retryable(worker, make_workflow, run, localhost, owner,
                                                                    api):
    definition = make_workflow([command("prepare", "echo ready", on_success="strict"),
                                command("strict", "exit 3", retryable=False)])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="failed")

    with pytest.raises(TransitionNotAllowed) as refused:
        instance_retry(**controls(instance, owner))
    assert refused.value.code == "step_not_retryable"
    assert "'strict'" in refused.value.message
    response = api(owner).post(f"/api/instances/{instance.pk}/retry/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "step_not_retryable" and "strict" in response.json()["detail"]
    instance.refresh_from_db()
    assert instance.status == "failed"
    assert Job.objects.filter(instance=instance, step_id="strict").count() == 1


def test_retry_a_failed_instance_with_no_failed_step_restarts_from_the_first_step(
    worker, make_workflow, run, localhost, owner, tmp_path
):
    tally = tmp_path / "tally"
    definition = make_workflow([command("first", f"echo first >> {tally}", on_success="second"),
                                command("second", f"echo second >> {tally}")])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="succeeded")
    # A workflow-level error after its steps: the instance failed, none of its steps did.
    WorkflowInstance.objects.filter(pk=instance.pk).update(status="failed", error_class="WorkerLost",
                                                           error_message="lost outside any step")

    assert instance_retry(**controls(instance, owner), reason="start over").status == "running"

    instance = wait_for(instance, status={"succeeded", "failed"})
    assert instance.status == "succeeded", instance.error_message
    assert tally.read_text().split() == ["first", "second", "first", "second"]
    assert (step_of(instance, "first").attempt, step_of(instance, "second").attempt) == (2, 2)
    assert list(Job.objects.filter(instance=instance).order_by("id").values_list("step_id", "attempt")) == [
        ("first", 1), ("second", 1), ("first", 2), ("second", 2)]


def test_retry_instance_refuses_what_did_not_fail(worker, make_workflow, run, localhost, owner):
    definition = make_workflow([command("ok", "true")])
    instance = wait_for(run(definition, hosts=[localhost.pk]), status="succeeded")
    with pytest.raises(TransitionNotAllowed) as refused:
        instance_retry(**controls(instance, owner))
    assert refused.value.code == "instance_not_failed"


# --- re-run ---------------------------------------------------------------------------------
def test_rerun_no_reset_runs_only_the_failed_hosts_and_keeps_earlier_results(
    worker, make_workflow, run, fleet, owner
):
    from apps.engine.rerun import instance_rerun

    definition = make_workflow([
        command("plan", "echo '{\"plan\": 7}'", on_success="patch"),
        command("patch", '[ "{{ hosts.hostname }}" != web-2 ] || test -f "{{ vars.marker }}"', on_success="report"),
        step("report", "set", {"variables": {"summary": "{{ steps.patch.hosts | length }} hosts"}}),
    ], variables=[{"name": "marker", "default": "/nonexistent"}])
    hosts = [h.pk for h in fleet[:3]]
    original = wait_for(run(definition, hosts=hosts), status="failed")
    assert Job.objects.filter(instance=original, step_id="patch", status="failed").count() == 1

    rerun, plan = instance_rerun(**controls(original, owner), tasks=["patch"], no_reset=True)

    assert plan["tasks"] == ["patch"]
    rerun = wait_for(rerun, status="failed")  # web-2 still fails: the marker does not exist
    jobs = list(Job.objects.filter(instance=rerun).values_list("step_id", "hostname"))
    assert jobs == [("patch", "web-2")]  # plan was reused, the other hosts kept their success
    assert step_of(rerun, "plan").reused_from_id == step_of(original, "plan").pk
    assert step_of(rerun, "plan").output == {"plan": 7}
    assert rerun.rerun_of_id == original.pk


def test_rerun_of_a_parallel_branch_rejoins_at_the_join(worker, make_workflow, run, localhost, owner, tmp_path):
    from apps.engine.rerun import instance_rerun

    marker = tmp_path / "once"
    definition = make_workflow([
        step("both", "parallel", {"branches": ["left", "right"], "join": "all"}, on_success="after"),
        command("left", "echo left"),
        flaky("right", marker),
        command("after", "echo after"),
    ])
    original = wait_for(run(definition, hosts=[localhost.pk]), status="failed")

    rerun, _ = instance_rerun(**controls(original, owner), tasks=["right"])

    rerun = wait_for(rerun, status="succeeded")
    assert step_of(rerun, "left").reused_from_id == step_of(original, "left").pk
    assert step_of(rerun, "right").status == "succeeded"
    assert step_of(rerun, "after").status == "succeeded"
    assert list(Job.objects.filter(instance=rerun).values_list("step_id", flat=True).order_by("id")) == [
        "right", "after"]


# --- a double click never errors (DESIGN §6) ---------------------------------------------------
def test_a_second_resume_after_the_first_let_the_run_finish_is_a_409(worker, make_workflow, run, localhost, owner,
                                                                      api, tmp_path):
    release = tmp_path / "release"
    definition = make_workflow([command("first", wait_for_file(release), on_success="second"),
                                command("second", "echo second")])
    instance = run(definition, hosts=[localhost.pk])
    job_running(instance, "first")
    client = api(owner)
    assert client.post(f"/api/instances/{instance.pk}/pause/", {}, format="json").json()["status"] == "pausing"
    release.touch()
    wait_for(instance, status="paused")

    first = client.post(f"/api/instances/{instance.pk}/resume/", {}, format="json")
    assert (first.status_code, first.json()["status"]) == (200, "running")
    instance = wait_for(instance, status="succeeded")  # the run finishes before the second click arrives

    second = client.post(f"/api/instances/{instance.pk}/resume/", {}, format="json")
    assert second.status_code == 409
    assert second.json()["code"] == "instance_terminal" and "succeeded" in second.json()["detail"]
    assert AuditEvent.objects.filter(target_id=str(instance.pk), action="instance.resume").count() == 1
