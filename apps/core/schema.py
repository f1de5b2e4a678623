"""The OpenAPI schema documents the API's error answers, not only its successes.

Every error is `{"detail", "code"}` (plus `errors` on field errors and any extra keys an
`ApplicationError` carries; see `apps.core.api.exception_handler`). Which statuses an
operation can answer follows from what every API view shares: an authenticated,
organization-scoped request (400 `organization_required`, 401, 403, 404 for an unknown
`X-Organization` or object), input validation (400), and conflicts on writes (409).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import permissions, serializers


@extend_schema_field({"oneOf": [{"type": "object", "additionalProperties": {}},
                                {"type": "array", "items": {"type": "object", "additionalProperties": {}}}]})
class ErrorsField(serializers.JSONField):
    pass


class ApiError(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(help_text="A stable code for programs, e.g. `invalid`, `not_found`.")
    errors = ErrorsField(
        required=False,
        help_text="Status 400: the field errors by field name, or for a workflow definition the list of its "
                  "problems (`path`, `code`, `message`, `severity`).",
    )


ERROR_DESCRIPTIONS = {
    "400": "Invalid input, or no organization chosen (`organization_required`).",
    "401": "No credentials, or an invalid or revoked token.",
    "403": "The user's role in the organization does not allow this.",
    "404": "No such object in the organization, no such organization, or no such page.",
    "409": "Refused in the current state (`detail` says why, `code` names the refusal).",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                error = OpenApiResponse(ApiError, description=ERROR_DESCRIPTIONS[code])
                # In the media types of the view's renderers: an error is rendered like a success.
                responses[code] = self._get_response_for_code(error, code, None, direction)
        return responses

    def _error_codes(self) -> list[str]:
        checks = self.view.get_permissions()
        if all(isinstance(check, permissions.AllowAny) for check in checks):
            return ["400"]
        codes = ["400", "401", "403", "404"]
        return [*codes, "409"] if self.method in WRITE_METHODS else codes
