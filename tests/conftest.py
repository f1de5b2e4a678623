"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.accounts.roles import Role
from apps.accounts.services import api_token_create
from tests.celery_worker import engine_worker, settle_after_other_tests, worker  # noqa: F401 (fixtures)
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "pw-for-tests-1"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Runs before the test's fixtures are torn down (and its tables flushed)."""
    settle_after_other_tests(item)


@pytest.fixture
def org(db):
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def other_org(db):
    return OrganizationFactory(slug="globex", name="Globex")


@pytest.fixture
def make_member(db) -> Callable:
    def make(organization, role: str = Role.OPERATOR, username: str | None = None):
        kwargs = {"username": username} if username else {}
        user = UserFactory(**kwargs)
        MembershipFactory(organization=organization, user=user, role=role)
        return user

    return make


@pytest.fixture
def owner(org, make_member):
    return make_member(org, Role.OWNER, "owner")


@pytest.fixture
def operator(org, make_member):
    return make_member(org, Role.OPERATOR, "operator")


@pytest.fixture
def viewer(org, make_member):
    return make_member(org, Role.VIEWER, "viewer")


@pytest.fixture
def superuser(db):
    user = UserFactory(username="root", is_superuser=True, is_staff=True)
    return user


@pytest.fixture
def api() -> Callable[..., APIClient]:
    """api(user, org=None): a client authenticated with a real API token."""

    def make(user, organization=None) -> APIClient:
        client = APIClient()
        _, key = api_token_create(user=user, name="tests")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        if organization is not None:
            client.defaults["HTTP_X_ORGANIZATION"] = organization.slug
        return client

    return make
