from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.viewsets import OrgScopedViewSet
from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.core.api import validated
from apps.inventory.api.serializers import HostGroupInput, HostGroupOutput, HostInput, HostOutput
from apps.inventory.filters import HostFilter, HostGroupFilter
from apps.inventory.models import Host, HostGroup
from apps.inventory.selectors import host_group_list, host_list
from apps.inventory.services import (
    host_create,
    host_delete,
    host_group_create,
    host_group_delete,
    host_group_update,
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


class HostViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    serializer_class = HostOutput
    filterset_class = HostFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["hostname", "primary_ip", "os", "connection", "is_enabled", "created_at", "updated_at", "id"]
    action_permissions = INVENTORY_PERMISSIONS

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
