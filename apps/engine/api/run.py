"""`POST /api/workflows/{id}/run/` (DESIGN §6): starting a run is the engine's, addressed
from its definition. Authoring (apps.workflows) never imports the engine (DESIGN §1)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.viewsets import OrgScopedViewSet
from apps.accounts.authentication import TokenAuthentication
from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.core.api import validated
from apps.engine.api.serializers import InstanceOutput, RunInput
from apps.engine.models import Trigger
from apps.engine.selectors import instance_detail
from apps.engine.services import instance_start
from apps.workflows.models import WorkflowDefinition
from apps.workflows.selectors import definition_list


class WorkflowRunViewSet(OrgScopedViewSet):
    """Start a run of a workflow definition: a `pending` (or `scheduled`) instance."""

    serializer_class = InstanceOutput
    filter_backends: list = []
    action_permissions = {"run": Perm.WORKFLOWS_EXECUTE}

    def scoped_queryset(self, organization: Organization) -> QuerySet[WorkflowDefinition]:
        return definition_list(organization=organization)

    def get_queryset(self) -> QuerySet[WorkflowDefinition]:
        if getattr(self, "swagger_fake_view", False):
            return WorkflowDefinition.objects.none()  # the path's {id} is a definition's
        return super().get_queryset()

    @extend_schema(request=RunInput, responses={201: InstanceOutput})
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        definition = self.get_object()
        data = validated(RunInput, request.data)
        via_token = isinstance(request.successful_authenticator, TokenAuthentication)
        trigger = Trigger.API if via_token else Trigger.MANUAL
        instance = instance_start(definition=definition, actor=request.user, trigger=trigger, **data)
        instance = instance_detail(organization=self.organization).get(pk=instance.pk)
        return Response(InstanceOutput(instance).data, status=status.HTTP_201_CREATED)
