"""The audit page: this organization's events only, filtered and paginated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db

AUDIT = reverse("audit:event-list")


@pytest.fixture
def events(org, other_org, operator, owner, acme, globex):
    audit_record(actor=operator, action="host.update", target=acme.hosts["web-2"])
    audit_record(actor=owner, action="credential.create", organization=org, data={"name": "deploy-key"})
    audit_record(actor=owner, action="host.delete", organization=other_org)
    return AuditEvent.objects.filter(organization=org)


def actions(response) -> list[str]:
    return [event.action for event in response.context["page_obj"].object_list]


@pytest.fixture
def logged_in(client, operator):
    client.force_login(operator)
    return client


def test_audit_page_lists_this_organizations_events_newest_first(logged_in, events):
    response = logged_in.get(AUDIT)
    assert response.status_code == 200
    assert actions(response) == ["credential.create", "host.update", "host.create"]
    assert "globex.secret-plan" not in response.content.decode()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "owner"}, ["credential.create"]),
        ({"actor": "nobody"}, []),
        ({"action_prefix": "host."}, ["host.update", "host.create"]),
        ({"target_type": "inventory.host"}, ["host.update", "host.create"]),
        ({"action_prefix": "host.delete"}, []),  # globex's event
    ],
)
def test_audit_filters(logged_in, events, params, expected):
    assert actions(logged_in.get(AUDIT, params)) == expected


def test_audit_date_range_is_whole_days(logged_in, org, owner, monkeypatch):
    for when, action in [
        (datetime(2024, 3, 10, 23, 59, tzinfo=UTC), "old.one"),
        (datetime(2024, 3, 11, 0, 0, tzinfo=UTC), "old.two"),
        (datetime(2024, 3, 12, 23, 59, tzinfo=UTC), "old.three"),
    ]:
        monkeypatch.setattr("django.utils.timezone.now", lambda when=when: when)
        audit_record(actor=owner, action=action, organization=org)
    monkeypatch.undo()
    audit_record(actor=owner, action="today", organization=org)
    assert actions(logged_in.get(AUDIT, {"date_from": "2024-03-11", "date_to": "2024-03-12"})) == [
        "old.three",
        "old.two",
    ]
    assert actions(logged_in.get(AUDIT, {"date_to": "2024-03-10"})) == ["old.one"]
    today = datetime.now(UTC).date()
    assert actions(logged_in.get(AUDIT, {"date_from": today.isoformat()})) == ["today"]
    assert actions(logged_in.get(AUDIT, {"date_from": (today + timedelta(days=1)).isoformat()})) == []
    # The calendar's first and last days: no day before or after them to compute (was a 500).
    assert actions(logged_in.get(AUDIT, {"date_from": "0001-01-01", "date_to": "9999-12-31"})) == [
        "today", "old.three", "old.two", "old.one"]


def test_bad_date_is_a_clear_400(logged_in, events):
    response = logged_in.get(AUDIT, {"date_from": "yesterday"})
    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()


def test_audit_page_paginates(logged_in, org, operator):
    for index in range(60):
        audit_record(actor=operator, action=f"test.bulk{index}", organization=org)
    response = logged_in.get(AUDIT, {"action_prefix": "test."})
    assert len(actions(response)) == 50
    assert 'href="?action_prefix=test.&amp;page=2"' in response.content.decode()
    assert len(actions(logged_in.get(AUDIT, {"action_prefix": "test.", "page": 2}))) == 10


def test_audit_query_count_is_pinned(logged_in, org, operator, django_assert_max_num_queries):
    for index in range(40):
        audit_record(actor=operator, action=f"test.bulk{index}", organization=org)
    with django_assert_max_num_queries(10):  # 7 + the kill switch banner + the nav's approvals badge (2)
        assert logged_in.get(AUDIT).status_code == 200
