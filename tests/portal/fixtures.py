"""Fixtures shared by the portal and browser tests (imported by both conftests)."""

from __future__ import annotations

import pytest

from tests.portal.data import World, build_acme, build_globex, make_member_of_both


@pytest.fixture
def acme(org) -> World:
    return build_acme(org)


@pytest.fixture
def globex(other_org) -> World:
    return build_globex(other_org)


@pytest.fixture
def member_of_both(org, other_org):
    return make_member_of_both(org, other_org)
