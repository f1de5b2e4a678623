from rest_framework import serializers

from apps.core.api import StrictSerializerMixin
from apps.credentials.models import Credential, CredentialKind


class CredentialInput(StrictSerializerMixin, serializers.Serializer):
    """A vault entry; `secret` is encrypted at rest and never returned."""

    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=CredentialKind.choices)
    username = serializers.CharField(max_length=200, allow_blank=True, default="")
    description = serializers.CharField(allow_blank=True, default="")
    # Write-only; kept exactly as given (an SSH key's trailing newline matters).
    secret = serializers.CharField(write_only=True, trim_whitespace=False, max_length=64 * 1024)


class CredentialUpdateInput(CredentialInput):
    """Like CredentialInput, but leaving out `secret` keeps the stored one."""

    secret = serializers.CharField(write_only=True, trim_whitespace=False, max_length=64 * 1024, required=False)


class CredentialOutput(serializers.ModelSerializer):
    has_secret = serializers.BooleanField(read_only=True, default=False)
    host_count = serializers.IntegerField(read_only=True, default=0)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = Credential
        # Never `secret_encrypted`: not even ciphertext leaves the server.
        fields = [
            "id", "name", "kind", "username", "description", "has_secret", "host_count",
            "created_by", "created_at", "updated_at",
        ]
