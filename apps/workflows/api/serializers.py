from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api import StrictSerializerMixin
from apps.inventory.api.serializers import RefField
from apps.workflows.formats import definition_content
from apps.workflows.models import TriggerType, WorkflowDefinition, WorkflowVersion
from apps.workflows.validation import validate_definition


class VariableSpec(serializers.Serializer):
    """A declared variable (documentation of the contract's format)."""

    name = serializers.CharField()
    default = serializers.JSONField(required=False)
    description = serializers.CharField(required=False)
    sensitive = serializers.BooleanField(required=False)
    required = serializers.BooleanField(required=False)


class StepSpec(serializers.Serializer):
    """One step (DESIGN §4); `config` depends on `type`."""

    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["script", "command", "approval", "conditional", "delay", "pam_checkout",
                                            "pam_checkin", "parallel", "notification", "workflow", "set"])
    name = serializers.CharField(required=False)
    config = serializers.DictField()
    on_success = serializers.CharField(required=False, allow_null=True)
    on_failure = serializers.CharField(required=False, allow_null=True)
    timeout_seconds = serializers.IntegerField(required=False, allow_null=True)
    retry_count = serializers.IntegerField(required=False)
    retry_delay_seconds = serializers.IntegerField(required=False)
    retryable = serializers.BooleanField(required=False)
    skippable = serializers.BooleanField(required=False)
    hold_on_failure = serializers.BooleanField(required=False, allow_null=True)
    retry_on_exit_codes = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
    max_parallel = serializers.IntegerField(required=False, allow_null=True)


@extend_schema_field(StepSpec(many=True))
class StepsField(serializers.JSONField):
    """Checked by apps.workflows.validation, which names the step and field of each error."""


@extend_schema_field(VariableSpec(many=True))
class VariablesField(serializers.JSONField):
    pass


class IssueOutput(serializers.Serializer):
    path = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    severity = serializers.CharField()


class ValidationOutput(serializers.Serializer):
    errors = IssueOutput(many=True)
    warnings = IssueOutput(many=True)


class WorkflowInput(StrictSerializerMixin, serializers.Serializer):
    """A definition; flags left out keep their value (on create: active, draft, not a template)."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="")
    trigger_type = serializers.ChoiceField(choices=TriggerType.choices, default=TriggerType.MANUAL)
    default_timeout_seconds = serializers.IntegerField(min_value=1, allow_null=True, default=None)
    canary_percentage = serializers.IntegerField(min_value=1, max_value=100, allow_null=True, default=None)
    canary_success_threshold = serializers.IntegerField(min_value=0, max_value=100, default=80)
    hold_on_failure = serializers.BooleanField(default=False)
    variables = VariablesField(default=list)
    start = serializers.CharField(max_length=100, allow_blank=True, allow_null=True, default=None)
    on_cancel = serializers.CharField(max_length=100, allow_blank=True, allow_null=True, default=None)
    approval_notify = serializers.JSONField(allow_null=True, default=None,
                                            help_text='{"channel": "slack"|"webhook", "url", "secret"?} or null.')
    steps = StepsField(default=list)
    is_active = serializers.BooleanField(required=False)
    is_published = serializers.BooleanField(required=False)
    is_template = serializers.BooleanField(required=False)


class CloneInput(StrictSerializerMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, help_text='Default: "<name> (Copy)".')


class EmptyInput(StrictSerializerMixin, serializers.Serializer):
    """No fields: the body is empty or {}."""


@extend_schema_field({"oneOf": [{"type": "object"}, {"type": "string"}]})
class DefinitionDocumentField(serializers.JSONField):
    """The contract's format as an object, or as JSON or YAML text."""


class ImportInput(StrictSerializerMixin, serializers.Serializer):
    definition = DefinitionDocumentField()
    name = serializers.CharField(max_length=200, required=False, help_text="Import under this name instead.")


class SimulateInput(StrictSerializerMixin, serializers.Serializer):
    hosts = serializers.ListField(child=RefField(), max_length=10_000, default=list, help_text="Host ids or hostnames.")
    groups = serializers.ListField(child=RefField(), max_length=1000, default=list, help_text="Group ids or names.")
    variables = serializers.DictField(default=dict)


class BlankAsNullField(serializers.CharField):
    """Blank text is null in the output, and the schema says the field may be null."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{"allow_null": True, **kwargs})

    def to_representation(self, value: Any) -> str | None:
        return value or None


class WorkflowOutput(serializers.ModelSerializer):
    start = BlankAsNullField(read_only=True)
    on_cancel = BlankAsNullField(read_only=True)
    steps = StepsField(read_only=True)
    variables = VariablesField(read_only=True)
    step_count = serializers.IntegerField(read_only=True)
    version = serializers.IntegerField(source="latest_version", read_only=True, default=None,
                                       help_text="The latest version number.")
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = WorkflowDefinition
        fields = [
            "id", "name", "description", "trigger_type", "default_timeout_seconds", "canary_percentage",
            "canary_success_threshold", "hold_on_failure", "variables", "start", "on_cancel", "approval_notify",
            "steps", "step_count", "is_active", "is_published", "is_template", "version", "created_by", "created_at",
            "updated_at",
        ]


class WorkflowDetailOutput(WorkflowOutput):
    validation = serializers.SerializerMethodField(help_text="Errors and warnings of the stored definition.")

    class Meta(WorkflowOutput.Meta):
        fields = [*WorkflowOutput.Meta.fields, "validation"]

    @extend_schema_field(ValidationOutput)
    def get_validation(self, obj: WorkflowDefinition) -> dict[str, Any]:
        result = validate_definition(definition_content(obj), organization_id=obj.organization_id,
                                     definition_id=obj.pk)
        return {"errors": [i.as_dict() for i in result.errors], "warnings": [i.as_dict() for i in result.warnings]}


class VersionOutput(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = WorkflowVersion
        fields = ["number", "step_count", "actor", "created_at"]


class VersionDetailOutput(VersionOutput):
    snapshot = serializers.JSONField(read_only=True)

    class Meta(VersionOutput.Meta):
        fields = [*VersionOutput.Meta.fields, "snapshot"]


class ExportOutput(serializers.Serializer):
    """The contract's format (DESIGN §4): content only, no ids or history."""

    name = serializers.CharField()
    description = serializers.CharField()
    trigger_type = serializers.CharField()
    default_timeout_seconds = serializers.IntegerField(allow_null=True)
    canary_percentage = serializers.IntegerField(allow_null=True)
    canary_success_threshold = serializers.IntegerField()
    hold_on_failure = serializers.BooleanField()
    variables = VariablesField()
    start = serializers.CharField(allow_null=True)
    on_cancel = serializers.CharField(allow_null=True)
    approval_notify = serializers.JSONField(allow_null=True)
    steps = StepsField()


class SimulationOutput(serializers.Serializer):
    workflow = serializers.DictField()
    hosts = serializers.ListField(child=serializers.CharField(), help_text="The first 100 target hostnames.")
    host_count = serializers.IntegerField()
    variables = serializers.DictField(help_text="Resolved variables; sensitive values masked.")
    steps = serializers.ListField(child=serializers.DictField(), help_text="Per-step predictions, in walk order.")
    not_reached = serializers.ListField(child=serializers.CharField())
    on_cancel = serializers.CharField(allow_null=True)
    summary = serializers.DictField()
