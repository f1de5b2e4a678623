from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.automation.models import KillSwitch, KillSwitchScope, KillSwitchState
from apps.automation.services import REASON_MAX
from apps.core.api import StrictSerializerMixin
from apps.inventory.api.serializers import RefField


class KillSwitchOutput(serializers.ModelSerializer):
    """One engagement of the kill switch, with its release once it was released."""

    scope = serializers.ChoiceField(choices=KillSwitchScope.choices)
    state = serializers.ChoiceField(choices=KillSwitchState.choices)
    workflow = serializers.IntegerField(source="workflow_id", allow_null=True)
    workflow_name = serializers.CharField(source="workflow.name", default=None, allow_null=True)
    engaged_by = serializers.CharField(source="engaged_by.username", default=None, allow_null=True)
    engaged_at = serializers.DateTimeField(source="created_at")
    released_by = serializers.CharField(source="released_by.username", default=None, allow_null=True,
                                        help_text="Null while engaged, and when `until` ended it.")

    class Meta:
        model = KillSwitch
        fields = ["id", "scope", "state", "workflow", "workflow_name", "reason", "until", "engaged_by", "engaged_at",
                  "released_at", "released_by", "release_reason"]


class StatusOutput(serializers.Serializer):
    """The organization's kill switch: what is on now, and what happened lately."""

    engaged = serializers.BooleanField(help_text="True while any switch (organization or workflow) is on.")
    switches = KillSwitchOutput(many=True, help_text="The engaged switches, organization-wide first.")
    history = KillSwitchOutput(many=True, help_text="The latest engagements with their releases, newest first.")


class ScopeInput(StrictSerializerMixin, serializers.Serializer):
    """The organization (default), or one of its workflows."""

    scope = serializers.ChoiceField(choices=KillSwitchScope.choices, required=False,
                                    help_text="Default: 'workflow' when a workflow is named, else 'organization'.")
    workflow = RefField(required=False, allow_null=True, help_text="The workflow's id or name (scope 'workflow').")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """`scope` only checks `workflow`: the services take the workflow (None = organization)."""
        workflow = data.get("workflow")
        scope = data.pop("scope", None)
        if scope == KillSwitchScope.WORKFLOW and workflow is None:
            raise serializers.ValidationError({"workflow": ["Scope 'workflow' needs the workflow's id or name."]})
        if scope == KillSwitchScope.ORGANIZATION and workflow is not None:
            raise serializers.ValidationError({"workflow": ["Scope 'organization' takes no workflow."]})
        return data


class PauseInput(ScopeInput):
    """Engage the kill switch. Engaging a scope that is already engaged changes nothing."""

    reason = serializers.CharField(max_length=REASON_MAX)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                      help_text="Optional: the switch turns itself off at this time.")


class ResumeInput(ScopeInput):
    """Release the kill switch of the scope. Nothing engaged there is a harmless no-op."""

    reason = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True, default="")
