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
from apps.credentials.api.serializers import CredentialInput, CredentialOutput, CredentialUpdateInput
from apps.credentials.filters import CredentialFilter
from apps.credentials.models import Credential
from apps.credentials.selectors import credential_list
from apps.credentials.services import credential_create, credential_delete, credential_update


class CredentialViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The organization's credential vault. `secret` is write-only: no response carries it."""

    serializer_class = CredentialOutput
    filterset_class = CredentialFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["name", "kind", "username", "created_at", "updated_at", "id"]
    action_permissions = {
        "list": Perm.SETTINGS_VIEW,
        "retrieve": Perm.SETTINGS_VIEW,
        "create": Perm.SETTINGS_MANAGE,
        "update": Perm.SETTINGS_MANAGE,
        "partial_update": Perm.SETTINGS_MANAGE,
        "destroy": Perm.SETTINGS_MANAGE,
    }

    def scoped_queryset(self, organization: Organization) -> QuerySet[Credential]:
        return credential_list(organization=organization)

    def _render(self, credential: Credential, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = credential_list(organization=self.organization).get(pk=credential.pk)
        return Response(CredentialOutput(fresh).data, status=status_code)

    @extend_schema(request=CredentialInput, responses={201: CredentialOutput})
    def create(self, request: Request) -> Response:
        data = validated(CredentialInput, request.data)
        credential = credential_create(organization=self.organization, actor=request.user, **data)
        return self._render(credential, status.HTTP_201_CREATED)

    @extend_schema(request=CredentialUpdateInput, responses=CredentialOutput)
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=CredentialUpdateInput, responses=CredentialOutput)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        credential = self.get_object()
        data = validated(CredentialUpdateInput, request.data, partial=partial)
        credential = credential_update(
            organization=self.organization, credential_id=credential.pk, actor=request.user, **data
        )
        return self._render(credential)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        credential = self.get_object()
        credential_delete(organization=self.organization, credential_id=credential.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
