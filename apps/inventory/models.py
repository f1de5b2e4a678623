from django.conf import settings
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


class HostKeyPolicy(models.TextChoices):
    STRICT = "strict", "Trusted keys only"
    ACCEPT_NEW = "accept_new", "Trust the first key seen"


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
    # SSH (DESIGN §10): the login user (blank: the credential's), sudo, and which host keys count.
    username = models.CharField(max_length=200, blank=True)
    become = models.BooleanField(default=False)
    host_key_policy = models.CharField(max_length=16, choices=HostKeyPolicy.choices, default=HostKeyPolicy.STRICT)

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


class HostKeyState(models.TextChoices):
    PENDING = "pending"
    TRUSTED = "trusted"
    REVOKED = "revoked"


class HostKey(OrganizationOwned):
    """An SSH host key a host offered. Only `trusted` keys let the SSH executor in."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="host_keys")
    algorithm = models.CharField(max_length=64)
    # OpenSSH one-line form without the comment: "<algorithm> <base64>".
    public_key = models.TextField()
    fingerprint_sha256 = models.CharField(max_length=100)
    state = models.CharField(max_length=8, choices=HostKeyState.choices, default=HostKeyState.PENDING)
    first_seen = models.DateTimeField(auto_now_add=True)
    trusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    trusted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["host_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["host", "fingerprint_sha256"], name="hostkey_unique_fingerprint"),
        ]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.fingerprint_sha256} ({self.state})"
