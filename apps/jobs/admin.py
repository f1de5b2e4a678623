from django.contrib import admin

from apps.accounts.admin_base import OrgScopedAdmin
from apps.core.admin import ReadOnlyAdminMixin
from apps.jobs.models import Job, LogLine


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, OrgScopedAdmin):
    organization_field = "instance__organization"
    list_display = ["id", "instance", "step_id", "hostname", "attempt", "status", "exit_code", "is_canary",
                    "started_at", "finished_at"]
    list_filter = ["status", "is_canary", "error_class"]
    search_fields = ["hostname", "step_id", "error_message", "=instance__id"]


@admin.register(LogLine)
class LogLineAdmin(ReadOnlyAdminMixin, OrgScopedAdmin):
    organization_field = "instance__organization"
    list_display = ["instance", "seq", "step_id", "host", "stream", "ts", "line"]
    list_filter = ["stream"]
    search_fields = ["line", "=instance__id"]
