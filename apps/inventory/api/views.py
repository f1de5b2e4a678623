from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.viewsets import OrgScopedViewSet
from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.core.api import validated
from apps.inventory.api.serializers import (
    EmptyInput,
    HostGroupInput,
    HostGroupOutput,
    HostInput,
    HostKeyOutput,
    HostOutput,
)
from apps.inventory.filters import HostFilter, HostGroupFilter
from apps.inventory.models import Host, HostGroup
from apps.inventory.selectors import host_group_list, host_key_list, host_list
from apps.inventory.services import (
    host_create,
    host_delete,
    host_group_create,
    host_group_delete,
    host_group_update,
    host_key_revoke,
    host_key_scan,
    host_key_trust,
    host_update,
)

# Operators pick hosts for runs, so reading needs only workflows.view; changing the
# inventory is an organization setting.
INVENTORY_PERMISSIONS = {
    "list": Perm.WORKFLOWS_VIEW,
    "retrieve": Perm.WORKFLOWS_VIEW,
    "create": Perm.SETTINGS_MANAGE,
    "update": Perm.SETTINGS_MANAGE,
    "partial_update": Perm.SETTINGS_MANAGE,
    "destroy": Perm.SETTINGS_MANAGE,
}
# Host keys decide which machine a job may run on: reading them is for anyone who runs
# workflows, trusting or revoking them for editors (DESIGN §10).
HOST_KEY_PERMISSIONS = {
    "host_keys": Perm.WORKFLOWS_VIEW,
    "scan_host_key": Perm.WORKFLOWS_EDIT,
    "trust_host_key": Perm.WORKFLOWS_EDIT,
    "revoke_host_key": Perm.WORKFLOWS_EDIT,
}


class HostViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    serializer_class = HostOutput
    filterset_class = HostFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["hostname", "primary_ip", "os", "connection", "is_enabled", "created_at", "updated_at", "id"]
    action_permissions = {**INVENTORY_PERMISSIONS, **HOST_KEY_PERMISSIONS}

    def scoped_queryset(self, organization: Organization) -> QuerySet[Host]:
        return host_list(organization=organization)

    def _render(self, host: Host, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = host_list(organization=self.organization).get(pk=host.pk)
        return Response(HostOutput(fresh).data, status=status_code)

    @extend_schema(request=HostInput, responses={201: HostOutput})
    def create(self, request: Request) -> Response:
        data = validated(HostInput, request.data)
        host = host_create(organization=self.organization, actor=request.user, **data)
        return self._render(host, status.HTTP_201_CREATED)

    @extend_schema(request=HostInput, responses=HostOutput)
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=HostInput, responses=HostOutput)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        host = self.get_object()
        data = validated(HostInput, request.data, partial=partial)
        host = host_update(organization=self.organization, host_id=host.pk, actor=request.user, **data)
        return self._render(host)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        host = self.get_object()
        host_delete(organization=self.organization, host_id=host.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


    @extend_schema(responses=HostKeyOutput(many=True))
    @action(detail=True, methods=["get"], url_path="host-keys", pagination_class=None, filter_backends=[])
    def host_keys(self, request: Request, pk: str | None = None) -> Response:
        keys = host_key_list(organization=self.organization, host_id=self.get_object().pk)
        return Response(HostKeyOutput(keys, many=True).data)

    @extend_schema(request=None, responses={201: HostKeyOutput})
    @action(detail=True, methods=["post"], url_path="scan-host-key", filter_backends=[])
    def scan_host_key(self, request: Request, pk: str | None = None) -> Response:
        validated(EmptyInput, request.data)
        key = host_key_scan(organization=self.organization, host_id=self.get_object().pk, actor=request.user)
        return Response(HostKeyOutput(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=HostKeyOutput)
    @action(detail=True, methods=["post"], url_path=r"host-keys/(?P<key_id>[0-9]{1,18})/trust", filter_backends=[])
    def trust_host_key(self, request: Request, key_id: str, pk: str | None = None) -> Response:
        validated(EmptyInput, request.data)
        key = host_key_trust(organization=self.organization, host_id=self.get_object().pk, key_id=int(key_id),
                             actor=request.user)
        return Response(HostKeyOutput(key).data)

    @extend_schema(request=None, responses=HostKeyOutput)
    @action(detail=True, methods=["post"], url_path=r"host-keys/(?P<key_id>[0-9]{1,18})/revoke", filter_backends=[])
    def revoke_host_key(self, request: Request, key_id: str, pk: str | None = None) -> Response:
        validated(EmptyInput, request.data)
        key = host_key_revoke(organization=self.organization, host_id=self.get_object().pk, key_id=int(key_id),
                              actor=request.user)
        return Response(HostKeyOutput(key).data)


class HostGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    serializer_class = HostGroupOutput
    filterset_class = HostGroupFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["name", "created_at", "updated_at", "id"]
    action_permissions = INVENTORY_PERMISSIONS

    def scoped_queryset(self, organization: Organization) -> QuerySet[HostGroup]:
        return host_group_list(organization=organization)

    def _render(self, group: HostGroup, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = host_group_list(organization=self.organization).get(pk=group.pk)
        return Response(HostGroupOutput(fresh).data, status=status_code)

    @extend_schema(request=HostGroupInput, responses={201: HostGroupOutput})
    def create(self, request: Request) -> Response:
        data = validated(HostGroupInput, request.data)
        group = host_group_create(organization=self.organization, actor=request.user, **data)
        return self._render(group, status.HTTP_201_CREATED)

    @extend_schema(request=HostGroupInput, responses=HostGroupOutput)
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=HostGroupInput, responses=HostGroupOutput)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        group = self.get_object()
        data = validated(HostGroupInput, request.data, partial=partial)
        group = host_group_update(organization=self.organization, group_id=group.pk, actor=request.user, **data)
        return self._render(group)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        group = self.get_object()
        host_group_delete(organization=self.organization, group_id=group.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
