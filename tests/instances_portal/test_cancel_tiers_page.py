"""The run page says which jobs' processes may still run after a cancel, and offers a kill
on a canceled run that still has some (DESIGN §6; issue 12 item 11)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.engine.advance import advance
from tests.instances_portal.controls_data import TARGETS, detail, login, make_row, make_run, messages_of

pytestmark = pytest.mark.django_db


def actions(html: str) -> str:
    return re.search(r'<div class="instance-actions" id="instance-actions">(.*?)</div>', html, re.S).group(1)


def processes(html: str) -> list[str]:
    return re.findall(r'<td data-processes="(\w+)">', html)


@pytest.fixture
def force_canceled(org, owner):
    """A force-canceled run: one job still running (it ignored SIGTERM), one verified
    stopped, one that ended before the cancel."""
    from apps.jobs.models import Job

    instance = make_run(org, "canceled", triggered_by=owner, finished_at=timezone.now())
    step = make_row(instance, "plan", "canceled")
    now = timezone.now()
    rows = [("running", 4242, None), ("canceled", 4243, now), ("succeeded", 4244, now)]
    for target, (status, pgid, verified) in zip(TARGETS, rows, strict=True):
        Job.objects.create(instance=instance, step_execution=step, step_id="plan", hostname=target["hostname"],
                           status=status, stop_request="term", pgid=pgid, verified_stopped_at=verified)
    return instance


def test_a_canceled_run_with_a_live_job_says_so_and_offers_kill(client, operator, force_canceled):
    login(client, operator)
    html = client.get(detail(force_canceled)).content.decode()

    assert 'data-control="kill"' in actions(html) and 'id="kill-dialog"' in html
    assert 'id="instance-live-jobs" data-live-jobs="1"' in html
    assert "1 job of this step may still have processes running." in html
    assert processes(html) == ["live", "verified", "verified"]
    assert "SIGTERM sent, may still be finishing" in html


def test_the_kill_posts_a_kill_cancel_for_what_is_left(client, operator, force_canceled):
    login(client, operator)
    response = client.post(reverse("engine:instance-cancel", args=[force_canceled.pk]),
                           {"mode": "kill", "reason": "stuck process"}, follow=True)

    force_canceled.refresh_from_db()
    assert force_canceled.status == "kill_canceling"
    assert messages_of(response) == [f"Run #{force_canceled.pk} is kill-canceling: its running jobs are being "
                                     "killed; it ends once nothing of them still runs."]
    assert AuditEvent.objects.filter(target_id=str(force_canceled.pk), action="instance.cancel.kill").exists()
    advance(force_canceled.pk)  # the pass the control woke: it upgrades the running job's stop request
    assert force_canceled.jobs.get(status="running").stop_request == "kill"
    force_canceled.refresh_from_db()
    assert force_canceled.status == "kill_canceling"  # and waits for the job's end


def test_a_canceled_run_with_every_job_verified_stopped_offers_no_kill(client, operator, force_canceled):
    force_canceled.jobs.filter(status="running").update(status="canceled", verified_stopped_at=timezone.now())
    login(client, operator)
    html = client.get(detail(force_canceled)).content.decode()

    assert 'data-control="kill"' not in actions(html) and 'id="instance-live-jobs"' not in html
    assert processes(html) == ["verified", "verified", "verified"]
    response = client.post(reverse("engine:instance-cancel", args=[force_canceled.pk]), {"mode": "kill"})
    assert response.status_code == 302
    force_canceled.refresh_from_db()
    assert force_canceled.status == "canceled"  # nothing left to kill: nothing changes


def test_a_job_whose_worker_died_is_not_verified_stopped(client, operator, force_canceled):
    force_canceled.jobs.filter(status="running").update(status="failed", error_class="WorkerLost")
    login(client, operator)
    html = client.get(detail(force_canceled)).content.decode()

    assert processes(html) == ["live", "verified", "verified"]
    assert "not verified stopped" in html and 'data-control="kill"' in actions(html)
