from __future__ import annotations

import pytest

from tests.instances_portal.data import make_definition
from tests.inventory.factories import HostFactory, HostGroupFactory


@pytest.fixture
def hosts(org, other_org) -> dict:
    web = HostGroupFactory(organization=org, name="web")
    made = {
        "web-1": HostFactory(organization=org, hostname="web-1.acme.test", primary_ip="10.0.1.11", groups=[web]),
        "web-2": HostFactory(organization=org, hostname="web-2.acme.test", primary_ip="10.0.1.12", groups=[web]),
        "db-1": HostFactory(organization=org, hostname="db-1.acme.test", primary_ip="10.0.2.21"),
        "foreign": HostFactory(organization=other_org, hostname="web-9.globex.test", primary_ip="10.0.1.99"),
    }
    HostGroupFactory(organization=other_org, name="globex-web")
    return {**made, "web": web}


@pytest.fixture
def definition(org):
    return make_definition(org)
