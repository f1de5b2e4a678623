from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.approvals.models import ApprovalRequest, ApprovalResponse
from apps.approvals.rules import may_respond
from apps.approvals.selectors import approval_plan
from apps.core.api import StrictSerializerMixin


class ApprovalResponseOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="actor.username")

    class Meta:
        model = ApprovalResponse
        fields = ["user", "approve", "comment", "created_at"]


class ApprovalListOutput(serializers.ModelSerializer):
    workflow = serializers.IntegerField(source="instance.definition_id", allow_null=True)
    workflow_name = serializers.CharField(source="instance.workflow_name")
    requested_by = serializers.CharField(source="requested_by.username", default=None, allow_null=True)
    responses = ApprovalResponseOutput(many=True, read_only=True)
    can_approve = serializers.SerializerMethodField()
    can_reject = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = ["id", "instance", "workflow", "workflow_name", "step_id", "attempt", "status", "message",
                  "approvers", "required_approvals", "allow_self_approval", "plan_from", "on_timeout",
                  "expires_at", "resolved_at", "requested_by", "created_at", "responses", "can_approve",
                  "can_reject"]

    def _may(self, obj: ApprovalRequest, *, approve: bool) -> bool:
        request = self.context.get("request")
        organization = self.context.get("organization")
        if request is None or organization is None:
            return False
        return may_respond(obj, request.user, organization, approve=approve)

    def get_can_approve(self, obj: ApprovalRequest) -> bool:
        return self._may(obj, approve=True)

    def get_can_reject(self, obj: ApprovalRequest) -> bool:
        return self._may(obj, approve=False)


class ApprovalOutput(ApprovalListOutput):
    plan = serializers.SerializerMethodField()

    class Meta(ApprovalListOutput.Meta):
        fields = [*ApprovalListOutput.Meta.fields, "plan"]

    def get_plan(self, obj: ApprovalRequest) -> Any:
        return approval_plan(obj)


class RespondInput(StrictSerializerMixin, serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
