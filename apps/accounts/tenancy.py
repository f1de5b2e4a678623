"""Which organization a request acts in, for the API, the portal and consumers alike."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.accounts.models import Organization
from apps.accounts.selectors import organization_resolve
from apps.core.errors import ApplicationError

HEADER = "HTTP_X_ORGANIZATION"
SESSION_KEY = "opsflow_organization"


def request_organization(request: HttpRequest) -> Organization:
    """Resolve once per request: header first, then (portal) the session's choice."""
    cached = getattr(request, "_opsflow_organization", None)
    if cached is not None:
        return cached
    session = getattr(request, "session", None)
    organization = _resolve(user=request.user, slug=request.META.get(HEADER) or None, session=session)
    request._opsflow_organization = organization
    return organization


def scope_organization(scope: dict[str, Any]) -> Organization:
    """The same decision for a WebSocket handshake (apps.accounts.websocket): the
    `X-Organization` header, then, for a browser's session, its choice, then the user's
    only organization. Synchronous (it may read the session and memberships)."""
    slug = None
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-organization":
            slug = value.decode("latin1") or None
    session = scope.get("session") if scope.get("auth") == "session" else None
    return _resolve(user=scope["user"], slug=slug, session=session)


def _resolve(*, user: Any, slug: str | None, session: Any) -> Organization:
    if slug is None and session is not None:
        chosen = session.get(SESSION_KEY)
        if chosen:
            try:
                return organization_resolve(user=user, slug=chosen)
            except ApplicationError:  # a stale choice (membership removed): fall back to the default
                session.pop(SESSION_KEY, None)
    return organization_resolve(user=user, slug=slug)
