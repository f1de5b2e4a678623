from django.contrib import admin

from apps.accounts.admin_base import OrgScopedAdmin
from apps.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(OrgScopedAdmin):
    list_display = ["created_at", "organization", "actor_username", "action", "target_type", "target_repr"]
    list_filter = ["action", "target_type", "organization", "created_at"]
    search_fields = ["action", "actor_username", "target_repr", "target_id"]
    date_hierarchy = "created_at"

    # Append-only: the admin shows the trail and changes nothing.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
