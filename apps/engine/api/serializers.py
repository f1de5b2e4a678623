from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api import StrictSerializerMixin
from apps.engine.context import redacted_variables
from apps.engine.models import StepExecution, WorkflowInstance
from apps.jobs.models import Job, LogLine


def duration(start: Any, end: Any) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


class JobOutput(serializers.ModelSerializer):
    duration_seconds = serializers.SerializerMethodField()
    may_be_running = serializers.BooleanField(
        read_only=True,
        help_text="Processes of the job may still run: it is running, or it started processes and nobody "
                  "verified that none is left (verified_stopped_at is null).",
    )

    class Meta:
        model = Job
        fields = ["id", "step_id", "hostname", "attempt", "status", "exit_code", "is_canary", "error_class",
                  "error_message", "started_at", "finished_at", "duration_seconds", "output", "stop_request",
                  "pgid", "verified_stopped_at", "may_be_running"]

    def get_duration_seconds(self, obj: Job) -> float | None:
        return duration(obj.started_at, obj.finished_at)


class StepOutput(serializers.ModelSerializer):
    duration_seconds = serializers.SerializerMethodField()
    jobs = JobOutput(source="first_jobs", many=True, read_only=True,
                     help_text="The step's first jobs (see jobs_total); page through all of them with jobs/.")
    jobs_total = serializers.IntegerField(read_only=True, default=0)
    live_jobs = serializers.IntegerField(read_only=True, default=0,
                                         help_text="Jobs of the step whose processes may still run.")

    class Meta:
        model = StepExecution
        fields = ["step_id", "step_type", "status", "attempt", "wait_reason", "parallel_id", "branch", "started_at",
                  "finished_at", "duration_seconds", "error_class", "error_message", "output", "result", "jobs",
                  "jobs_total", "live_jobs", "reused_from"]

    def get_duration_seconds(self, obj: StepExecution) -> float | None:
        return duration(obj.started_at, obj.finished_at)


class InstanceListOutput(serializers.ModelSerializer):
    triggered_by = serializers.CharField(source="triggered_by.username", default=None, allow_null=True)
    duration_seconds = serializers.SerializerMethodField()
    workflow = serializers.IntegerField(source="definition_id", allow_null=True)

    class Meta:
        model = WorkflowInstance
        fields = ["id", "workflow", "workflow_name", "version_number", "status", "pause_reason", "status_message",
                  "error_class", "error_message", "trigger", "triggered_by", "parent", "rerun_of", "scheduled_for",
                  "created_at", "started_at", "finished_at", "duration_seconds"]

    def get_duration_seconds(self, obj: WorkflowInstance) -> float | None:
        return duration(obj.started_at, obj.finished_at)


class InstanceOutput(InstanceListOutput):
    variables = serializers.SerializerMethodField()
    hosts = serializers.SerializerMethodField()
    steps = StepOutput(many=True, read_only=True)
    live_jobs = serializers.SerializerMethodField(
        help_text="Jobs whose processes may still run: a force cancel ends the run without waiting for them "
                  "(a kill is still accepted while there are any); 0 once every one was verified stopped."
    )

    class Meta(InstanceListOutput.Meta):
        fields = [*InstanceListOutput.Meta.fields, "variables", "hosts", "trigger_data", "timeout_at", "live_jobs",
                  "steps"]

    def get_live_jobs(self, obj: WorkflowInstance) -> int:
        return sum(getattr(step, "live_jobs", 0) for step in obj.steps.all())

    def get_variables(self, obj: WorkflowInstance) -> dict[str, Any]:
        return redacted_variables(obj)

    def get_hosts(self, obj: WorkflowInstance) -> list[dict[str, Any]]:
        return [{"id": t.get("id"), "hostname": t["hostname"], "primary_ip": t.get("primary_ip")} for t in obj.targets]


class LogLineOutput(serializers.ModelSerializer):
    step = serializers.CharField(source="step_id")

    class Meta:
        model = LogLine
        fields = ["seq", "step", "host", "stream", "ts", "line"]


class CancelInput(StrictSerializerMixin, serializers.Serializer):
    mode = serializers.ChoiceField(choices=["standard", "force", "kill"], default="standard")
    cleanup = serializers.BooleanField(default=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class LogQueryInput(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, default=0)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10_000, default=1000)
    step = serializers.CharField(required=False, allow_blank=True)
    host = serializers.CharField(required=False, allow_blank=True)
    stream = serializers.CharField(required=False, allow_blank=True)
    q = serializers.CharField(required=False, allow_blank=True, max_length=500)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class TargetRef(serializers.Field):
    """A host or group: its id, or its hostname / name."""

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str) or data == "":
            raise serializers.ValidationError("Expected an id or a name.")
        if isinstance(data, str) and len(data) > 255:
            raise serializers.ValidationError("Names are at most 255 characters.")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class RunInput(StrictSerializerMixin, serializers.Serializer):
    hosts = serializers.ListField(child=TargetRef(), required=False, default=list, max_length=100_000)
    groups = serializers.ListField(child=TargetRef(), required=False, default=list, max_length=1_000)
    variables = serializers.DictField(required=False, default=dict)
    scheduled_for = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReasonInput(StrictSerializerMixin, serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


@extend_schema_field({
    "oneOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string", "maxLength": 100}, "maxItems": 1000}],
    "default": False,
    "description": "true: re-run only the hosts that did not succeed in every fan-out task; a list of task ids: "
                   "in those tasks only (each must be one of `tasks`); false: every host.",
})
class NoResetField(serializers.Field):
    """`no_reset`: a boolean, or the step ids of the tasks whose failed hosts alone run again."""

    default_error_messages = {
        "invalid": "no_reset must be true, false or a list of task ids.",
        "too_long": "no_reset lists too many or too long task ids.",
    }

    def to_internal_value(self, data: Any) -> bool | list[str]:
        if isinstance(data, bool):
            return data
        if isinstance(data, str | int):  # a form-encoded boolean
            if data in serializers.BooleanField.TRUE_VALUES:
                return True
            if data in serializers.BooleanField.FALSE_VALUES:
                return False
            self.fail("invalid")
        if not isinstance(data, list) or not all(isinstance(task, str) and task for task in data):
            self.fail("invalid")
        if len(data) > 1000 or any(len(task) > 100 for task in data):
            self.fail("too_long")
        return list(dict.fromkeys(data))

    def to_representation(self, value: Any) -> Any:
        return value


class RerunInput(StrictSerializerMixin, serializers.Serializer):
    tasks = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list,
                                  max_length=1000)
    no_reset = NoResetField(default=False)
    dry_run = serializers.BooleanField(default=False)


class HistoryEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    time = serializers.DateTimeField()
    actor = serializers.CharField(allow_null=True)
    action = serializers.CharField()
    step = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    comment = serializers.CharField()
    data = serializers.DictField()


class JobQueryInput(serializers.Serializer):
    step = serializers.CharField(required=False, allow_blank=True, max_length=100)
    status = serializers.CharField(required=False, allow_blank=True, max_length=100)
    host = serializers.CharField(required=False, allow_blank=True, max_length=255)
