from django.db.models import QuerySet
from rest_framework import mixins

from apps.accounts.api.viewsets import OrgScopedViewSet
from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.audit.api.serializers import AuditEventOutput
from apps.audit.filters import AuditEventFilter
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_events_list


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedViewSet):
    """The organization's audit trail, newest first. Read-only: it is append-only."""

    serializer_class = AuditEventOutput
    filterset_class = AuditEventFilter
    search_fields = ["action", "actor_username", "target_repr"]
    ordering_fields = ["created_at", "action", "actor_username"]
    action_permissions = {"list": Perm.SETTINGS_VIEW, "retrieve": Perm.SETTINGS_VIEW}

    def scoped_queryset(self, organization: Organization) -> QuerySet[AuditEvent]:
        return audit_events_list(organization=organization)
