"""Two operators pause (or resume) at the same moment: one engagement, one release, one
audit event each (real Postgres, threads with their own connections)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.automation.models import KillSwitch
from apps.automation.services import kill_switch_engage, kill_switch_release

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 5
RACERS = 4


def _race(call: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(RACERS)
    results: list[Any] = [None] * RACERS

    def racer(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=racer, args=(index,)) for index in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_simultaneous_pauses_and_resumes_act_once(org, owner):
    for round_ in range(ROUNDS):
        engaged = _race(lambda: kill_switch_engage(organization=org, actor=owner, reason=f"race {round_}"))
        assert all(isinstance(result, KillSwitch) for result in engaged), engaged
        assert len({switch.pk for switch in engaged}) == 1
        released = _race(lambda: kill_switch_release(organization=org, actor=owner, reason="race"))
        assert sorted(len(result) for result in released) == [0] * (RACERS - 1) + [1], released

    assert KillSwitch.objects.count() == ROUNDS
    assert not KillSwitch.objects.filter(released_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="automation.pause").count() == ROUNDS
    assert AuditEvent.objects.filter(action="automation.resume").count() == ROUNDS
