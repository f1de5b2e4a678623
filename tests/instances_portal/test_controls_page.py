"""The run page's workflow actions (DESIGN §6): pause, resume, cancel, terminate, retry a
failed run, re-run a finished one. Each posts to a view that calls the control service,
shows the outcome or the refusal as a message and redirects back; buttons show only to
those who may act, disabled with the reason when the state does not allow the action."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.engine.models import WorkflowInstance
from tests.instances_portal.controls_data import detail, login, make_jobs, make_row, make_run, messages_of

pytestmark = pytest.mark.django_db


def url(name: str, instance, *args) -> str:
    return reverse(f"engine:instance-{name}", args=[instance.pk, *args])


def control(html: str, key: str) -> str:
    """The markup of one control (its button and, when disabled, the reason beside it)."""
    found = re.search(rf'<span class="control" data-control="{key}">.*?</button>\s*'
                      r'(<span class="disabled-reason"[^>]*>[^<]*</span>\s*)?</span>', html, re.S)
    assert found, f"no control {key}"
    return found.group(0)


def actions(html: str) -> str:
    return re.search(r'<div class="instance-actions" id="instance-actions">(.*?)</div>', html, re.S).group(1)


def audit(instance, action: str) -> list[dict]:
    return list(AuditEvent.objects.filter(target_id=str(instance.pk), action=action).values_list("data", flat=True))


@pytest.fixture
def running(org, owner):
    instance = make_run(org, "running", triggered_by=owner)
    make_row(instance, "plan", "running")
    return instance


# --- who sees what ----------------------------------------------------------------------
def test_a_viewer_sees_no_controls_and_cannot_post_them(client, viewer, running):
    login(client, viewer)
    html = client.get(detail(running)).content.decode()
    assert 'data-dialog="' not in actions(html)
    assert 'id="cancel-dialog"' not in html and 'id="terminate-dialog"' not in html

    for name, data in [("pause", {}), ("resume", {}), ("cancel", {"mode": "kill"}), ("retry", {}),
                       ("terminate", {"confirm": str(running.pk)})]:
        assert client.post(url(name, running), data).status_code == 403, name
    assert client.post(reverse("engine:step-retry", args=[running.pk, "plan"])).status_code == 403
    assert client.get(url("rerun", running)).status_code == 403
    running.refresh_from_db()
    assert running.status == "running"
    assert not AuditEvent.objects.filter(target_id=str(running.pk)).exists()


def test_another_organizations_run_is_not_found(client, operator, other_org):
    foreign = make_run(other_org, "running")
    finished = make_run(other_org, "failed")
    login(client, operator)
    for name, data in [("pause", {}), ("resume", {}), ("cancel", {"mode": "standard"}),
                       ("terminate", {"confirm": str(foreign.pk)}), ("retry", {})]:
        assert client.post(url(name, foreign), data).status_code == 404, name
    assert client.post(url("terminate", foreign), {"confirm": "wrong"}).status_code == 404
    assert client.post(reverse("engine:step-skip", args=[foreign.pk, "plan"])).status_code == 404
    assert client.get(url("rerun", finished)).status_code == 404
    assert client.post(url("rerun", finished)).status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "running" and WorkflowInstance.objects.count() == 2


def test_controls_need_a_post(client, operator, running):
    login(client, operator)
    assert client.get(url("pause", running)).status_code == 405


def test_a_running_run_offers_pause_cancel_and_terminate(client, operator, running):
    login(client, operator)
    html = client.get(detail(running)).content.decode()
    bar = actions(html)
    assert 'data-control="pause"' in bar and 'data-control="cancel"' in bar and 'data-control="terminate"' in bar
    assert 'data-control="resume"' not in bar and 'data-control="rerun"' not in bar
    assert "disabled" not in bar
    assert f'data-action="{url("pause", running)}"' in bar
    assert 'id="cancel-dialog"' in html and 'id="terminate-dialog"' in html
    assert 'name="cleanup"' not in html  # the definition has no on_cancel chain


# --- pause / resume -----------------------------------------------------------------------
def test_pause_then_resume_with_reasons(client, operator, running):
    login(client, operator)
    response = client.post(url("pause", running), {"reason": "maintenance window"})
    assert response.status_code == 302 and response["Location"] == detail(running)

    page = client.get(response["Location"])
    assert messages_of(page) == [f"Run #{running.pk} is paused."]
    running.refresh_from_db()
    assert (running.status, running.pause_reason) == ("paused", "operator")
    bar = actions(page.content.decode())
    assert 'data-control="resume"' in bar and 'data-control="pause"' not in bar

    again = client.post(url("pause", running), {"reason": "double click"}, follow=True)
    assert messages_of(again) == [f"Run #{running.pk} is paused."]  # harmless, no second audit event

    done = client.post(url("resume", running), {"reason": "window over"}, follow=True)
    assert messages_of(done) == [f"Run #{running.pk} resumed."]
    running.refresh_from_db()
    assert running.status == "running"
    assert [data["reason"] for data in audit(running, "instance.pause")] == ["maintenance window"]
    assert [data["reason"] for data in audit(running, "instance.resume")] == ["window over"]


def test_pause_waits_for_running_jobs(client, operator, running):
    step = running.steps.get()
    make_jobs(step)
    step.jobs.update(status="running", exit_code=None)
    login(client, operator)
    response = client.post(url("pause", running), follow=True)
    assert messages_of(response) == [f"Run #{running.pk} is pausing: running jobs finish, then it pauses."]


def test_resume_is_disabled_while_a_failed_step_holds_the_run(client, operator, org):
    held = make_run(org, "paused", pause_reason="step_failed")
    make_row(held, "plan", "failed", error_class="NonZeroExit", error_message="exit 3")
    login(client, operator)
    html = client.get(detail(held)).content.decode()
    resume = control(html, "resume")
    assert "disabled" in resume
    assert 'title="The instance holds on a failed step: retry or skip that step, or cancel the instance."' in resume
    assert '<span class="disabled-reason" id="why-resume">holds on failed step: retry or skip it</span>' in resume

    response = client.post(url("resume", held), {"reason": "try"}, follow=True)
    assert messages_of(response) == [
        f"Could not resume run #{held.pk}: The instance holds on a failed step: retry or skip that step, "
        "or cancel the instance."]
    held.refresh_from_db()
    assert held.status == "paused"


def test_resume_is_disabled_while_the_kill_switch_is_on(client, operator, owner, org):
    from apps.automation.models import KillSwitch

    paused = make_run(org, "paused", pause_reason="kill_switch")
    KillSwitch.objects.create(organization=org, reason="incident 42", engaged_by=owner)
    login(client, operator)
    resume = control(client.get(detail(paused)).content.decode(), "resume")
    assert "disabled" in resume and "the kill switch is on: release it first" in resume


def test_pause_before_the_run_started_says_cancel_instead(client, operator, org):
    pending = make_run(org, "pending")
    login(client, operator)
    pause = control(client.get(detail(pending)).content.decode(), "pause")
    assert "disabled" in pause and "not started yet: cancel it instead" in pause
    response = client.post(url("pause", pending), follow=True)
    assert messages_of(response) == [
        f"Could not pause run #{pending.pk}: Instance {pending.pk} has not started yet (pending); cancel it instead."]


# --- cancel --------------------------------------------------------------------------------
def test_cancel_with_a_mode(client, operator, running):
    login(client, operator)
    response = client.post(url("cancel", running), {"mode": "force", "reason": "wrong hosts"}, follow=True)
    assert messages_of(response) == [f"Run #{running.pk} is force-canceling: its running jobs get SIGTERM and it "
                                     "ends without waiting for them."]
    running.refresh_from_db()
    assert running.status == "force_canceling"
    assert audit(running, "instance.cancel.force") == [{"reason": "wrong hosts", "cleanup": False, "mode": "force"}]
    # A weaker cancel after a stronger one changes nothing and is no error.
    response = client.post(url("cancel", running), {"mode": "standard"}, follow=True)
    assert messages_of(response) == [f"Run #{running.pk} is force-canceling: its running jobs get SIGTERM and it "
                                     "ends without waiting for them."]


def test_cancel_cleanup_is_offered_only_with_an_on_cancel_chain(client, operator, org):
    instance = make_run(org, "running", on_cancel="cleanup")
    make_row(instance, "plan", "running")
    login(client, operator)
    assert 'name="cleanup"' in client.get(detail(instance)).content.decode()
    response = client.post(url("cancel", instance), {"mode": "standard", "cleanup": "on"}, follow=True)
    assert messages_of(response) == [
        f"Run #{instance.pk} is canceling: no new step starts and running jobs finish, then its on_cancel steps run."]
    instance.refresh_from_db()
    assert (instance.status, instance.cancel_cleanup) == ("canceling", True)


def test_cancel_input_and_refusals_are_messages(client, operator, org, running):
    login(client, operator)
    response = client.post(url("cancel", running), {"mode": "gentle"}, follow=True)
    assert messages_of(response) == [
        f"Could not cancel run #{running.pk}: Select a valid choice. gentle is not one of the available choices."]
    running.refresh_from_db()
    assert running.status == "running"

    done = make_run(org, "succeeded")
    response = client.post(url("cancel", done), {"mode": "standard"}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [f"Could not cancel run #{done.pk}: Instance {done.pk} is already succeeded."]


# --- terminate -----------------------------------------------------------------------------
def test_terminate_needs_the_run_number_typed(client, operator, running):
    login(client, operator)
    response = client.post(url("terminate", running), {"confirm": "yes", "reason": "runaway"}, follow=True)
    assert messages_of(response) == [
        f"Could not terminate run #{running.pk}: Type the run number {running.pk} to confirm."]
    response = client.post(url("terminate", running), {"reason": "runaway"}, follow=True)
    assert messages_of(response) == [f"Could not terminate run #{running.pk}: This field is required."]
    running.refresh_from_db()
    assert running.status == "running" and not audit(running, "instance.terminate")

    response = client.post(url("terminate", running), {"confirm": f" #{running.pk} ", "reason": "runaway"},
                           follow=True)
    assert messages_of(response) == [
        f"Run #{running.pk} was terminated: its jobs were killed, no cleanup ran."]
    running.refresh_from_db()
    assert running.status == "terminated"
    assert audit(running, "instance.terminate") == [{"reason": "runaway"}]
    assert running.steps.get().status == "canceled"


def test_terminate_is_disabled_before_the_run_starts(client, operator, org):
    pending = make_run(org, "pending")
    login(client, operator)
    terminate = control(client.get(detail(pending)).content.decode(), "terminate")
    assert "disabled" in terminate and "only a running or paused run can be terminated" in terminate
    response = client.post(url("terminate", pending), {"confirm": str(pending.pk)}, follow=True)
    assert messages_of(response) == [
        f"Could not terminate run #{pending.pk}: Only a running, pausing or paused instance can be terminated; "
        "this one is pending."]


# --- retry a failed run ----------------------------------------------------------------------
@pytest.fixture
def failed(org, owner):
    """plan ok, left ok, right failed on web-2, fork failed, the rest unreachable."""
    instance = make_run(org, "failed", triggered_by=owner, error_class="NonZeroExit")
    make_jobs(make_row(instance, "plan", "succeeded", output={"changes": 3}))
    make_row(instance, "fork", "failed", error_class="BranchFailed")
    make_jobs(make_row(instance, "left", "succeeded", parallel_id="fork", branch="left"))
    make_jobs(make_row(instance, "right", "failed", parallel_id="fork", branch="right", error_class="NonZeroExit"),
              failed_on=("web-2",))
    for step_id in ("apply", "gate", "report"):
        make_row(instance, step_id, "unreachable")
    return instance


def test_a_failed_run_offers_retry_and_rerun(client, operator, failed):
    login(client, operator)
    bar = actions(client.get(detail(failed)).content.decode())
    assert 'data-control="retry"' in bar and "disabled" not in control(bar, "retry")
    assert f'href="{url("rerun", failed)}" data-control="rerun"' in bar
    assert 'data-control="pause"' not in bar and 'data-control="cancel"' not in bar

    response = client.post(url("retry", failed), {"reason": "flaky host"}, follow=True)
    assert messages_of(response) == [f"Run #{failed.pk} resumes at its failed step."]
    failed.refresh_from_db()
    assert failed.status == "running"
    assert failed.steps.get(step_id="right").status == "pending"
    assert audit(failed, "instance.retry")[0]["reason"] == "flaky host"


def test_retry_is_disabled_when_the_error_is_never_retried(client, operator, failed):
    failed.steps.filter(step_id="right").update(error_class="ConfigError")
    login(client, operator)
    retry = control(client.get(detail(failed)).content.decode(), "retry")
    assert "disabled" in retry and "this error is never retried: start a new run" in retry
    response = client.post(url("retry", failed), follow=True)
    assert messages_of(response) == [
        f"Could not retry run #{failed.pk}: Step 'right' failed with ConfigError, which is never retried: "
        "fix the cause and start a new run."]
    failed.refresh_from_db()
    assert failed.status == "failed"


# --- re-run: preview (a dry run, nothing created), then confirm ---------------------------------
def test_rerun_preview_shows_the_plan_and_creates_nothing(client, operator, failed):
    login(client, operator)
    response = client.get(url("rerun", failed), {"tasks": "right", "no_reset": "on"})
    assert response.status_code == 200
    html = response.content.decode()
    choices = re.findall(r'type="checkbox" name="tasks" value="([^"]+)"( checked)?>', html)
    assert choices == [("plan", ""), ("fork", ""), ("left", ""), ("right", " checked")]  # steps that ran
    plan = {row["step"]: row for row in response.context["plan"]["rows"]}
    assert plan["right"]["label"] == "runs again" and plan["right"]["hostnames"] == ["web-2"]
    assert plan["fork"]["label"] == "waits for its branches again"
    assert plan["plan"]["label"] == "keeps its result" and plan["left"]["label"] == "keeps its result"
    assert plan["apply"]["label"] == "runs again if reached"
    confirm = re.search(r'<form method="post" action="/instances/[^"]*".*?</form>', html, re.S).group(0)
    assert '<input type="hidden" name="tasks" value="right">' in confirm
    assert '<input type="hidden" name="no_reset" value="on">' in confirm
    assert WorkflowInstance.objects.count() == 1
    assert not AuditEvent.objects.filter(action="instance.rerun").exists()


def test_rerun_keeps_the_hosts_that_succeeded_per_chosen_step(client, operator, failed):
    login(client, operator)
    response = client.get(url("rerun", failed), {"tasks": ["left", "right"], "no_reset_tasks": "right"})
    assert response.status_code == 200
    html = response.content.decode()
    kept = re.findall(r'type="checkbox" name="no_reset_tasks" value="([^"]+)"( checked)?>', html)
    assert kept == [("plan", ""), ("left", ""), ("right", " checked")]  # command and script steps only
    plan = {row["step"]: row for row in response.context["plan"]["rows"]}
    assert plan["left"]["host_count"] == 3  # reset: every host again
    assert plan["right"]["hostnames"] == ["web-2"]  # only the host that failed
    confirm = re.search(r'<form method="post" action="/instances/[^"]*".*?</form>', html, re.S).group(0)
    assert '<input type="hidden" name="no_reset_tasks" value="right">' in confirm

    client.post(url("rerun", failed), {"tasks": ["left", "right"], "no_reset_tasks": ["right"]})
    rerun = WorkflowInstance.objects.exclude(pk=failed.pk).get()
    assert rerun.steps.get(step_id="right").result["only_hosts"] == ["web-2"]
    assert "only_hosts" not in rerun.steps.get(step_id="left").result

    response = client.get(url("rerun", failed), {"tasks": "left", "no_reset_tasks": "right"})
    assert response.status_code == 400
    assert "no_reset names task(s) that are not in tasks: right" in response.content.decode()


def test_rerun_preview_refusals_are_clear(client, operator, failed, running):
    login(client, operator)
    response = client.get(url("rerun", failed), {"tasks": "apply"})
    assert response.status_code == 400
    assert f"Task(s) never executed in instance {failed.pk}: apply" in response.content.decode()
    response = client.get(url("rerun", failed), {"tasks": "nope"})
    assert response.status_code == 400 and "Unknown task(s): nope." in response.content.decode()
    response = client.get(url("rerun", failed), {"tasks": "x" * 101})
    assert response.status_code == 400 and "Choose fewer or shorter tasks." in response.content.decode()
    response = client.get(url("rerun", running))
    assert response.status_code == 409
    assert "only a finished instance can be re-run" in response.content.decode()
    assert "Confirm re-run" not in response.content.decode()
    assert WorkflowInstance.objects.count() == 2


def test_rerun_confirm_starts_a_linked_run(client, operator, failed):
    login(client, operator)
    response = client.post(url("rerun", failed), {"tasks": ["right"], "no_reset": "on"})
    rerun = WorkflowInstance.objects.exclude(pk=failed.pk).get()
    assert response.status_code == 302 and response["Location"] == detail(rerun)
    assert messages_of(client.get(response["Location"])) == [f"Re-run #{rerun.pk} of run #{failed.pk} started."]
    assert (rerun.rerun_of_id, rerun.trigger, rerun.triggered_by_id) == (failed.pk, "rerun", operator.pk)
    assert rerun.steps.get(step_id="right").result["only_hosts"] == ["web-2"]


def test_rerun_confirm_refusal_goes_back_to_the_preview(client, operator, failed):
    login(client, operator)
    response = client.post(url("rerun", failed), {"tasks": ["apply"]})
    assert response.status_code == 302 and response["Location"] == f"{url('rerun', failed)}?tasks=apply"
    page = client.get(response["Location"])
    assert messages_of(page) == [
        f"Run #{failed.pk} was not re-run: Task(s) never executed in instance {failed.pk}: apply; "
        "a re-run starts only at steps that ran."]
    assert WorkflowInstance.objects.count() == 1


def test_rerun_of_a_deleted_workflow_is_disabled(client, operator, failed):
    WorkflowInstance.objects.filter(pk=failed.pk).update(definition=None)
    login(client, operator)
    rerun = control(client.get(detail(failed)).content.decode(), "rerun")
    assert "disabled" in rerun and "its workflow was deleted" in rerun
