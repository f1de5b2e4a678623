from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.core.api import validated
from apps.core.viewsets import OrgScopedViewSet
from apps.engine.api.serializers import (
    CancelInput,
    InstanceListOutput,
    InstanceOutput,
    LogLineOutput,
    LogQueryInput,
)
from apps.engine.controls import instance_cancel
from apps.engine.filters import InstanceFilter
from apps.engine.models import WorkflowInstance
from apps.engine.selectors import instance_detail, instances_list, log_lines

LogPage = inline_serializer(
    "LogPage", {"lines": LogLineOutput(many=True), "last_seq": serializers.IntegerField(),
                "has_more": serializers.BooleanField()}
)


class InstanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    filterset_class = InstanceFilter
    search_fields = ["workflow_name", "triggered_by__username", "error_message"]
    ordering_fields = ["created_at", "started_at", "finished_at", "status", "workflow_name", "id"]
    ordering = ["-created_at"]
    action_permissions = {
        "list": Perm.WORKFLOWS_VIEW,
        "retrieve": Perm.WORKFLOWS_VIEW,
        "logs": Perm.WORKFLOWS_VIEW,
        "cancel": Perm.WORKFLOWS_EXECUTE,
    }

    def get_serializer_class(self) -> type:
        return InstanceListOutput if self.action == "list" else InstanceOutput

    def scoped_queryset(self, organization: Organization) -> QuerySet[WorkflowInstance]:
        if self.action == "retrieve":
            return instance_detail(organization=organization)
        return instances_list(organization=organization)

    @extend_schema(
        parameters=[OpenApiParameter(name, str if name in ("step", "host", "stream", "q") else int)
                    for name in ("after", "limit", "step", "host", "stream", "q")],
        responses=LogPage,
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def logs(self, request: Request, pk: str | None = None) -> Response:
        instance = self.get_object()
        query = validated(LogQueryInput, request.query_params.dict())
        lines = list(
            log_lines(instance=instance, after=query["after"], step=query.get("step"), host=query.get("host"),
                      stream=query.get("stream"), query=query.get("q"))[: query["limit"] + 1]
        )
        has_more = len(lines) > query["limit"]
        lines = lines[: query["limit"]]
        return Response({
            "lines": LogLineOutput(lines, many=True).data,
            "last_seq": lines[-1].seq if lines else query["after"],
            "has_more": has_more,
        })

    @extend_schema(request=CancelInput, responses=InstanceOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        data = validated(CancelInput, request.data)
        instance = instance_cancel(instance_id=self.get_object().pk, organization_id=self.organization.pk,
                                   actor=request.user, **data)
        return Response(InstanceOutput(instance_detail(organization=self.organization).get(pk=instance.pk)).data)
