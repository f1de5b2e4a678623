from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.admin_base import OrgScopedAdmin
from apps.core.admin import ReadOnlyAdminMixin
from apps.core.errors import ApplicationError
from apps.engine.controls import instance_cancel, instance_pause, instance_resume, instance_terminate
from apps.engine.models import PamSession, StepExecution, Timer, WorkflowInstance
from apps.engine.step_controls import instance_retry


class StepExecutionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StepExecution
    fields = ["step_id", "step_type", "status", "attempt", "wait_reason", "started_at", "finished_at",
              "error_class", "error_message"]
    readonly_fields = fields
    extra = 0
    show_change_link = False


@admin.register(WorkflowInstance)
class WorkflowInstanceAdmin(ReadOnlyAdminMixin, OrgScopedAdmin):
    list_display = ["id", "workflow_name", "organization", "status", "pause_reason", "trigger", "triggered_by",
                    "created_at", "finished_at"]
    list_filter = ["status", "trigger", "organization", "created_at"]
    search_fields = ["id", "workflow_name", "triggered_by__username", "error_message"]
    date_hierarchy = "created_at"
    # Never the encrypted sensitive variables, not even as ciphertext.
    exclude = ["sensitive_variables"]
    inlines = [StepExecutionInline]
    actions = ["pause", "resume", "cancel_standard", "cancel_force", "cancel_kill", "terminate", "retry"]

    def _control(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance], service: Callable[..., Any],
                 verb: str, **kwargs: Any) -> None:
        """Call the control service (the one the API and the portal call) per selected row."""
        done = 0
        for instance in queryset:
            try:
                service(instance_id=instance.pk, organization_id=instance.organization_id, actor=request.user,
                        reason="admin action", **kwargs)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"#{instance.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{verb} requested for {done} instance(s).")

    @admin.action(description="Pause the selected instances")
    def pause(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance]) -> None:
        self._control(request, queryset, instance_pause, "Pause")

    @admin.action(description="Resume the selected instances")
    def resume(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance]) -> None:
        self._control(request, queryset, instance_resume, "Resume")

    @admin.action(description="Cancel the selected instances (standard: running jobs finish)")
    def cancel_standard(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance]) -> None:
        self._control(request, queryset, instance_cancel, "Cancel", mode="standard")

    @admin.action(description="Cancel the selected instances (force: running jobs are stopped)")
    def cancel_force(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance]) -> None:
        self._control(request, queryset, instance_cancel, "Cancel", mode="force")

    @admin.action(description="Cancel the selected instances (kill: SIGKILL after 5 s, then verify)")
    def cancel_kill(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance]) -> None:
        self._control(request, queryset, instance_cancel, "Kill", mode="kill")

    @admin.action(description="Terminate the selected instances (at once, no cleanup)")
    def terminate(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance]) -> None:
        self._control(request, queryset, instance_terminate, "Terminate")

    @admin.action(description="Retry the selected failed instances")
    def retry(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance]) -> None:
        self._control(request, queryset, instance_retry, "Retry")


@admin.register(Timer)
class TimerAdmin(ReadOnlyAdminMixin, OrgScopedAdmin):
    organization_field = "instance__organization"
    list_display = ["id", "instance", "kind", "due_at", "fired_at"]
    list_filter = ["kind"]


@admin.register(PamSession)
class PamSessionAdmin(ReadOnlyAdminMixin, OrgScopedAdmin):
    organization_field = "instance__organization"
    list_display = ["id", "instance", "step_id", "credential", "alias", "expires_at", "closed_at", "close_reason"]
    list_filter = ["close_reason"]
    search_fields = ["alias", "credential__name"]
