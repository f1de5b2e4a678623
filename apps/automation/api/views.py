from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.api.viewsets import OrgScopedMixin
from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.automation.api.serializers import PauseInput, ResumeInput, StatusOutput
from apps.automation.selectors import kill_switch_history, kill_switches_active
from apps.automation.services import kill_switch_engage, kill_switch_release
from apps.core.api import validated


class AutomationViewSet(OrgScopedMixin, viewsets.ViewSet):
    """The kill switch (DESIGN §6): its state, and pause / resume of automation."""

    action_permissions = {
        "status": Perm.SETTINGS_VIEW,
        "pause": Perm.SETTINGS_MANAGE,
        "resume": Perm.SETTINGS_MANAGE,
    }

    @extend_schema(responses=StatusOutput)
    @action(detail=False, methods=["get"])
    def status(self, request: Request) -> Response:
        return self._status(self.organization)

    @extend_schema(request=PauseInput, responses=StatusOutput)
    @action(detail=False, methods=["post"])
    def pause(self, request: Request) -> Response:
        data = validated(PauseInput, request.data)
        kill_switch_engage(organization=self.organization, actor=request.user, **data)
        return self._status(self.organization)

    @extend_schema(request=ResumeInput, responses=StatusOutput)
    @action(detail=False, methods=["post"])
    def resume(self, request: Request) -> Response:
        data = validated(ResumeInput, request.data)
        kill_switch_release(organization=self.organization, actor=request.user, **data)
        return self._status(self.organization)

    def _status(self, organization: Organization) -> Response:
        switches = list(kill_switches_active(organization=organization))
        history = kill_switch_history(organization=organization)
        return Response(StatusOutput({"engaged": bool(switches), "switches": switches, "history": history}).data)
