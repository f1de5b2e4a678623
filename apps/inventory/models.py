from django.db import models

from apps.core.models import OrganizationOwned


class Connection(models.TextChoices):
    LOCAL = "local", "Local"
    SSH = "ssh", "SSH"
    AGENT = "agent", "Pull agent"


class Host(OrganizationOwned):
    hostname = models.CharField(max_length=255)
    primary_ip = models.GenericIPAddressField(null=True, blank=True)
    os = models.CharField(max_length=100, blank=True)
    connection = models.CharField(max_length=16, choices=Connection.choices, default=Connection.SSH)
    port = models.PositiveIntegerField(null=True, blank=True)
    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.PROTECT, null=True, blank=True, related_name="hosts"
    )
    # Host context variables, visible to templates as hosts.vars.* (DESIGN §4).
    vars = models.JSONField(default=dict, blank=True)
    labels = models.JSONField(default=list, blank=True)
    is_enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["hostname"]
        constraints = [models.UniqueConstraint(fields=["organization", "hostname"], name="host_unique_hostname")]
        indexes = [
            models.Index(fields=["organization", "hostname"], name="host_org_hostname"),
            models.Index(fields=["organization", "primary_ip"], name="host_org_ip"),
        ]

    def __str__(self) -> str:
        return self.hostname


class HostGroup(OrganizationOwned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    hosts = models.ManyToManyField(Host, related_name="groups", blank=True)
    vars = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="hostgroup_unique_name")]

    def __str__(self) -> str:
        return self.name
