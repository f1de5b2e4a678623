"""The host picker searches as the user types, so its conditions must match the indexes
of migration 0002 expression for expression; otherwise Postgres can only scan.

Whether the planner prefers an index depends on the table's size (below a few ten
thousand hosts a scan is cheaper), so these tests forbid sequential scans and check that
the indexes can serve the exact SQL the selectors emit.
"""

import pytest
from django.db import connection

from apps.inventory.models import Host
from apps.inventory.selectors import host_search, hosts_with_label
from tests.inventory.factories import HostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_seqscan(org):
    HostFactory.create_batch(5, organization=org, labels=["rack-1"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # until the test's transaction ends


def test_search_is_served_by_the_trigram_and_ip_prefix_indexes(no_seqscan):
    plan = host_search(Host.objects.all(), "node-0123").explain()

    assert "BitmapOr" in plan, plan
    assert "host_hostname_trgm" in plan, plan
    assert "host_ip_prefix" in plan, plan


def test_label_filter_is_served_by_the_gin_index(no_seqscan):
    plan = hosts_with_label(Host.objects.all(), "rack-1").explain()

    assert "host_labels_gin" in plan, plan

