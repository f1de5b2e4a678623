"""Approval requests made directly (instance + waiting gate rows), and the engine's
end-to-end fixtures re-exported for the worker tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apps.approvals.models import ApprovalRequest
from apps.engine.models import StepExecution, WorkflowInstance
from tests.engine.conftest import localhost, make_workflow, run  # noqa: F401 (fixtures)


@pytest.fixture
def make_approval(org, owner) -> Callable[..., ApprovalRequest]:
    """make_approval(started_by=user, **request_fields): a pending request on a waiting gate."""

    def make(*, started_by: Any = None, organization: Any = None, **fields: Any) -> ApprovalRequest:
        organization = organization or org
        started_by = started_by or owner
        instance = WorkflowInstance.objects.create(
            organization=organization, workflow_name="deploy", status="running", snapshot={"steps": []},
            triggered_by=started_by,
        )
        StepExecution.objects.create(instance=instance, step_id="plan", step_type="command", status="succeeded",
                                     attempt=1, output={"diff": "+ ntp server 10.0.0.1"})
        gate = StepExecution.objects.create(instance=instance, step_id="gate", step_type="approval",
                                            status="waiting", attempt=1, wait_reason="awaiting_approval")
        return ApprovalRequest.objects.create(
            organization=organization, instance=instance, step_execution=gate, step_id="gate",
            message="Apply?", requested_by=started_by, **fields,
        )

    return make
