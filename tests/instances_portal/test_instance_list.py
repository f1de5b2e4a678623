"""The Instances list: badges, columns, error preview, filters, pagination, query count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.engine.models import WorkflowInstance
from apps.engine.states import InstanceStatus, StepStatus
from apps.engine.templatetags.engine_ui import STATUS_STYLES, status_badge
from apps.jobs.models import JobStatus
from tests.instances_portal.data import make_definition, make_instance

pytestmark = pytest.mark.django_db

LIST = reverse("engine:instance-list")


def run_ids(response) -> list[int]:
    return [instance.pk for instance in response.context["page_obj"].object_list]


@pytest.fixture
def logged_in(client, viewer):
    client.force_login(viewer)
    return client


def test_every_status_has_a_tone_and_an_icon():
    statuses = {*InstanceStatus.values, *StepStatus.values, *JobStatus.values}
    assert statuses <= set(STATUS_STYLES)
    expected_tones = {
        "pending": "idle", "queued": "idle", "waiting": "wait", "scheduled": "wait", "running": "active",
        "succeeded": "ok", "failed": "bad", "timeout": "bad", "canceled": "ended", "rejected": "ended",
        "terminated": "ended",
    }
    for status, tone in expected_tones.items():
        assert status_badge(status)["tone"] == tone
    icons = {STATUS_STYLES[status][1] for status in ("pending", "scheduled", "running", "succeeded", "failed",
                                                     "timeout", "canceled", "rejected", "terminated")}
    assert len(icons) == 9  # each of these reads differently without colour


def test_rows_show_columns_badges_and_error_preview(logged_in, org, operator):
    definition = make_definition(org)
    started = timezone.now() - timedelta(minutes=5)
    ok = make_instance(org, "succeeded", definition=definition, version_number=4, triggered_by=operator,
                       started_at=started, finished_at=started + timedelta(seconds=83))
    failed = make_instance(org, "failed", definition=definition, error_class="NonZeroExit",
                           error_message="apply failed on web-1\nTraceback line that stays hidden",
                           started_at=started, finished_at=started + timedelta(seconds=4))
    paused = make_instance(org, "paused", definition=definition, pause_reason="kill_switch", started_at=started)
    response = logged_in.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert run_ids(response) == [paused.pk, failed.pk, ok.pk]
    row = re.search(rf'<tr data-instance="{ok.pk}">(.*?)</tr>', html, re.S).group(1)
    assert f'href="{reverse("engine:instance-detail", args=[ok.pk])}">#{ok.pk}</a>' in row
    assert "patch-web" in row and "v4" in row
    assert 'class="status status-ok" data-status="succeeded"' in row and "✓" in row
    assert "<td>Manual</td>\n          <td>operator</td>" in row  # Triggered by, User
    assert "1 min 23 s" in row
    row = re.search(rf'<tr data-instance="{failed.pk}">(.*?)</tr>', html, re.S).group(1)
    assert 'class="status status-bad" data-status="failed"' in row
    assert '<p class="error-preview"><code>NonZeroExit</code> apply failed on web-1</p>' in row
    assert "Traceback line that stays hidden" not in html
    row = re.search(rf'<tr data-instance="{paused.pk}">(.*?)</tr>', html, re.S).group(1)
    assert 'data-status="paused"' in row and "Kill switch active" in row and "so far" in row


def test_filters_status_workflow_user_and_dates(logged_in, org, operator, owner):
    patch = make_definition(org, "patch-web")
    restart = make_definition(org, "restart-db")
    a = make_instance(org, "failed", definition=patch, triggered_by=operator, created_hours_ago=1)
    b = make_instance(org, "succeeded", definition=patch, triggered_by=owner, created_hours_ago=30)
    c = make_instance(org, "failed", definition=restart, triggered_by=operator, created_hours_ago=24 * 10)
    d = make_instance(org, "running", definition=restart, triggered_by=None, created_hours_ago=24 * 40)

    assert run_ids(logged_in.get(LIST, {"status": "failed"})) == [a.pk, c.pk]
    assert run_ids(logged_in.get(LIST, {"status": ["failed", "running"]})) == [a.pk, c.pk, d.pk]
    assert run_ids(logged_in.get(LIST, {"workflow": restart.pk})) == [c.pk, d.pk]
    assert run_ids(logged_in.get(LIST, {"triggered_by": "operator"})) == [a.pk, c.pk]
    assert run_ids(logged_in.get(LIST, {"range": "24h"})) == [a.pk]
    assert run_ids(logged_in.get(LIST, {"range": "7d"})) == [a.pk, b.pk]
    assert run_ids(logged_in.get(LIST, {"range": "30d"})) == [a.pk, b.pk, c.pk]
    b.refresh_from_db()
    c.refresh_from_db()
    day_of = {instance.pk: instance.created_at.date().isoformat() for instance in (b, c)}
    custom = {"range": "custom", "date_from": day_of[c.pk], "date_to": day_of[c.pk]}
    assert run_ids(logged_in.get(LIST, custom)) == [c.pk]
    assert run_ids(logged_in.get(LIST, {**custom, "date_to": day_of[b.pk]})) == [b.pk, c.pk]
    assert run_ids(logged_in.get(LIST, {"date_from": day_of[b.pk]})) == [a.pk, b.pk]
    # A preset range ignores leftover custom dates.
    assert run_ids(logged_in.get(LIST, {**custom, "range": "24h"})) == [a.pk]
    assert run_ids(logged_in.get(LIST, {"status": "failed", "workflow": patch.pk, "range": "7d"})) == [a.pk]
    html = logged_in.get(LIST, {"status": "failed", "workflow": patch.pk}).content.decode()
    assert '<option value="failed" selected>' in html
    assert f'<option value="{patch.pk}" selected>patch-web</option>' in html


def test_the_forms_empty_choices_mean_any(logged_in, org):
    a, b = make_instance(org, "failed"), make_instance(org, "running")
    blank = {"status": "", "workflow": "", "triggered_by": "", "range": "", "date_from": "", "date_to": ""}
    response = logged_in.get(LIST, blank)
    assert response.status_code == 200
    assert run_ids(response) == [b.pk, a.pk]
    assert run_ids(logged_in.get(LIST, {**blank, "status": ["", "failed"]})) == [a.pk]


def test_invalid_filters_are_a_clear_400(logged_in, org):
    make_instance(org, "failed")
    for params, text in [
        ({"status": "exploded"}, "Select a valid choice. exploded is not one of the available choices."),
        ({"range": "1y"}, "Select a valid choice. 1y is not one of the available choices."),
        ({"workflow": "abc"}, "Enter a whole number."),
        ({"workflow": "-1.5e+273"}, "Enter a whole number."),
        ({"workflow": "9" * 30}, "Ensure this value is less than or equal to 9223372036854775807."),
        ({"range": "custom", "date_from": "yesterday"}, "Enter a valid date."),
    ]:
        response = logged_in.get(LIST, params)
        assert response.status_code == 400
        assert "Some filters are not valid" in response.content.decode()
        assert text in response.content.decode()
        assert run_ids(response) == []


def test_custom_dates_at_the_ends_of_the_calendar_are_not_a_500(logged_in, org):
    run = make_instance(org, "succeeded")
    response = logged_in.get(LIST, {"range": "custom", "date_from": "0001-01-01", "date_to": "9999-12-31"})
    assert response.status_code == 200
    assert run_ids(response) == [run.pk]


def test_only_this_organizations_runs_and_workflows(logged_in, org, other_org):
    own = make_instance(org, "running")
    foreign_definition = make_definition(other_org, "globex-secret-flow")
    make_instance(other_org, "failed", definition=foreign_definition)
    response = logged_in.get(LIST)
    assert run_ids(response) == [own.pk]
    assert "globex-secret-flow" not in response.content.decode()
    assert run_ids(logged_in.get(LIST, {"workflow": foreign_definition.pk})) == []


def test_pagination_keeps_filters(logged_in, org):
    instances = [make_instance(org, "succeeded") for _ in range(55)]
    first = logged_in.get(LIST, {"status": "succeeded"})
    assert len(run_ids(first)) == 50
    assert 'href="?status=succeeded&amp;page=2"' in first.content.decode()
    second = logged_in.get(LIST, {"status": "succeeded", "page": 2})
    assert run_ids(second) == [instance.pk for instance in reversed(instances[:5])]


def test_query_count_does_not_grow_with_rows(client, org, operator, django_assert_max_num_queries):
    client.force_login(operator)
    definition = make_definition(org)
    for _ in range(5):
        make_instance(org, "failed", definition=definition, triggered_by=operator, error_class="Timeout")
    with django_assert_max_num_queries(11) as small:  # 8 + the kill switch banner + the approvals badge (2)
        assert client.get(LIST).status_code == 200
    for _ in range(45):
        make_instance(org, "succeeded", definition=definition, triggered_by=operator)
    with django_assert_max_num_queries(11) as large:
        assert client.get(LIST).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    assert WorkflowInstance.objects.count() == 50


def test_triggered_by_and_user_columns_and_the_trigger_filter(logged_in, org, operator):
    manual = make_instance(org, "succeeded", triggered_by=operator)
    scheduled = make_instance(org, "failed", trigger="schedule")
    html = logged_in.get(LIST).content.decode()
    assert re.findall(r'<th scope="col">([^<]+)</th>', html) == [
        "Run ID", "Workflow", "Status", "Triggered by", "User", "Started", "Duration"]
    row = re.search(rf'<tr data-instance="{scheduled.pk}">(.*?)</tr>', html, re.S).group(1)
    assert '<td>Schedule</td>\n          <td><span class="muted">—</span></td>' in row
    assert '<label for="filter-trigger">Triggered by</label>' in html
    assert '<label for="filter-user">User</label>' in html

    response = logged_in.get(LIST, {"trigger": "schedule"})
    assert run_ids(response) == [scheduled.pk]
    assert '<option value="schedule" selected>Schedule</option>' in response.content.decode()
    assert run_ids(logged_in.get(LIST, {"trigger": ["", "manual"]})) == [manual.pk]
    assert run_ids(logged_in.get(LIST, {"trigger": "", "triggered_by": "operator"})) == [manual.pk]
    assert logged_in.get(LIST, {"trigger": "telepathy"}).status_code == 400


def test_the_workflow_name_links_to_its_definition(logged_in, org):
    definition = make_definition(org, "patch-web")
    linked = make_instance(org, "succeeded", definition=definition)
    adhoc = make_instance(org, "failed", workflow_name="deleted-since")  # its definition is gone
    html = logged_in.get(LIST).content.decode()
    row = re.search(rf'<tr data-instance="{linked.pk}">(.*?)</tr>', html, re.S).group(1)
    edit = reverse("workflows:definition-edit", args=[definition.pk])
    assert re.search(rf'<a href="{edit}"[^>]*>patch-web</a>', row)
    row = re.search(rf'<tr data-instance="{adhoc.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "deleted-since" in row and "/workflows/" not in row
    assert logged_in.get(edit).status_code == 200  # a viewer may open it
