from django.contrib import admin

from apps.accounts.admin_base import OrgScopedAdmin
from apps.approvals.models import ApprovalRequest, ApprovalResponse
from apps.core.admin import ReadOnlyAdminMixin


class ApprovalResponseInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ApprovalResponse
    fields = ["actor", "approve", "comment", "created_at"]
    readonly_fields = fields
    extra = 0


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdminMixin, OrgScopedAdmin):
    list_display = ["id", "instance", "step_id", "status", "required_approvals", "expires_at", "resolved_at"]
    list_filter = ["status", "organization"]
    search_fields = ["step_id", "message", "=instance__id"]
    inlines = [ApprovalResponseInline]
