from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.core.models import OrganizationOwned


class KillSwitchScope(models.TextChoices):
    ORGANIZATION = "organization"
    WORKFLOW = "workflow"


class KillSwitchState(models.TextChoices):
    ENGAGED = "engaged"
    RELEASED = "released"
    EXPIRED = "expired"  # `until` passed; the sweeper has not stamped the release yet


class KillSwitch(OrganizationOwned):
    """One engagement of the kill switch: organization-wide, or for one workflow.

    Engaged while `released_at` is null and `until` (if set) is in the future. Rows are
    kept after release: they are the switch's history."""

    workflow = models.ForeignKey(
        "workflows.WorkflowDefinition", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    reason = models.TextField()
    until = models.DateTimeField(null=True, blank=True)
    engaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "released_at"], name="killswitch_org_open")]

    @property
    def scope(self) -> str:
        return KillSwitchScope.WORKFLOW if self.workflow_id else KillSwitchScope.ORGANIZATION

    @property
    def state(self) -> str:
        if self.released_at is not None:
            return KillSwitchState.RELEASED
        if self.until is not None and self.until <= timezone.now():
            return KillSwitchState.EXPIRED
        return KillSwitchState.ENGAGED

    def __str__(self) -> str:
        scope = f"workflow {self.workflow_id}" if self.workflow_id else "organization"
        return f"kill switch ({scope}) {self.created_at:%Y-%m-%d %H:%M}"
