from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.serializers import MemberInput, MemberOutput, OrganizationInput, OrganizationOutput
from apps.accounts.models import Membership, Organization
from apps.accounts.selectors import members_list, organizations_for_user
from apps.accounts.services import member_remove, member_set, organization_create
from apps.core.api import validated
from apps.core.errors import PermissionDenied


class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The organizations you belong to (all of them for a superuser); superusers create them."""

    permission_classes = [IsAuthenticated]
    serializer_class = OrganizationOutput
    lookup_field = "slug"
    search_fields = ["name", "slug"]
    ordering_fields = ["name", "slug", "created_at"]
    filterset_fields = ["slug"]

    def get_queryset(self) -> QuerySet[Organization]:
        if getattr(self, "swagger_fake_view", False):
            return Organization.objects.none()
        return organizations_for_user(user=self.request.user)

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if self.request.user.is_authenticated:
            context["roles"] = dict(
                Membership.objects.filter(user=self.request.user).values_list("organization_id", "role")
            )
        return context

    @extend_schema(request=OrganizationInput, responses={201: OrganizationOutput})
    def create(self, request: Request) -> Response:
        if not request.user.is_superuser:
            raise PermissionDenied("Only a superuser can create organizations.")
        data = validated(OrganizationInput, request.data)
        organization = organization_create(actor=request.user, **data)
        return Response(self.get_serializer(organization).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=MemberOutput(many=True))
    @extend_schema(methods=["POST"], request=MemberInput, responses={200: MemberOutput})
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def members(self, request: Request, slug: str | None = None) -> Response:
        organization = self.get_object()
        if request.method == "GET":
            return Response(MemberOutput(members_list(organization=organization), many=True).data)
        data = validated(MemberInput, request.data)
        membership = member_set(organization=organization, actor=request.user, **data)
        return Response(MemberOutput(membership).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<username>[^/]+)", filter_backends=[])
    def remove_member(self, request: Request, slug: str | None = None, username: str = "") -> Response:
        organization = self.get_object()
        member_remove(organization=organization, username=username, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
