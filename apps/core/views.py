"""The server's own error pages: what a client sees when a request fails inside Opsflow.

Django calls `server_error` (config.urls.handler500) while the exception is being
handled, whatever layer raised it (a middleware loading the session, a view, a
serializer). A database that cannot be reached (down, restarting, every pooled
connection busy past OPSFLOW_DB_POOL_TIMEOUT) is not a bug: the client gets 503 with
Retry-After and, on the API, a JSON body with a stable code; the request can be repeated
once the database is back. Anything else stays a 500, without a traceback.

The 400 and 404 that Django answers itself on the API (a URL no route matches, such as
an id that is not a number; a request past Django's limits, such as too many form
fields) are JSON `{"detail", "code"}` like every other API error; pages keep their own.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is unavailable at the moment; repeat the request in a few seconds."


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/hooks/")) or "application/json" in request.headers.get("Accept", "")


def server_error(request: HttpRequest) -> HttpResponse:
    exception = sys.exc_info()[1]
    if isinstance(exception, OperationalError | InterfaceError):
        status, code, detail = 503, "database_unavailable", DATABASE_UNAVAILABLE
    else:
        status, code, detail = 500, "server_error", "Opsflow failed to answer this request; it has been logged."
    if _wants_json(request):
        response: HttpResponse = JsonResponse({"detail": detail, "code": code}, status=status)
    else:
        # A page of its own, not base.html: the layout reads the database (navigation,
        # organizations), which may be what failed.
        response = HttpResponse(render_to_string("server_error.html", {"status": status, "detail": detail}),
                                status=status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        # Django's SuspiciousOperation messages name the limit that was passed, nothing secret.
        return JsonResponse({"detail": str(exception) or "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
