"""The instance detail page: header, timeline with jobs, outputs, redacted variables, the
log panel with its filters, the live fragment, tenancy."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.engine.page_selectors import JOBS_PER_STEP
from apps.engine.services import instance_start
from tests.instances_portal.data import SECRET, SECRET_DEFAULT, make_instance, make_job, make_log, make_step

pytestmark = pytest.mark.django_db


def detail_url(instance) -> str:
    return reverse("engine:instance-detail", args=[instance.pk])


@pytest.fixture
def logged_in(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def run(org, operator, definition, hosts):
    """A run started through the service (a sensitive value given), then advanced by hand:
    plan succeeded on two hosts with an output, apply failed on one host."""
    instance = instance_start(definition=definition, actor=operator, groups=[hosts["web"].pk],
                              variables={"package": "curl", "api_token": SECRET})
    now = timezone.now()
    started = now - timedelta(seconds=90)
    type(instance).objects.filter(pk=instance.pk).update(
        status="failed", started_at=started, finished_at=now, error_class="NonZeroExit",
        error_message="Step 'apply' failed on web-2.acme.test\nsecond line")
    plan = make_step(instance, "plan", "succeeded", started_at=started, finished_at=started + timedelta(seconds=12),
                     output={"packages": ["curl"], "reboot": False},
                     result={"hosts_total": 2, "dispatched": 2, "jobs": {"succeeded": 2},
                             "canary": {"hosts": 1, "threshold": 80, "state": "passed", "success_rate": 100.0}})
    make_job(plan, "web-1.acme.test", "succeeded", exit_code=0, is_canary=True, started_at=started,
             finished_at=started + timedelta(seconds=3))
    make_job(plan, "web-2.acme.test", "succeeded", exit_code=0, started_at=started,
             finished_at=started + timedelta(seconds=5))
    apply = make_step(instance, "apply", "failed", attempt=2, started_at=started + timedelta(seconds=12),
                      finished_at=now, error_class="NonZeroExit", error_message="web-2.acme.test exited with 3")
    make_job(apply, "web-2.acme.test", "failed", exit_code=3, error_class="NonZeroExit",
             error_message="exit status 3", started_at=now - timedelta(seconds=2), finished_at=now)
    make_log(instance, "plan", "web-1.acme.test", "stdout", "plan says hello from web-1")
    make_log(instance, "plan", "web-2.acme.test", "stdout", "plan says hello from web-2")
    make_log(instance, "apply", "web-2.acme.test", "stderr", "E: could not lock dpkg")
    make_log(instance, "apply", "", "system", "Step apply failed")
    instance.refresh_from_db()
    return instance


def test_header_timeline_jobs_and_outputs(logged_in, run):
    response = logged_in.get(detail_url(run))
    assert response.status_code == 200
    html = response.content.decode()
    header = re.search(r'<section id="instance-header".*?</section>', html, re.S).group(0)
    assert 'data-active="false"' in header
    assert f"patch-web <span class=\"subtitle\">Run #{run.pk} · version {run.version_number}</span>" in header
    assert 'data-status="failed"' in header
    assert "<code>NonZeroExit</code><pre>Step &#x27;apply&#x27; failed on web-2.acme.test\nsecond line</pre>" in header
    assert "1 min 30 s" in header
    assert "<dt>Triggered by</dt><dd>operator</dd>" in header
    assert "<dt>Trigger</dt><dd>Manual</dd>" in header
    assert "2 hosts:" in header and "web-1.acme.test" in header

    timeline = re.search(r'<section id="timeline".*?</section>', html, re.S).group(0)
    plan = re.search(r'<li class="step" id="step-plan".*?</li>\s*<li class="step" id="step-apply"', timeline, re.S)
    plan = plan.group(0)
    assert 'data-status="succeeded"' in plan and "<dt>Duration</dt><dd>12 s</dd>" in plan
    assert "1 host(s), needs 80% — passed (100.0% succeeded)" in plan
    assert "2 succeeded" in plan
    assert plan.count("<tr data-job=") == 2
    assert re.search(r"web-1\.acme\.test</td>.*?succeeded.*?<td class=\"num\">0</td>.*?3\.0 s.*?canary", plan, re.S)
    apply = timeline[timeline.index('id="step-apply"'):]
    assert "<dt>Attempt</dt><dd>2</dd>" in apply
    assert "<code>NonZeroExit</code><pre>web-2.acme.test exited with 3</pre>" in apply
    assert re.search(r"web-2\.acme\.test</td>.*?data-status=\"failed\".*?<td class=\"num\">3</td>", apply, re.S)
    assert "Not run:" in timeline and "<code>verify</code>" in timeline

    outputs = re.search(r'<section id="outputs".*?</section>', html, re.S).group(0)
    assert '{\n  &quot;packages&quot;: [\n    &quot;curl&quot;\n  ],\n  &quot;reboot&quot;: false\n}' in outputs


def test_variables_are_redacted_and_secrets_never_in_the_html(logged_in, run):
    html = logged_in.get(detail_url(run)).content.decode()
    variables = re.search(r'<section id="variables".*?</section>', html, re.S).group(0)
    assert re.search(r"<code>api_token</code> <span class=\"tag\">sensitive</span></th>\s*"
                     r"<td><span class=\"mono redacted\">\*\*\*</span>", variables)
    assert re.search(r"<code>vault_key</code>.*?\*\*\*", variables, re.S)
    assert re.search(r"<code>package</code></th>\s*<td><span class=\"mono pre-wrap\">curl</span>", variables)
    assert re.search(r"<code>batch</code></th>\s*<td><code class=\"pre-wrap\">3</code>", variables)
    live = logged_in.get(reverse("engine:instance-live", args=[run.pk])).content.decode()
    for page in (html, live):
        assert SECRET not in page
        assert SECRET_DEFAULT not in page


def test_log_panel_shows_the_tail_with_filters(logged_in, run):
    html = logged_in.get(detail_url(run)).content.decode()
    log = re.search(r'<ol class="log" id="instance-log".*?</ol>', html, re.S).group(0)
    assert re.findall(r'<span class="log-text">([^<]*)</span>', log) == [
        "plan says hello from web-1", "plan says hello from web-2", "E: could not lock dpkg", "Step apply failed"]
    last_seq = max(map(int, re.findall(r'data-seq="(\d+)"', log)))
    assert f'data-last-seq="{last_seq}"' in log

    def lines(**params) -> list[str]:
        page = logged_in.get(detail_url(run), params).content.decode()
        return re.findall(r'<span class="log-text">([^<]*)</span>', page)

    assert lines(step="plan") == ["plan says hello from web-1", "plan says hello from web-2"]
    assert lines(host="web-2.acme.test") == ["plan says hello from web-2", "E: could not lock dpkg"]
    assert lines(stream="errors") == ["E: could not lock dpkg", "Step apply failed"]
    assert lines(stream="stdout", lines=1) == ["plan says hello from web-2"]
    assert lines(step="verify") == []
    assert "No log lines match the filters." in logged_in.get(detail_url(run), {"step": "verify"}).content.decode()


def test_bad_log_filter_is_a_400_with_a_message(logged_in, run):
    response = logged_in.get(detail_url(run), {"lines": "lots", "stream": "stdin"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Some log filters are not valid" in html
    assert "Enter a whole number." in html
    assert "Select a valid choice. stdin is not one of the available choices." in html


def test_a_pending_run_lists_its_steps_as_not_reached_and_polls(logged_in, org, definition):
    instance = make_instance(org, "pending", definition=definition)
    html = logged_in.get(detail_url(instance)).content.decode()
    assert 'data-active="true"' in html
    assert "No step has started yet." in html
    assert "Not reached yet:" in html and "<code>plan</code>, <code>apply</code>, <code>verify</code>" in html
    assert f'data-live-url="{reverse("engine:instance-live", args=[instance.pk])}"' in html
    assert "/static/js/instance_detail.js" in html


def test_live_fragment_has_the_live_parts_only(logged_in, org, definition):
    instance = make_instance(org, "running", definition=definition, started_at=timezone.now(),
                             pause_reason="awaiting_approval")
    make_step(instance, "plan", "waiting", step_type="approval", wait_reason="awaiting_approval",
              started_at=timezone.now())
    response = logged_in.get(reverse("engine:instance-live", args=[instance.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    assert re.findall(r'<section id="([a-z-]+)"[^>]*data-live-part', html) == [
        "instance-header", "progress", "timeline", "outputs"]
    assert 'data-active="true"' in html and "awaiting approval" in html and "so far" in html
    assert "<html" not in html and 'id="log"' not in html and 'id="variables"' not in html
    assert 'id="history"' not in html and "<dialog" not in html  # neither is live


def test_jobs_per_step_are_capped(logged_in, org, definition):
    instance = make_instance(org, "running", definition=definition)
    step = make_step(instance, "plan", "running")
    for index in range(JOBS_PER_STEP + 7):
        make_job(step, f"node-{index:03d}", "succeeded", exit_code=0)
    html = logged_in.get(detail_url(instance)).content.decode()
    assert html.count("<tr data-job=") == JOBS_PER_STEP
    assert f"showing {JOBS_PER_STEP} of {JOBS_PER_STEP + 7}" in html


def test_pause_reason_kill_switch_message(logged_in, org, definition):
    instance = make_instance(org, "paused", definition=definition, pause_reason="kill_switch")
    html = logged_in.get(detail_url(instance)).content.decode()
    assert '<span class="pause-reason">Kill switch active</span>' in html


def test_foreign_instance_is_404(logged_in, other_org):
    foreign = make_instance(other_org, "running", workflow_name="globex-secret-flow")
    for url in (detail_url(foreign), reverse("engine:instance-live", args=[foreign.pk])):
        response = logged_in.get(url)
        assert response.status_code == 404
        assert "globex-secret-flow" not in response.content.decode()


def test_run_again_only_for_those_who_may_run(client, operator, viewer, run):
    client.force_login(viewer)
    assert "Run again" not in client.get(detail_url(run)).content.decode()
    client.force_login(operator)
    html = client.get(detail_url(run)).content.decode()
    assert f'href="{reverse("engine:run", args=[run.definition_id])}">Run again</a>' in html


def test_the_run_page_links_to_its_workflow_definition(logged_in, run, org):
    html = logged_in.get(detail_url(run)).content.decode()
    edit = reverse("workflows:definition-edit", args=[run.definition_id])
    assert re.search(rf'<a href="{edit}"[^>]*>Open workflow definition</a>', html)
    adhoc = make_instance(org, "failed", workflow_name="deleted-since")
    assert "Open workflow definition" not in logged_in.get(detail_url(adhoc)).content.decode()


def test_detail_and_live_queries_do_not_grow_with_steps_and_jobs(logged_in, org, definition,
                                                                  django_assert_max_num_queries):
    instance = make_instance(org, "running", definition=definition)
    step = make_step(instance, "plan", "succeeded")
    make_job(step, "web-1", "succeeded")
    live = reverse("engine:instance-live", args=[instance.pk])
    # 9 + the layout's kill switch banner + the History section's audit events + the nav's approvals badge
    # (groups, count); none of them is in the live parts
    with django_assert_max_num_queries(13):
        assert logged_in.get(detail_url(instance)).status_code == 200
    with django_assert_max_num_queries(7):
        assert logged_in.get(live).status_code == 200
    for step_id in ("apply", "verify"):
        more = make_step(instance, step_id, "running")
        for index in range(20):
            make_job(more, f"node-{index}", "running")
    # 9 + the layout's kill switch banner + the History section's audit events + the nav's approvals badge
    # (groups, count); none of them is in the live parts
    with django_assert_max_num_queries(13):
        assert logged_in.get(detail_url(instance)).status_code == 200
    with django_assert_max_num_queries(7):
        assert logged_in.get(live).status_code == 200
