from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin import OrgScopedAdmin, ReadOnlyAdminMixin
from apps.core.errors import ApplicationError
from apps.engine.controls import instance_cancel
from apps.engine.models import PamSession, StepExecution, Timer, WorkflowInstance


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
    actions = ["cancel_force"]

    @admin.action(description="Cancel the selected instances (force: running jobs are stopped)")
    def cancel_force(self, request: HttpRequest, queryset: QuerySet[WorkflowInstance]) -> None:
        done = 0
        for instance in queryset:
            try:
                instance_cancel(instance_id=instance.pk, organization_id=instance.organization_id,
                                actor=request.user, mode="force", reason="admin action")
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"#{instance.pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Cancel requested for {done} instance(s).")


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
