from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.viewsets import OrgScopedViewSet
from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.core.api import validated
from apps.engine.api.logs import LogDownloadInput, PlainTextRenderer, log_reader
from apps.engine.api.serializers import (
    CancelInput,
    HistoryEventOutput,
    InstanceListOutput,
    InstanceOutput,
    JobOutput,
    JobQueryInput,
    LogLineOutput,
    LogQueryInput,
    ReasonInput,
    RerunInput,
)
from apps.engine.controls import instance_cancel, instance_pause, instance_resume, instance_terminate
from apps.engine.filters import InstanceFilter
from apps.engine.log_export import download_response
from apps.engine.models import WorkflowInstance
from apps.engine.rerun import instance_rerun
from apps.engine.selectors import instance_detail, instance_history, instance_jobs, instances_list, log_lines
from apps.engine.step_controls import instance_retry, step_retry, step_skip

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
        "logs_download": Perm.WORKFLOWS_VIEW,
        "cancel": Perm.WORKFLOWS_EXECUTE,
        "pause": Perm.WORKFLOWS_EXECUTE,
        "resume": Perm.WORKFLOWS_EXECUTE,
        "terminate": Perm.WORKFLOWS_EXECUTE,
        "retry": Perm.WORKFLOWS_EXECUTE,
        "rerun": Perm.WORKFLOWS_EXECUTE,
        "step_retry": Perm.WORKFLOWS_EXECUTE,
        "step_skip": Perm.WORKFLOWS_EXECUTE,
        "history": Perm.WORKFLOWS_VIEW,
        "jobs": Perm.WORKFLOWS_VIEW,
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

    @extend_schema(
        parameters=[OpenApiParameter(name, bool if name in ("follow", "raw") else int if name == "after" else str)
                    for name in ("after", "step", "host", "stream", "q", "follow", "raw")],
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], url_path="logs/download", filter_backends=[], pagination_class=None,
            renderer_classes=[JSONRenderer, PlainTextRenderer])
    def logs_download(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        """The log as plain text, streamed (DESIGN §8): the same filters as logs/; `follow`
        keeps streaming new lines until the instance ends; `raw` gives the text alone."""
        instance = self.get_object()
        data = validated(LogDownloadInput, request.query_params.dict())
        return download_response(request._request, log_reader(instance, data), follow=data["follow"])

    def _control(self, service: Any, serializer: type = ReasonInput, **kwargs: Any) -> Response:
        """Validate, call the control service, answer with the instance as it is now."""
        data = validated(serializer, self.request.data)
        instance = service(instance_id=self.get_object().pk, organization_id=self.organization.pk,
                           actor=self.request.user, **kwargs, **data)
        return Response(InstanceOutput(instance_detail(organization=self.organization).get(pk=instance.pk)).data)

    @extend_schema(request=CancelInput, responses=InstanceOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._control(instance_cancel, CancelInput)

    @extend_schema(request=ReasonInput, responses=InstanceOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._control(instance_pause)

    @extend_schema(request=ReasonInput, responses=InstanceOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._control(instance_resume)

    @extend_schema(request=ReasonInput, responses=InstanceOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def terminate(self, request: Request, pk: str | None = None) -> Response:
        return self._control(instance_terminate)

    @extend_schema(request=ReasonInput, responses=InstanceOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        return self._control(instance_retry)

    @extend_schema(request=ReasonInput, responses=InstanceOutput)
    @action(detail=True, methods=["post"], filter_backends=[], url_path=r"steps/(?P<step_id>[^/]+)/retry")
    def step_retry(self, request: Request, pk: str | None = None, step_id: str = "") -> Response:
        return self._control(step_retry, step_id=step_id)

    @extend_schema(request=ReasonInput, responses=InstanceOutput)
    @action(detail=True, methods=["post"], filter_backends=[], url_path=r"steps/(?P<step_id>[^/]+)/skip")
    def step_skip(self, request: Request, pk: str | None = None, step_id: str = "") -> Response:
        return self._control(step_skip, step_id=step_id)

    @extend_schema(
        request=RerunInput,
        responses={
            201: inline_serializer("RerunCreated", {"instance": InstanceOutput(), "plan": serializers.DictField()}),
            200: inline_serializer("RerunPlan", {"dry_run": serializers.BooleanField(),
                                                 "plan": serializers.DictField()}),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def rerun(self, request: Request, pk: str | None = None) -> Response:
        data = validated(RerunInput, request.data)
        instance, plan = instance_rerun(instance_id=self.get_object().pk, organization_id=self.organization.pk,
                                        actor=request.user, **data)
        if instance is None:
            return Response({"dry_run": True, "plan": plan})
        body = InstanceOutput(instance_detail(organization=self.organization).get(pk=instance.pk)).data
        return Response({"instance": body, "plan": plan}, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter(name, str) for name in ("step", "status", "host")],
        responses=JobOutput(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def jobs(self, request: Request, pk: str | None = None) -> Response:
        """Every job of the instance, paginated (the detail shows only each step's first ones)."""
        query = validated(JobQueryInput, request.query_params.dict())
        jobs = instance_jobs(instance=self.get_object(), step=query.get("step"), status=query.get("status"),
                             host=query.get("host"))
        page = self.paginate_queryset(jobs)
        return self.get_paginated_response(JobOutput(page, many=True).data)

    @extend_schema(responses=HistoryEventOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request: Request, pk: str | None = None) -> Response:
        events = instance_history(instance=self.get_object())
        return Response(HistoryEventOutput(events, many=True).data)
