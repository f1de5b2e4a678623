from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from apps.core.models import OrganizationOwned
from apps.inventory.validators import validate_hostname, validate_labels, validate_vars


class Connection(models.TextChoices):
    LOCAL = "local", "Local"
    SSH = "ssh", "SSH"
    AGENT = "agent", "Pull agent"


DEFAULT_PORTS = {Connection.SSH: 22}


class HostGroup(OrganizationOwned):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    vars = models.JSONField(default=dict, blank=True, validators=[validate_vars])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="hostgroup_unique_name",
                violation_error_code="duplicate",
                violation_error_message="A host group with this name already exists in this organization.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Host(OrganizationOwned):
    hostname = models.CharField(max_length=253, validators=[validate_hostname])
    primary_ip = models.GenericIPAddressField(null=True, blank=True)
    os = models.CharField(max_length=100, blank=True)
    connection = models.CharField(max_length=16, choices=Connection.choices, default=Connection.SSH)
    port = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    credential = models.ForeignKey(
        "credentials.Credential", on_delete=models.PROTECT, null=True, blank=True, related_name="hosts"
    )
    groups = models.ManyToManyField(HostGroup, related_name="hosts", blank=True)
    # Host context variables, visible to templates as hosts.vars.* (DESIGN §4).
    vars = models.JSONField(default=dict, blank=True, validators=[validate_vars])
    labels = models.JSONField(default=list, blank=True, validators=[validate_labels])
    is_enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["hostname"]
        constraints = [
            # Hostnames are case-insensitive (DNS): "Web1" and "web1" are the same host.
            models.UniqueConstraint(
                models.F("organization"),
                Lower("hostname"),
                name="host_unique_hostname",
                violation_error_code="duplicate",
                violation_error_message="A host with this hostname already exists in this organization.",
            ),
            models.CheckConstraint(
                condition=models.Q(port__isnull=True) | models.Q(port__gte=1, port__lte=65535),
                name="host_port_range",
            ),
        ]
        # Search indexes that only Postgres has (trigram, pattern ops) are in migration 0002.
        indexes = [
            models.Index(fields=["organization", "hostname"], name="host_org_hostname"),
            models.Index(fields=["organization", "primary_ip"], name="host_org_ip"),
        ]

    def __str__(self) -> str:
        return self.hostname
