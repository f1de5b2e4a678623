from django.conf import settings
from django.db import models

from apps.core.models import OrganizationOwned


class CredentialKind(models.TextChoices):
    PASSWORD = "password", "Password"
    SSH_KEY = "ssh_key", "SSH private key"
    TOKEN = "token", "Token"


class Credential(OrganizationOwned):
    """A vault entry. `secret_encrypted` is Fernet ciphertext; the plaintext is write-only
    everywhere (API, admin, logs) and decrypted only in memory where a job needs it."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=CredentialKind.choices)
    username = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    secret_encrypted = models.TextField(editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"],
                name="credential_unique_name",
                violation_error_code="duplicate",
                violation_error_message="A credential with this name already exists in this organization.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Credential {self.pk}: {self.name} ({self.kind})>"
