"""Live logs end to end with the real Celery worker: a viewer watching a run as it prints,
secrets that never reach the database, a frame or the download, the per-job log limit,
and `manage.py tail`."""

from __future__ import annotations

import io
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.db import connections

from apps.engine.models import WorkflowInstance
from apps.jobs.models import Job, LogLine
from tests.engine.conftest import wait_for
from tests.engine.test_steps_e2e import command, step
from tests.logs.conftest import token_for

pytestmark = [pytest.mark.worker, pytest.mark.xdist_group("worker")]
DONE = {"succeeded", "failed", "rejected", "timeout", "canceled", "terminated"}
MULTI_LINE = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----"
TOKEN = "tok-9f8e7d6c5b4a"
VAULT = "vault-Pa55-w0rd-value"


def watch(ws_client, instance: WorkflowInstance, key: str) -> list[dict]:
    """Connect at once and collect every frame until the instance has ended."""

    async def scenario():
        client = ws_client(instance, token=key, origin=None)
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "instance" and frame["status"] in DONE, timeout=60)
        await client.close()
        return client

    return async_to_sync(scenario)()


def test_a_viewer_sees_every_line_live_in_order(worker, make_workflow, run, localhost, ws_client, owner):
    definition = make_workflow([
        command("warmup", "sleep 1", on_success="count"),  # the viewer is connected before `count` starts
        command("count", "for i in $(seq 1 30); do echo tick $i; sleep 0.03; done"),
    ])
    instance = run(definition, hosts=[localhost.pk])

    client = watch(ws_client, instance, token_for(owner))

    texts = [line["line"] for line in client.lines if line["stream"] == "stdout"]
    assert texts == [f"tick {i}" for i in range(1, 31)]
    assert client.seqs == list(range(1, len(client.seqs) + 1))
    stored = LogLine.objects.filter(instance=instance).count()
    assert client.seqs[-1] == stored  # nothing missing at the end either
    assert len([frame for frame in client.frames if frame["type"] == "logs"]) < 30  # batched, not one per line
    steps = [(f["step"], f["status"]) for f in client.frames if f["type"] == "step"]
    assert ("count", "running") in steps and steps[-1] == ("count", "succeeded")
    jobs = [(f["host"], f["status"]) for f in client.frames if f["type"] == "job" and f["step"] == "count"]
    assert jobs == [("localhost", "running"), ("localhost", "succeeded")]


def test_secrets_never_reach_the_log_a_frame_or_the_download(
    worker, make_workflow, run, localhost, ws_client, owner, org, api
):
    from apps.credentials.services import credential_create

    credential_create(organization=org, actor=None, name="db-admin", kind="password", username="dba", secret=VAULT)
    script = (
        'echo "token: {{ vars.api_token }}"\n'
        'echo "env: $OPSFLOW_VAR_API_TOKEN" >&2\n'
        "printf '%s\\n' \"$OPSFLOW_VAR_KEY\"\n"
        'echo "key inline: {{ vars.key }}"\n'
        "echo 'vault: {{ secrets.db.password }}'\n"
        "python3 -c \"import json,os; print(json.dumps({'k': os.environ['OPSFLOW_VAR_KEY']}))\"\n"
        "sleep 0.3; echo done"
    )
    definition = make_workflow(
        [
            step("lease", "pam_checkout", {"credential": "db-admin", "alias": "db"}, on_success="use"),
            step("use", "script", {"interpreter": "bash", "body": script}, on_success="release"),
            step("release", "pam_checkin", {"checkout": "lease"}),
        ],
        variables=[{"name": "api_token", "sensitive": True}, {"name": "key", "sensitive": True}],
    )
    instance = run(definition, hosts=[localhost.pk], variables={"api_token": TOKEN, "key": MULTI_LINE})

    client = watch(ws_client, instance, token_for(owner))
    instance = wait_for(instance, status=DONE)

    assert instance.status == "succeeded", instance.error_message
    stored = "\n".join(LogLine.objects.filter(instance=instance).values_list("line", flat=True))
    frames = str(client.frames)
    download = b"".join(
        api(owner, org).get(f"/api/instances/{instance.pk}/logs/download/").streaming_content).decode()
    assert "token: ***" in stored and "vault: ***" in stored and "done" in stored
    for secret in (TOKEN, VAULT, *MULTI_LINE.splitlines(), "MIIBOgIBAAJBAKj34GkxFhD9"):
        assert secret not in stored
        assert secret not in frames
        assert secret not in download
    assert "done" in download and "done" in frames


def test_output_past_the_job_log_limit_is_dropped_with_a_marker_and_the_exit_is_kept(
    worker, make_workflow, run, localhost, settings
):
    settings.OPSFLOW_JOB_LOG_LIMIT_BYTES = 5_000
    definition = make_workflow([command("chatty", "for i in $(seq 1 2000); do echo line $i; done; exit 3")])

    instance = wait_for(run(definition, hosts=[localhost.pk]), status=DONE)

    job = Job.objects.get(instance=instance)
    assert (job.status, job.exit_code, job.error_class) == ("failed", 3, "NonZeroExit")
    assert job.log_truncated is True and job.log_bytes > 5_000 * 3
    lines = list(LogLine.objects.filter(instance=instance, job=job).order_by("seq").values_list("stream", "line"))
    markers = [line for stream, line in lines if "Output truncated" in line]
    assert len(markers) == 1 and ("system", markers[0]) in lines
    output = [line for stream, line in lines if stream == "stdout"]
    assert output == [f"line {i}" for i in range(1, len(output) + 1)]  # a prefix, in order
    assert sum(len(line) + 1 for line in output) <= 5_000
    assert "NonZeroExit" in lines[-1][1]  # the job's end is still logged after the marker


def test_tail_prints_lines_as_they_come_and_exits_with_the_run(worker, make_workflow, run, localhost):
    definition = make_workflow([
        command("slow", "echo first; sleep 1.5; echo second >&2; sleep 0.5; echo third", on_success="fail"),
        command("fail", "echo failing; exit 1"),
    ])
    instance = run(definition, hosts=[localhost.pk])
    out = _TimedOutput()
    result: dict = {}

    def tail():
        try:
            call_command("tail", str(instance.pk), "--step", "slow", stdout=out, stderr=io.StringIO())
        except SystemExit as exc:
            result["exit"] = exc.code
        finally:
            connections.close_all()

    thread = threading.Thread(target=tail)
    thread.start()
    thread.join(60)

    assert not thread.is_alive()
    assert result["exit"] == 1  # the run failed (its second step)
    texts = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert texts[:3] == ["stdout: first", "stderr: second", "stdout: third"]
    assert all("failing" not in text for text in texts)  # --step
    first, second = (out.seen_at(text) for text in ("first", "second"))
    assert second - first > 1.0  # printed as it came, not at the end
    assert WorkflowInstance.objects.get(pk=instance.pk).status == "failed"


class _TimedOutput(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        self.times.append((time.monotonic(), text))
        return super().write(text)

    def seen_at(self, needle: str) -> float:
        return next(at for at, text in self.times if needle in text)
