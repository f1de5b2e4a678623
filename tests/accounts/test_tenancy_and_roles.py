import io

import pytest
from django.core.management import call_command

from apps.accounts.models import ApiToken, Membership
from apps.accounts.roles import ALL_PERMISSIONS, Role, permissions_for
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_role_permission_map_matches_design():
    assert permissions_for(Role.VIEWER) == {"workflows.view", "automation.view", "settings.view"}
    assert permissions_for(Role.OPERATOR) == permissions_for(Role.VIEWER) | {"workflows.execute"}
    assert permissions_for(Role.EDITOR) == permissions_for(Role.OPERATOR) | {
        "workflows.create", "workflows.edit", "workflows.delete"}
    assert permissions_for(Role.ADMIN) == permissions_for(Role.OWNER) == ALL_PERMISSIONS
    assert {"automation.manage", "settings.manage"} <= ALL_PERMISSIONS
    assert permissions_for(None) == set()


def test_single_org_user_needs_no_header(api, operator, org):
    response = api(operator).get("/api/audit/")
    assert response.status_code == 200


def test_user_in_two_orgs_without_header_gets_400(api, operator, other_org):
    Membership.objects.create(organization=other_org, user=operator, role=Role.VIEWER)
    response = api(operator).get("/api/audit/")
    assert response.status_code == 400
    assert response.json()["code"] == "organization_required"
    assert "X-Organization" in response.json()["detail"]
    assert api(operator, other_org).get("/api/audit/").status_code == 200


def test_foreign_org_header_is_404(api, operator, other_org):
    response = api(operator, other_org).get("/api/audit/")
    assert response.status_code == 404


def test_no_token_is_401_and_bad_token_is_401(client, db):
    assert client.get("/api/audit/").status_code in (401, 403)
    response = client.get("/api/audit/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_create_api_token_prints_only_the_token(operator):
    out = io.StringIO()
    call_command("create_api_token", "operator", stdout=out)
    key = out.getvalue().strip()
    assert len(key) > 30 and "\n" not in key
    token = ApiToken.objects.get(user=operator)
    assert token.digest != key and key.startswith(token.prefix)


def test_superuser_creates_org_and_members(api, superuser):
    client = api(superuser)
    response = client.post("/api/organizations/", {"name": "Initech", "slug": "initech"}, format="json")
    assert response.status_code == 201, response.content
    response = client.post(
        "/api/organizations/initech/members/",
        {"username": "peter", "password": "a-long-pass-phrase-9", "role": "editor"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "editor"
    membership = Membership.objects.get(user__username="peter", organization__slug="initech")
    assert membership.user.check_password("a-long-pass-phrase-9")
    assert AuditEvent.objects.filter(action="membership.set", organization__slug="initech").exists()
    # setting the role again updates, never duplicates
    client.post("/api/organizations/initech/members/", {"username": "peter", "role": "viewer"}, format="json")
    assert Membership.objects.get(user__username="peter").role == "viewer"


def test_non_superuser_cannot_create_org(api, owner):
    response = api(owner).post("/api/organizations/", {"name": "X", "slug": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_operator_cannot_manage_members(api, operator, org):
    response = api(operator).post(
        f"/api/organizations/{org.slug}/members/", {"username": "eve", "role": "owner"}, format="json"
    )
    assert response.status_code == 403


def test_org_admin_manages_own_org_members_only(api, owner, org, other_org):
    response = api(owner).post(
        f"/api/organizations/{org.slug}/members/", {"username": "bob", "role": "operator"}, format="json"
    )
    assert response.status_code == 200
    response = api(owner).post(
        f"/api/organizations/{other_org.slug}/members/", {"username": "bob", "role": "operator"}, format="json"
    )
    assert response.status_code == 404


def test_last_owner_cannot_be_demoted(api, owner, org):
    response = api(owner).post(
        f"/api/organizations/{org.slug}/members/", {"username": "owner", "role": "viewer"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"


def test_audit_events_are_append_only(owner, org):
    from django.db import connection, transaction

    from apps.audit.services import audit_record

    event = audit_record(actor=owner, action="test.event", organization=org)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert connection.vendor == "postgresql"
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"
