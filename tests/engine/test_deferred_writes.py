"""apps.engine.states: the deferred writes of an advance pass land as one UPDATE per model."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.engine.models import StepExecution, WorkflowInstance
from apps.engine.states import deferred_writes, save_fields, update_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def steps(org) -> list[StepExecution]:
    instance = WorkflowInstance.objects.create(organization=org, workflow_name="deploy", snapshot={})
    return [
        StepExecution.objects.create(instance=instance, step_id=f"s{n}", step_type="set", output={"old": n},
                                     started_at=timezone.now())
        for n in range(3)
    ]


def test_every_row_gets_its_own_values_of_every_type(steps):
    finished = dt.datetime(2026, 12, 6, 3, 4, 5, 678901, tzinfo=dt.UTC)
    first, second, third = steps
    first.status, first.attempt, first.finished_at = "succeeded", 2, finished
    first.output, first.result = {"nested": {"list": [1, "two", None]}}, {"exit_code": 0}
    second.status, second.error_message, second.started_at = "failed", "it's \"quoted\"; DROP TABLE x; --\n\u00e9", None
    second.output = None  # SQL NULL
    third.output, third.error_class = "a JSON string", "TemplateError"

    with CaptureQueriesContext(connection) as queries:
        update_rows(StepExecution, [third, first, second],
                    ["status", "attempt", "finished_at", "started_at", "output", "result", "error_message",
                     "error_class"])

    assert len(queries.captured_queries) == 1
    first, second, third = (StepExecution.objects.get(pk=step.pk) for step in steps)
    assert (first.status, first.attempt, first.finished_at) == ("succeeded", 2, finished)
    assert first.output == {"nested": {"list": [1, "two", None]}} and first.result == {"exit_code": 0}
    assert second.status == "failed" and second.error_message == "it's \"quoted\"; DROP TABLE x; --\n\u00e9"
    assert second.started_at is None and second.output is None
    assert StepExecution.objects.filter(pk=second.pk, output__isnull=True).exists()
    assert third.output == "a JSON string" and third.error_class == "TemplateError" and third.status == "pending"


def test_a_pass_writes_each_changed_row_once_and_nothing_before_it_ends(steps):
    first, second, third = steps
    with CaptureQueriesContext(connection) as queries:
        with deferred_writes():
            first.status = "running"
            save_fields(first, ["status"])
            first.attempt = 1
            save_fields(first, ["attempt"])
            second.next_step = "s2"
            save_fields(second, ["next_step"])
            assert queries.captured_queries == []
            assert StepExecution.objects.get(pk=first.pk).status == "pending"

    writes = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("UPDATE")]
    assert len(writes) == 1
    assert StepExecution.objects.filter(pk=first.pk, status="running", attempt=1).exists()
    assert StepExecution.objects.get(pk=second.pk).next_step == "s2"
    assert StepExecution.objects.get(pk=third.pk).updated_at == third.updated_at  # untouched
