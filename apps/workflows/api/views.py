from django.db.models import QuerySet
from django.utils.text import slugify
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
from apps.workflows.api.serializers import (
    CloneInput,
    EmptyInput,
    ExportOutput,
    ImportInput,
    SimulateInput,
    SimulationOutput,
    VersionDetailOutput,
    VersionOutput,
    WorkflowDetailOutput,
    WorkflowInput,
    WorkflowOutput,
)
from apps.workflows.filters import WorkflowDefinitionFilter
from apps.workflows.models import WorkflowDefinition
from apps.workflows.selectors import (
    definition_list,
    definition_templates,
    definition_version_get,
    definition_versions,
)
from apps.workflows.services import (
    definition_clone,
    definition_create,
    definition_delete,
    definition_export,
    definition_import,
    definition_publish,
    definition_update,
)
from apps.workflows.simulation import definition_simulate


class WorkflowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """Workflow definitions (DESIGN §4). Validation errors are 400 with
    `errors: [{path, code, message}]`; a published definition is immutable (409)."""

    serializer_class = WorkflowOutput
    filterset_class = WorkflowDefinitionFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["name", "trigger_type", "is_published", "created_at", "updated_at", "id"]
    permission_scope = "workflows"
    action_permissions = {
        "publish": Perm.WORKFLOWS_EDIT,
        "clone": Perm.WORKFLOWS_CREATE,
        "import_definition": Perm.WORKFLOWS_CREATE,
        "simulate": Perm.WORKFLOWS_EXECUTE,
        "versions": Perm.WORKFLOWS_VIEW,
        "version_detail": Perm.WORKFLOWS_VIEW,
        "export": Perm.WORKFLOWS_VIEW,
        "templates": Perm.WORKFLOWS_VIEW,
    }

    def scoped_queryset(self, organization: Organization) -> QuerySet[WorkflowDefinition]:
        return definition_list(organization=organization)

    def get_serializer_class(self) -> type:
        return WorkflowDetailOutput if self.action == "retrieve" else WorkflowOutput

    def _render(self, definition: WorkflowDefinition, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = definition_list(organization=self.organization).get(pk=definition.pk)
        return Response(WorkflowDetailOutput(fresh).data, status=status_code)

    @extend_schema(request=WorkflowInput, responses={201: WorkflowDetailOutput})
    def create(self, request: Request) -> Response:
        data = validated(WorkflowInput, request.data)
        definition = definition_create(organization=self.organization, actor=request.user, **data)
        return self._render(definition, status.HTTP_201_CREATED)

    @extend_schema(request=WorkflowInput, responses=WorkflowDetailOutput)
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=WorkflowInput, responses=WorkflowDetailOutput)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        definition = self.get_object()
        data = validated(WorkflowInput, request.data, partial=partial)
        definition = definition_update(
            organization=self.organization, definition_id=definition.pk, actor=request.user, **data
        )
        return self._render(definition)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        definition_delete(organization=self.organization, definition_id=definition.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=WorkflowDetailOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        validated(EmptyInput, request.data)
        definition = definition_publish(organization=self.organization, definition_id=definition.pk,
                                        actor=request.user)
        return self._render(definition)

    @extend_schema(request=CloneInput, responses={201: WorkflowDetailOutput})
    @action(detail=True, methods=["post"], filter_backends=[])
    def clone(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        data = validated(CloneInput, request.data)
        copy = definition_clone(organization=self.organization, definition_id=definition.pk, actor=request.user,
                                **data)
        return self._render(copy, status.HTTP_201_CREATED)

    @extend_schema(request=SimulateInput, responses=SimulationOutput)
    @action(detail=True, methods=["post"], filter_backends=[])
    def simulate(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        data = validated(SimulateInput, request.data)
        report = definition_simulate(definition=definition, organization=self.organization, **data)
        return Response(report)

    @extend_schema(responses=VersionOutput(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        page = self.paginate_queryset(definition_versions(definition=definition))
        return self.get_paginated_response(VersionOutput(page, many=True).data)

    @extend_schema(responses=VersionDetailOutput)
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[0-9]+)", filter_backends=[])
    def version_detail(self, request: Request, pk: str | None = None, number: str = "") -> Response:
        version = definition_version_get(definition=self.get_object(), number=number)
        return Response(VersionDetailOutput(version).data)

    @extend_schema(responses=ExportOutput)
    @action(detail=True, methods=["get"], filter_backends=[])
    def export(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        filename = f"{slugify(definition.name) or 'workflow'}.json"
        return Response(definition_export(definition=definition),
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @extend_schema(request=ImportInput, responses={201: WorkflowDetailOutput})
    @action(detail=False, methods=["post"], url_path="import", filter_backends=[])
    def import_definition(self, request: Request) -> Response:
        data = validated(ImportInput, request.data)
        definition = definition_import(organization=self.organization, actor=request.user, **data)
        return self._render(definition, status.HTTP_201_CREATED)

    @extend_schema(responses=WorkflowOutput(many=True))
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def templates(self, request: Request) -> Response:
        """The organization's template library; not affected by the list's filters or pages."""
        return Response(WorkflowOutput(definition_templates(organization=self.organization), many=True).data)
