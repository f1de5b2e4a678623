"""Approve and reject at the same moment on one request: exactly one wins (real Postgres,
two threads, each with its own connection)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from apps.accounts.roles import Role
from apps.approvals.services import approval_respond
from apps.audit.models import AuditEvent
from apps.core.errors import ApplicationError

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 10


def _race(calls: list[dict[str, Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def answer(index: int, kwargs: dict[str, Any]) -> None:
        try:
            barrier.wait()
            results[index] = approval_respond(**kwargs)
        except ApplicationError as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(i, kwargs)) for i, kwargs in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_approve_versus_reject_exactly_one_wins(org, owner, operator, make_member, make_approval):
    admin = make_member(org, Role.ADMIN, "erin")
    for _ in range(ROUNDS):
        approval = make_approval(started_by=owner)
        approve = {"approval_id": approval.pk, "actor": operator, "organization": org, "approve": True}
        reject = {"approval_id": approval.pk, "actor": admin, "organization": org, "approve": False,
                  "comment": "race"}

        results = _race([approve, reject])

        errors = [r for r in results if isinstance(r, ApplicationError)]
        assert len(errors) == 1, results
        assert (errors[0].status_code, errors[0].code) == (409, "approval_resolved")
        approval.refresh_from_db()
        responses = list(approval.responses.values_list("approve", flat=True))
        assert len(responses) == 1
        assert approval.status == ("approved" if responses[0] else "rejected")
        assert approval.resolved_at is not None
        assert AuditEvent.objects.filter(action="approval.respond", target_id=str(approval.pk)).count() == 1
