from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.viewsets import OrgScopedViewSet
from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.approvals.api.pagination import ApprovalPagination
from apps.approvals.api.serializers import ApprovalListOutput, ApprovalOutput, RespondInput
from apps.approvals.filters import ApprovalFilter
from apps.approvals.models import ApprovalRequest
from apps.approvals.selectors import approvals_list
from apps.approvals.services import approval_respond
from apps.core.api import validated


class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    filterset_class = ApprovalFilter
    pagination_class = ApprovalPagination
    search_fields = ["step_id", "message", "instance__workflow_name"]
    ordering_fields = ["created_at", "resolved_at", "expires_at", "status", "id"]
    ordering = ["-created_at", "-id"]
    # Reading is workflows.view; whether someone may answer (workflows.execute and listed,
    # or an admin) is decided in one place, apps.approvals.rules, so the refusal says why.
    action_permissions = {
        "list": Perm.WORKFLOWS_VIEW,
        "retrieve": Perm.WORKFLOWS_VIEW,
        "approve": Perm.WORKFLOWS_VIEW,
        "reject": Perm.WORKFLOWS_VIEW,
    }

    def get_serializer_class(self) -> type:
        return ApprovalListOutput if self.action == "list" else ApprovalOutput

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["organization"] = self.organization
        return context

    def scoped_queryset(self, organization: Organization) -> QuerySet[ApprovalRequest]:
        return approvals_list(organization=organization)

    def _respond(self, request: Request, *, approve: bool) -> Response:
        data = validated(RespondInput, request.data)
        approval = approval_respond(approval_id=self.get_object().pk, actor=request.user,
                                    organization=self.organization, approve=approve, **data)
        fresh = approvals_list(organization=self.organization).get(pk=approval.pk)
        return Response(ApprovalOutput(fresh, context=self.get_serializer_context()).data)

    @extend_schema(request=RespondInput, responses=ApprovalOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        return self._respond(request, approve=True)

    @extend_schema(request=RespondInput, responses=ApprovalOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        return self._respond(request, approve=False)
