"""The Run page: form, host search, groups, variables, scheduling, errors, permissions."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.engine.context import decrypt_sensitive
from apps.engine.models import Timer, TimerKind, Trigger, WorkflowInstance
from tests.instances_portal.data import SECRET, SECRET_DEFAULT, make_definition

pytestmark = pytest.mark.django_db


def run_url(definition) -> str:
    return reverse("engine:run", args=[definition.pk])


@pytest.fixture
def logged_in(client, operator):
    client.force_login(operator)
    return client


def test_form_shows_declared_variables_sensitive_ones_masked(logged_in, definition, hosts):
    response = logged_in.get(run_url(definition))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<input type="text" name="var.package"[^>]*placeholder="openssl"', html)
    assert re.search(r'<input type="text" name="var.batch"[^>]*inputmode="decimal"', html)
    assert re.search(r'<input type="password" name="var.api_token"', html)
    assert re.search(r'<input type="password" name="var.vault_key"', html)
    assert SECRET_DEFAULT not in html
    # Groups of this organization only, with their sizes; the first hosts are listed.
    assert "web <span class=\"muted\">(2 hosts)</span>" in html
    assert "globex-web" not in html
    assert [h for h in ("db-1.acme.test", "web-1.acme.test", "web-2.acme.test") if h in html] == [
        "db-1.acme.test", "web-1.acme.test", "web-2.acme.test"]
    assert "web-9.globex.test" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("10.0.1.", ["web-1.acme.test", "web-2.acme.test"]),
        ("10.0.2", ["db-1.acme.test"]),
        ("WEB-2", ["web-2.acme.test"]),
        ("10.0.1.99", []),  # the other organization's host
        ("", ["db-1.acme.test", "web-1.acme.test", "web-2.acme.test"]),
    ],
)
def test_host_search_fragment_by_hostname_or_ip_prefix(logged_in, hosts, query, expected):
    response = logged_in.get(reverse("engine:run-hosts"), {"q": query})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    found = re.findall(r'data-hostname="([^"]+)"', response.content.decode())
    assert found == expected
    if not expected and query:
        assert f"No hosts match “{query}”" in response.content.decode()


def test_host_search_says_when_there_are_more(logged_in, org):
    from tests.inventory.factories import HostFactory

    for index in range(25):
        HostFactory(organization=org, hostname=f"node-{index:02d}.acme.test")
    html = logged_in.get(reverse("engine:run-hosts"), {"q": "node"}).content.decode()
    assert len(re.findall(r'data-hostname="', html)) == 20
    assert "the first 20, refine the search" in html


def test_run_with_hosts_groups_and_variables_starts_an_instance(logged_in, operator, definition, hosts):
    response = logged_in.post(run_url(definition), {
        "action": "run",
        "hosts": [hosts["db-1"].pk, hosts["web-1"].pk, hosts["db-1"].pk],
        "groups": [hosts["web"].pk],
        "var.package": "curl",
        "var.batch": "5",
        "var.api_token": SECRET,
        "var.vault_key": "",
        "schedule_date": "2001-01-01",  # ignored: Run now
    })
    instance = WorkflowInstance.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("engine:instance-detail", args=[instance.pk])
    assert instance.status == "pending"
    assert instance.trigger == Trigger.MANUAL
    assert instance.triggered_by == operator
    assert instance.definition == definition
    assert [t["hostname"] for t in instance.targets] == ["db-1.acme.test", "web-1.acme.test", "web-2.acme.test"]
    assert instance.variables == {"package": "curl", "batch": 5}
    assert decrypt_sensitive(instance) == {"api_token": SECRET, "vault_key": SECRET_DEFAULT}
    assert SECRET not in str(instance.variables)
    detail = logged_in.get(response["Location"])
    assert f"Run #{instance.pk} of patch-web started." in detail.content.decode()


def test_empty_fields_keep_the_declared_defaults(logged_in, definition, hosts):
    logged_in.post(run_url(definition), {"action": "run", "hosts": [hosts["web-2"].pk]})
    instance = WorkflowInstance.objects.get()
    assert instance.variables == {"package": "openssl", "batch": 3}
    assert decrypt_sensitive(instance) == {"api_token": None, "vault_key": SECRET_DEFAULT}


def test_schedule_for_later_in_the_browsers_time_zone(logged_in, definition, hosts):
    day = (timezone.now() + timedelta(days=2)).date()
    response = logged_in.post(run_url(definition), {
        "action": "schedule", "hosts": [hosts["web-1"].pk], "schedule_date": day.isoformat(),
        "schedule_time": "09:30", "timezone": "Europe/Berlin",
    })
    assert response.status_code == 302
    instance = WorkflowInstance.objects.get()
    expected = datetime.combine(day, datetime.strptime("09:30", "%H:%M").time(), ZoneInfo("Europe/Berlin"))
    assert instance.status == "scheduled"
    assert instance.scheduled_for == expected
    assert Timer.objects.filter(instance=instance, kind=TimerKind.START, due_at=expected).exists()
    page = logged_in.get(response["Location"]).content.decode()
    assert f"is scheduled for {timezone.localtime(expected):%Y-%m-%d %H:%M} (UTC)" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schedule_date": "", "schedule_time": "10:00"}, "Choose a date and a time to schedule the run."),
        ({"schedule_date": "2020-01-01", "schedule_time": "10:00"}, "has already passed: choose a time in the future."),
        ({"schedule_date": "2999-01-01", "schedule_time": "10:00", "timezone": "Mars/Olympus"},
         "Unknown time zone &#x27;Mars/Olympus&#x27;."),
        ({"schedule_date": "not-a-date", "schedule_time": "10:00"}, "Enter a valid date."),
    ],
)
def test_bad_schedule_is_a_400_beside_the_form(logged_in, definition, hosts, data, message):
    response = logged_in.post(run_url(definition), {"action": "schedule", "hosts": [hosts["web-1"].pk], **data})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "The run was not started" in html
    assert not WorkflowInstance.objects.exists()


def test_service_errors_are_shown_and_secrets_never_echoed(logged_in, definition, hosts):
    response = logged_in.post(run_url(definition), {
        "action": "run", "hosts": [hosts["web-1"].pk], "var.package": "curl", "var.api_token": SECRET,
        "var.bogus": "1",
    })
    html = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in html
    assert "Unknown variable(s): bogus." in html
    assert SECRET not in html
    assert 'value="curl"' in html  # plain values are kept for the next try
    # The chosen host is still selected.
    assert re.search(rf'<input type="checkbox" name="hosts" value="{hosts["web-1"].pk}" checked>', html)
    assert not WorkflowInstance.objects.exists()


def test_foreign_host_or_group_is_refused(logged_in, definition, hosts, other_org):
    foreign = hosts["foreign"]
    response = logged_in.post(run_url(definition), {"action": "run", "hosts": [foreign.pk]})
    assert response.status_code == 400
    assert f"Unknown host(s) or group(s): {foreign.pk}." in response.content.decode()
    assert foreign.hostname not in response.content.decode()
    response = logged_in.post(run_url(definition), {"action": "run", "groups": ["globex-web"]})
    assert response.status_code == 400
    assert not WorkflowInstance.objects.exists()


@pytest.mark.parametrize("value", ["three", "1e999", "NaN", "-Infinity", "[1]", "true"])
def test_typed_variable_must_parse(logged_in, definition, hosts, value):
    response = logged_in.post(run_url(definition), {"action": "run", "var.batch": value})
    assert response.status_code == 400
    assert "Enter a number." in response.content.decode()
    assert not WorkflowInstance.objects.exists()


def test_list_and_object_variables_are_json(logged_in, org, hosts):
    definition = make_definition(org, "typed", variables=[
        {"name": "packages", "default": ["openssl"]}, {"name": "limits", "default": {"cpu": 1}},
        {"name": "reboot", "default": False}])
    html = logged_in.get(run_url(definition)).content.decode()
    assert re.search(r'<textarea name="var.packages"[^>]*placeholder="\[&quot;openssl&quot;\]"', html)
    assert '<option value="" selected>Default (false)</option>' in html
    response = logged_in.post(run_url(definition), {"var.packages": '{"a": 1}', "var.limits": "[]"})
    assert response.status_code == 400
    assert "Enter a JSON list, e.g. [&quot;a&quot;, &quot;b&quot;]." in response.content.decode()
    assert "Enter a JSON object" in response.content.decode()
    response = logged_in.post(run_url(definition), {
        "var.packages": '["curl", "jq"]', "var.limits": '{"cpu": 2}', "var.reboot": "true"})
    assert response.status_code == 302
    assert WorkflowInstance.objects.get().variables == {"packages": ["curl", "jq"], "limits": {"cpu": 2},
                                                        "reboot": True}


@pytest.mark.parametrize(
    "url",
    [
        "/instances/99999999999999999999999/",
        "/instances/99999999999999999999999/live/",
        "/workflows/99999999999999999999999/run/",
        "/instances/run/?workflow=99999999999999999999999",
        "/instances/run/?workflow=abc",
    ],
)
def test_out_of_range_ids_are_404(logged_in, url):
    assert logged_in.get(url).status_code == 404


@pytest.mark.parametrize("data", [
    {"hosts": ["99999999999999999999999"]}, {"groups": ["99999999999999999999999"]}, {"hosts": ["no-such-host"]},
    {"hosts": ["²"]}, {"action": "bogus"},
])
def test_malformed_run_input_is_a_400(logged_in, definition, hosts, data):
    assert logged_in.post(run_url(definition), data).status_code == 400
    assert not WorkflowInstance.objects.exists()


def test_inactive_definition_cannot_run(logged_in, org, hosts):
    definition = make_definition(org, "retired", is_active=False)
    page = logged_in.get(run_url(definition))
    assert "This workflow is not active, so it cannot be run." in page.content.decode()
    assert re.search(r'<button type="submit" name="action" value="run" disabled>', page.content.decode())
    response = logged_in.post(run_url(definition), {"action": "run", "hosts": [hosts["web-1"].pk]})
    assert response.status_code == 409
    assert "Workflow &#x27;retired&#x27; is not active." in response.content.decode()
    assert not WorkflowInstance.objects.exists()


def test_viewer_may_not_open_or_post_the_run_page(client, viewer, definition, hosts):
    client.force_login(viewer)
    assert client.get(run_url(definition)).status_code == 403
    assert client.post(run_url(definition), {"action": "run", "hosts": [hosts["web-1"].pk]}).status_code == 403
    assert client.get(reverse("engine:run-hosts"), {"q": "web"}).status_code == 403
    assert client.get(reverse("engine:run-choose")).status_code == 403
    assert not WorkflowInstance.objects.exists()
    # ...but may see the runs.
    assert client.get(reverse("engine:instance-list")).status_code == 200
    assert "Run a workflow" not in client.get(reverse("engine:instance-list")).content.decode()


def test_foreign_definition_is_404(logged_in, other_org, hosts):
    foreign = make_definition(other_org, "globex-only")
    assert logged_in.get(run_url(foreign)).status_code == 404
    assert logged_in.post(run_url(foreign), {"action": "run"}).status_code == 404
    assert logged_in.get(reverse("engine:run-choose"), {"workflow": foreign.pk}).status_code == 404
    assert not WorkflowInstance.objects.exists()


def test_anonymous_is_sent_to_login(client, definition):
    response = client.get(run_url(definition))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_run_choose_lists_workflows_and_redirects(logged_in, org, definition):
    make_definition(org, "retired", is_active=False)
    html = logged_in.get(reverse("engine:run-choose")).content.decode()
    assert f'href="{run_url(definition)}"' in html
    assert "inactive" in html
    response = logged_in.get(reverse("engine:run-choose"), {"workflow": definition.pk})
    assert response.status_code == 302
    assert response["Location"] == run_url(definition)


def test_the_run_page_keeps_its_url_and_belongs_to_the_workflows_section(logged_in, definition):
    """The run page is the engine's (issue 14) but is addressed from its definition, at the
    same URL, and the navigation shows it under Workflows, as before."""
    url = f"/workflows/{definition.pk}/run/"
    assert run_url(definition) == url
    html = logged_in.get(url).content.decode()
    assert f'<a href="{reverse("workflows:definition-list")}" aria-current="page">Workflows</a>' in html
    assert f'<a href="{reverse("engine:instance-list")}">Instances</a>' in html
