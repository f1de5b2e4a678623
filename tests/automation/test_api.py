"""/api/automation/: status, pause and resume (DESIGN §6 kill switch, §7 permissions)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.automation.models import KillSwitch
from apps.automation.services import kill_switch_engage, kill_switches_expire

pytestmark = pytest.mark.django_db
STATUS, PAUSE, RESUME = "/api/automation/status/", "/api/automation/pause/", "/api/automation/resume/"


@pytest.fixture
def owner_api(api, owner, org):
    return api(owner, org)


def test_status_when_nothing_is_paused(api, viewer, org):
    response = api(viewer, org).get(STATUS)
    assert response.status_code == 200
    assert response.json() == {"engaged": False, "switches": [], "history": []}


def test_pause_status_and_resume(owner_api, viewer, org, api):
    paused = owner_api.post(PAUSE, {"reason": "incident 42"}, format="json")

    assert paused.status_code == 200, paused.json()
    body = paused.json()
    assert body["engaged"] is True
    switch = body["switches"][0]
    assert {key: switch[key] for key in ("scope", "state", "workflow", "workflow_name", "reason", "until",
                                         "engaged_by", "released_at")} == {
        "scope": "organization", "state": "engaged", "workflow": None, "workflow_name": None,
        "reason": "incident 42", "until": None, "engaged_by": "owner", "released_at": None}
    assert switch["engaged_at"]
    assert body["history"] == body["switches"]
    assert api(viewer, org).get(STATUS).json() == body  # settings.view is enough to look

    resumed = owner_api.post(RESUME, {"reason": "fixed"}, format="json")

    assert resumed.status_code == 200
    body = resumed.json()
    assert (body["engaged"], body["switches"]) == (False, [])
    (entry,) = body["history"]
    assert (entry["state"], entry["released_by"], entry["release_reason"]) == ("released", "owner", "fixed")
    assert entry["released_at"]
    events = AuditEvent.objects.filter(action__startswith="automation.").order_by("id")
    assert [(e.action, e.actor_username, e.data["reason"]) for e in events] == [
        ("automation.pause", "owner", "incident 42"), ("automation.resume", "owner", "fixed")]


def test_repeats_are_harmless(owner_api):
    first = owner_api.post(PAUSE, {"reason": "incident"}, format="json").json()
    second = owner_api.post(PAUSE, {"reason": "incident"}, format="json")
    assert second.status_code == 200
    assert second.json()["switches"] == first["switches"]
    assert KillSwitch.objects.count() == 1

    assert owner_api.post(RESUME, {}, format="json").status_code == 200
    again = owner_api.post(RESUME, {}, format="json")
    assert (again.status_code, again.json()["engaged"]) == (200, False)
    assert AuditEvent.objects.filter(action="automation.resume").count() == 1


def test_workflow_scope(owner_api, patch_web, restart_db):
    by_name = owner_api.post(PAUSE, {"reason": "flaky", "scope": "workflow", "workflow": "patch-web"},
                             format="json")
    implied = owner_api.post(PAUSE, {"reason": "flaky", "workflow": restart_db.pk}, format="json")

    assert by_name.status_code == 200 and implied.status_code == 200
    switches = implied.json()["switches"]
    assert sorted((s["scope"], s["workflow"], s["workflow_name"]) for s in switches) == [
        ("workflow", patch_web.pk, "patch-web"), ("workflow", restart_db.pk, "restart-db")]

    resumed = owner_api.post(RESUME, {"scope": "workflow", "workflow": patch_web.pk}, format="json")
    assert [s["workflow_name"] for s in resumed.json()["switches"]] == ["restart-db"]
    untouched = owner_api.post(RESUME, {"scope": "organization"}, format="json")  # no org-wide switch
    assert [s["workflow_name"] for s in untouched.json()["switches"]] == ["restart-db"]


def test_organization_switch_is_listed_first(owner_api, patch_web):
    owner_api.post(PAUSE, {"reason": "flaky", "workflow": "patch-web"}, format="json")
    body = owner_api.post(PAUSE, {"reason": "incident"}, format="json").json()
    assert [s["scope"] for s in body["switches"]] == ["organization", "workflow"]
    assert [s["scope"] for s in body["history"]] == ["organization", "workflow"]  # newest first


def test_until(owner_api, org):
    until = timezone.now() + timedelta(hours=2)
    body = owner_api.post(PAUSE, {"reason": "window", "until": until.isoformat()}, format="json").json()
    assert body["switches"][0]["until"] == until.isoformat().replace("+00:00", "Z")

    KillSwitch.objects.update(until=timezone.now() - timedelta(seconds=1))
    body = owner_api.get(STATUS).json()
    assert (body["engaged"], body["history"][0]["state"]) == (False, "expired")
    kill_switches_expire()
    entry = owner_api.get(STATUS).json()["history"][0]
    assert (entry["state"], entry["released_by"], entry["release_reason"]) == ("released", None, "until reached")


@pytest.mark.parametrize(("payload", "field"), [
    ({}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": None}, "reason"),
    ({"reason": "x" * 2001}, "reason"),
    ({"reason": 42.5, "scope": "everything"}, "scope"),
    ({"reason": "r", "scope": "workflow"}, "workflow"),
    ({"reason": "r", "scope": "organization", "workflow": "patch-web"}, "workflow"),
    ({"reason": "r", "workflow": {"id": 1}}, "workflow"),
    ({"reason": "r", "workflow": True}, "workflow"),
    ({"reason": "r", "until": "next tuesday"}, "until"),
    ({"reason": "r", "paused": True}, "paused"),
])
def test_pause_input_errors_are_400(owner_api, patch_web, payload, field):
    response = owner_api.post(PAUSE, payload, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid" and field in body["errors"], body
    assert not KillSwitch.objects.exists()


def test_until_in_the_past_is_400(owner_api):
    response = owner_api.post(PAUSE, {"reason": "r", "until": "2001-01-01T00:00:00Z"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "until_in_past")


@pytest.mark.parametrize("payload", [{"scope": "workflow"}, {"reason": ["a"]}, {"whatever": 1}, {"workflow": []}])
def test_resume_input_errors_are_400(owner_api, payload):
    assert owner_api.post(RESUME, payload, format="json").status_code == 400


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', "null", '{"reason": NaN}'])
def test_malformed_bodies_are_400(owner_api, body):
    for url in (PAUSE, RESUME):
        response = owner_api.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, body, response.content)
        assert response.json()["detail"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.EDITOR])
def test_only_settings_manage_may_pause_or_resume(api, org, owner, make_member, role):
    client = api(make_member(org, role), org)
    kill_switch_engage(organization=org, actor=owner, reason="incident")

    for url, payload in ((PAUSE, {"reason": "mine"}), (RESUME, {"reason": "mine"})):
        response = client.post(url, payload, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied"), url
        assert "settings.manage" in response.json()["detail"]
    assert client.get(STATUS).status_code == 200
    assert KillSwitch.objects.filter(released_at__isnull=True).count() == 1


def test_admin_may_pause(api, org, make_member):
    response = api(make_member(org, Role.ADMIN), org).post(PAUSE, {"reason": "admin"}, format="json")
    assert response.status_code == 200


def test_anonymous_is_refused(client):
    assert client.get(STATUS).status_code in (401, 403)
    assert client.post(PAUSE, {"reason": "x"}, content_type="application/json").status_code in (401, 403)


def test_another_organization_is_404_and_never_mixed(api, org, other_org, owner, make_member, foreign_workflow):
    globex_owner = make_member(other_org, Role.OWNER, "globex-owner")
    kill_switch_engage(organization=other_org, actor=globex_owner, reason="globex secret incident")

    mine = api(owner, org)
    assert mine.get(STATUS).json() == {"engaged": False, "switches": [], "history": []}
    for ref in (foreign_workflow.pk, foreign_workflow.name):
        response = mine.post(PAUSE, {"reason": "r", "workflow": ref}, format="json")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
        assert mine.post(RESUME, {"workflow": ref}, format="json").status_code == 404
    assert not KillSwitch.objects.filter(organization=org).exists()

    outsider = api(owner)
    outsider.defaults["HTTP_X_ORGANIZATION"] = other_org.slug
    assert outsider.get(STATUS).status_code == 404
    assert outsider.post(PAUSE, {"reason": "r"}, format="json").status_code == 404
    assert outsider.post(RESUME, {}, format="json").status_code == 404
    assert KillSwitch.objects.filter(organization=other_org, released_at__isnull=True).count() == 1


def test_history_is_the_latest_engagements(owner_api, org, owner):
    from apps.automation.selectors import HISTORY_LENGTH
    from apps.automation.services import kill_switch_release

    for index in range(HISTORY_LENGTH + 3):
        kill_switch_engage(organization=org, actor=owner, reason=f"round {index}")
        kill_switch_release(organization=org, actor=owner)

    history = owner_api.get(STATUS).json()["history"]

    assert len(history) == HISTORY_LENGTH
    assert history[0]["reason"] == f"round {HISTORY_LENGTH + 2}"
    assert {entry["state"] for entry in history} == {"released"}
