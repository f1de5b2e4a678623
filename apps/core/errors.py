"""Errors that users can cause. Each carries an HTTP status and a stable `code`.

One DRF exception handler (`apps.core.api.exception_handler`) maps them to
`{"detail": ..., "code": ...}`; portal views show `message` as a flash message.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.extra = extra or {}


class InvalidInput(ApplicationError):
    status_code = 400
    default_code = "invalid"


class OrganizationRequired(ApplicationError):
    status_code = 400
    default_code = "organization_required"


class PermissionDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"


class TransitionNotAllowed(Conflict):
    default_code = "transition_not_allowed"
