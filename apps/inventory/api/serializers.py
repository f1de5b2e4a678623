from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api import StrictSerializerMixin
from apps.inventory.models import Connection, Host, HostGroup, HostKey, HostKeyPolicy
from apps.inventory.validators import MAX_LABEL_LENGTH, MAX_LABELS, validate_hostname, validate_vars


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class RefField(serializers.Field):
    """An object's id (integer) or its name (string)."""

    default_error_messages = {"invalid": "Expected an id (integer) or a name (string)."}

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, str):
            data = data.strip()
            if not data or len(data) > 253:
                self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(OpenApiTypes.OBJECT)
class VarsField(serializers.JSONField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [validate_vars])
        super().__init__(**kwargs)


class HostInput(StrictSerializerMixin, serializers.Serializer):
    """A host; `credential` and `groups` must belong to the same organization."""

    hostname = serializers.CharField(max_length=253, validators=[validate_hostname])
    primary_ip = serializers.IPAddressField(allow_null=True, allow_blank=True, default=None)
    os = serializers.CharField(max_length=100, allow_blank=True, default="")
    connection = serializers.ChoiceField(choices=Connection.choices, default=Connection.SSH)
    port = serializers.IntegerField(
        min_value=1, max_value=65535, allow_null=True, default=None, help_text="Defaults to 22 for ssh."
    )
    credential = serializers.IntegerField(min_value=1, allow_null=True, default=None, help_text="A credential id.")
    groups = serializers.ListField(child=RefField(), max_length=1000, default=list, help_text="Group ids or names.")
    vars = VarsField(default=dict)
    labels = serializers.ListField(
        child=serializers.CharField(max_length=MAX_LABEL_LENGTH), max_length=MAX_LABELS, default=list
    )
    is_enabled = serializers.BooleanField(default=True)
    username = serializers.CharField(
        max_length=200, allow_blank=True, default="", help_text="SSH login user; blank: the credential's."
    )
    become = serializers.BooleanField(default=False, help_text="Run under sudo (its password goes on stdin).")
    host_key_policy = serializers.ChoiceField(choices=HostKeyPolicy.choices, default=HostKeyPolicy.STRICT)


class HostOutput(serializers.ModelSerializer):
    credential_name = serializers.CharField(source="credential.name", default=None, read_only=True, allow_null=True)
    groups = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    group_names = serializers.SerializerMethodField()

    class Meta:
        model = Host
        fields = [
            "id", "hostname", "primary_ip", "os", "connection", "port", "credential", "credential_name",
            "groups", "group_names", "vars", "labels", "is_enabled", "username", "become", "host_key_policy",
            "created_at", "updated_at",
        ]

    def get_group_names(self, obj: Host) -> list[str]:
        return [group.name for group in obj.groups.all()]


class HostGroupInput(StrictSerializerMixin, serializers.Serializer):
    """A host group; `hosts` must belong to the same organization."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, default="")
    hosts = serializers.ListField(child=RefField(), max_length=10000, default=list, help_text="Host ids or hostnames.")
    vars = VarsField(default=dict)


class HostGroupOutput(serializers.ModelSerializer):
    hosts = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    host_count = serializers.SerializerMethodField()

    class Meta:
        model = HostGroup
        fields = ["id", "name", "description", "hosts", "host_count", "vars", "created_at", "updated_at"]

    def get_host_count(self, obj: HostGroup) -> int:
        return len(obj.hosts.all())


class EmptyInput(StrictSerializerMixin, serializers.Serializer):
    """No fields: a body, if any, must be an empty JSON object."""


class HostKeyOutput(serializers.ModelSerializer):
    trusted_by = serializers.CharField(source="trusted_by.username", default=None, allow_null=True, read_only=True)

    class Meta:
        model = HostKey
        fields = ["id", "algorithm", "fingerprint_sha256", "state", "first_seen", "trusted_by", "trusted_at"]
