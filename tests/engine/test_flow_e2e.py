"""Fan-out, canary, parallel, child workflows, approvals, PAM, notifications and holds,
end to end with a real worker."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core import mail

from apps.approvals.models import ApprovalRequest
from apps.engine.models import PamSession, WorkflowInstance
from apps.jobs.models import Job, LogLine
from tests.engine.conftest import step_of, wait_for
from tests.engine.test_steps_e2e import command, step

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]
DONE = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}


def test_fan_out_runs_one_job_per_host_with_host_context(worker, make_workflow, run, fleet):
    definition = make_workflow(
        [command("hello", "echo hello from {{ hosts.hostname }} at {{ hosts.primary_ip }}", max_parallel=2)]
    )

    instance = wait_for(run(definition, hosts=[h.pk for h in fleet]), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    jobs = Job.objects.filter(instance=instance)
    assert sorted(jobs.values_list("hostname", "status")) == [(f"web-{i}", "succeeded") for i in range(1, 6)]
    lines = set(LogLine.objects.filter(instance=instance).values_list("host", "line"))
    assert {(f"web-{i}", f"hello from web-{i} at 10.0.0.{i}") for i in range(1, 6)} <= lines


def test_canary_passes_then_the_rest_of_the_hosts_run(worker, make_workflow, run, fleet):
    definition = make_workflow(
        [command("patch", "echo patched {{ hosts.hostname }}")], canary_percentage=20, canary_success_threshold=100
    )

    instance = wait_for(run(definition, hosts=[h.pk for h in fleet]), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    patch = step_of(instance, "patch")
    assert patch.result["canary"]["state"] == "passed"
    jobs = list(Job.objects.filter(instance=instance).order_by("id"))
    assert [job.is_canary for job in jobs] == [True, False, False, False, False]
    assert jobs[0].finished_at <= min(job.started_at for job in jobs[1:])


def test_a_failed_canary_fails_the_step_and_never_touches_the_other_hosts(worker, make_workflow, run, fleet):
    definition = make_workflow(
        [
            command("patch", "[ {{ hosts.hostname }} != web-1 ]", on_failure="report"),
            step("report", "set", {"variables": {"outcome": "canary failed"}}),
        ],
        canary_percentage=20,
    )

    instance = wait_for(run(definition, hosts=[h.pk for h in fleet]), status=DONE)

    assert instance.status == "succeeded"  # on_failure routed the failure
    patch = step_of(instance, "patch")
    assert (patch.status, patch.error_class) == ("failed", "CanaryFailed")
    assert patch.result["canary"]["state"] == "failed"
    assert list(Job.objects.filter(instance=instance).values_list("hostname", flat=True)) == ["web-1"]
    assert instance.variables["outcome"] == "canary failed"


def test_parallel_join_all_waits_for_every_branch(worker, make_workflow, run, localhost):
    definition = make_workflow(
        [
            step("both", "parallel", {"branches": ["a", "b"], "join": "all"}, on_success="after"),
            command("a", "sleep 0.5; echo '{\"a\": 1}'"),
            command("b", "echo '{\"b\": 2}'"),
            step("after", "set", {"variables": {"sum": "{{ steps.a.output.a + steps.b.output.b }}"}}),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    assert instance.variables["sum"] == "3"
    assert step_of(instance, "both").finished_at >= step_of(instance, "a").finished_at


def test_parallel_join_all_fails_when_a_branch_fails(worker, make_workflow, run, localhost):
    definition = make_workflow(
        [
            step("both", "parallel", {"branches": ["good", "bad"], "join": "all"}),
            command("good", "sleep 0.3"),
            command("bad", "exit 2"),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status=DONE)

    assert instance.status == "failed"
    assert step_of(instance, "good").status == "succeeded"
    assert step_of(instance, "both").status == "failed"


def test_parallel_join_any_finishes_on_the_first_success_and_cancels_the_rest(worker, make_workflow, run, localhost):
    definition = make_workflow(
        [
            step("race", "parallel", {"branches": ["fast", "slow"], "join": "any"}),
            command("fast", "echo fast"),
            command("slow", "sleep 30"),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status=DONE, timeout=25)

    assert instance.status == "succeeded"
    assert step_of(instance, "race").output["winner"] == "fast"
    assert step_of(instance, "slow").status == "canceled"


def test_child_workflow_runs_one_instance_per_batch(worker, make_workflow, run, fleet):
    make_workflow(
        [command("deploy", "echo deploying {{ vars.release }} to {{ hosts.hostname }}")],
        name="deploy-batch",
        variables=[{"name": "release", "default": "r0"}],
    )
    parent = make_workflow(
        [
            step(
                "batches",
                "workflow",
                {"workflow": "deploy-batch", "batch_size": 2, "variables": {"release": "{{ vars.release }}"}},
            )
        ],
        variables=[{"name": "release", "default": "r1"}],
    )

    instance = wait_for(run(parent, hosts=[h.pk for h in fleet], variables={"release": "r7"}), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    children = list(WorkflowInstance.objects.filter(parent=instance).order_by("batch_index"))
    assert [len(child.targets) for child in children] == [2, 2, 1]
    assert {child.status for child in children} == {"succeeded"}
    assert all(child.variables == {"release": "r7"} for child in children)
    assert LogLine.objects.filter(instance__parent=instance, line="deploying r7 to web-5").exists()


def test_approval_creates_a_request_and_waits(worker, make_workflow, run, localhost):
    definition = make_workflow(
        [
            command("plan", 'echo \'{"diff": "+1 line"}\'', on_success="gate"),
            step(
                "gate",
                "approval",
                {"approvers": ["alice"], "message": "Apply {{ steps.plan.output.diff }}?", "plan_from": "plan"},
                on_success="apply",
            ),
            command("apply", "echo applied"),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), step="gate", step_status="waiting")

    assert (instance.status, instance.pause_reason) == ("running", "awaiting_approval")
    request = ApprovalRequest.objects.get(step_execution__instance=instance)
    assert (request.status, request.message) == ("pending", "Apply +1 line?")
    assert not Job.objects.filter(instance=instance, step_id="apply").exists()


@pytest.mark.parametrize(
    ("on_timeout", "instance_status", "gate_status", "applied"),
    [
        ("reject", "rejected", "rejected", False),
        ("approve", "succeeded", "succeeded", True),
        ("fail", "failed", "failed", False),
        ("skip", "succeeded", "skipped", True),
    ],
)
def test_approval_timeout_follows_on_timeout(
    worker, make_workflow, run, on_timeout, instance_status, gate_status, applied
):
    definition = make_workflow(
        [
            step("gate", "approval", {"timeout_seconds": 1, "on_timeout": on_timeout}, on_success="apply"),
            step("apply", "set", {"variables": {"applied": "yes"}}),
        ]
    )

    instance = wait_for(run(definition), status=DONE, timeout=20)

    assert instance.status == instance_status
    gate = step_of(instance, "gate")
    assert gate.status == gate_status
    assert gate.result.get("timed_out") is True
    assert ("applied" in instance.variables) is applied
    approval = ApprovalRequest.objects.get(step_execution=gate)
    assert approval.status == "timed_out" and approval.resolved_at is not None


def test_hold_on_failure_pauses_the_instance_for_an_operator(worker, make_workflow, run, localhost):
    definition = make_workflow([command("fragile", "exit 4", hold_on_failure=True)])

    instance = wait_for(run(definition, hosts=[localhost.pk]), status="paused")

    assert instance.pause_reason == "step_failed"
    assert step_of(instance, "fragile").status == "failed"


def test_ssh_hosts_fail_fast_with_config_error_and_nothing_runs_locally(worker, make_workflow, run, org):
    from apps.inventory.services import host_create

    remote = host_create(organization=org, actor=None, hostname="db-1", primary_ip="10.1.1.1", connection="ssh")
    definition = make_workflow([command("touch", "echo must-not-run-here")])

    instance = wait_for(run(definition, hosts=[remote.pk]), status=DONE)

    assert instance.status == "failed"
    job = Job.objects.get(instance=instance)
    assert (job.status, job.error_class) == ("failed", "ConfigError")
    assert "needs an ssh_key or password credential" in job.error_message  # no credential: never connects
    assert not LogLine.objects.filter(instance=instance, line="must-not-run-here").exists()


def test_pam_checkout_exposes_the_secret_only_redacted_and_checkin_closes_it(
    worker, make_workflow, run, localhost, vault_credential, api, owner
):
    definition = make_workflow(
        [
            step(
                "lease", "pam_checkout", {"credential": "db-admin", "alias": "db", "ttl_seconds": 600}, on_success="use"
            ),
            step(
                "use",
                "script",
                {
                    "interpreter": "bash",
                    "body": "echo user {{ secrets.db.username }}\necho pass {{ secrets.db.password }}",
                },
                on_success="release",
            ),
            step("release", "pam_checkin", {"checkout": "lease"}),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    lines = list(LogLine.objects.filter(instance=instance).values_list("line", flat=True))
    assert "user dba" in lines and "pass ***" in lines
    session = PamSession.objects.get(instance=instance)
    assert session.close_reason == "checkin" and session.closed_at is not None
    body = api(owner, instance.organization).get(f"/api/instances/{instance.pk}/").content.decode()
    logs = api(owner, instance.organization).get(f"/api/instances/{instance.pk}/logs/").content.decode()
    assert "s3cr3t-Pa55-value" not in body + logs + json.dumps(list(Job.objects.values()), default=str)


def test_pam_sessions_are_closed_when_the_instance_fails(worker, make_workflow, run, localhost, vault_credential):
    definition = make_workflow(
        [
            step("lease", "pam_checkout", {"credential": "db-admin", "alias": "db"}, on_success="boom"),
            command("boom", "exit 1", on_success="release"),
            step("release", "pam_checkin", {"checkout": "lease"}),
        ]
    )

    instance = wait_for(run(definition, hosts=[localhost.pk]), status=DONE)

    assert instance.status == "failed"
    session = PamSession.objects.get(instance=instance)
    assert session.closed_at is not None and session.close_reason != "checkin"


def test_a_sensitive_variable_never_reaches_logs_or_the_api(worker, make_workflow, run, localhost, api, owner):
    definition = make_workflow(
        [
            step("copy", "set", {"variables": {"copy": "x-{{ vars.api_token }}"}}, on_success="use"),
            command(
                "use", 'echo token is {{ vars.api_token }} / {{ vars.db_pass }}; echo "env $OPSFLOW_VAR_API_TOKEN"'
            ),
        ],
        variables=[
            {"name": "api_token", "sensitive": True},
            {"name": "db_pass", "sensitive": True, "default": "dflt-6a5b4c"},
        ],
    )

    instance = wait_for(run(definition, hosts=[localhost.pk], variables={"api_token": "tok-9f8e7d6c"}), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    lines = list(LogLine.objects.filter(instance=instance).values_list("line", flat=True))
    assert "token is *** / ***" in lines and "env ***" in lines
    assert instance.variables["copy"] == "x-***"  # `set` cannot launder a secret into a plain variable
    client = api(owner, instance.organization)
    seen = client.get(f"/api/instances/{instance.pk}/").content.decode()
    seen += client.get(f"/api/instances/{instance.pk}/logs/").content.decode()
    seen += client.get("/api/instances/").content.decode() + client.get("/api/audit/").content.decode()
    stored = json.dumps(list(WorkflowInstance.objects.values()), default=str)
    stored += json.dumps(list(Job.objects.values()), default=str)
    for secret in ("tok-9f8e7d6c", "dflt-6a5b4c"):
        assert secret not in seen
        assert secret not in stored


def test_email_notification_is_sent_with_rendered_fields(worker, make_workflow, run):
    definition = make_workflow(
        [
            step(
                "tell",
                "notification",
                {"channel": "email", "to": ["ops@example.com"], "subject": "{{ vars.ticket }} done", "body": "ok"},
            )
        ],
        variables=[{"name": "ticket", "default": "CHG-1"}],
    )

    instance = wait_for(run(definition), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    sent = [m for m in mail.outbox if m.subject == "CHG-1 done"]
    assert len(sent) == 1 and sent[0].to == ["ops@example.com"]


def test_webhook_notification_is_signed(worker, make_workflow, run, hook_server):
    server, hook = hook_server
    url = f"http://127.0.0.1:{server.server_port}/hook"
    definition = make_workflow(
        [
            step(
                "hook",
                "notification",
                {"channel": "webhook", "url": url, "secret": "k3y", "body": "deployed {{ instance.id }}"},
            )
        ]
    )

    instance = wait_for(run(definition), status=DONE)

    assert instance.status == "succeeded", instance.error_message
    headers, body = hook.received[0]
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert headers["X-Opsflow-Signature"].endswith(expected)
    assert json.loads(body)["body"] == f"deployed {instance.pk}"


def test_a_webhook_503_fails_the_step_as_transient(worker, make_workflow, run, hook_server):
    server, hook = hook_server
    hook.status = 503
    definition = make_workflow(
        [
            step(
                "hook",
                "notification",
                {"channel": "slack", "url": f"http://127.0.0.1:{server.server_port}/s", "body": "x"},
            )
        ]
    )

    instance = wait_for(run(definition), status=DONE)

    assert instance.status == "failed"
    assert step_of(instance, "hook").error_class == "HTTP503"
