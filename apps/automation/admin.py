from django.contrib import admin

from apps.automation.models import KillSwitch
from apps.core.admin import OrgScopedAdmin, ReadOnlyAdminMixin


@admin.register(KillSwitch)
class KillSwitchAdmin(ReadOnlyAdminMixin, OrgScopedAdmin):
    list_display = ["organization", "workflow", "reason", "until", "engaged_by", "created_at", "released_at"]
    list_filter = ["organization", "released_at"]
    search_fields = ["reason", "release_reason"]
