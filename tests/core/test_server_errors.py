"""The server's error answers (apps.core.views.server_error), through Django's real
request handling: a database that cannot be reached is a 503 with Retry-After (JSON with a
stable code on the API), anything else a 500 without a traceback. The chaos suite proves
the same against a real Postgres that stops (tests/chaos)."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from django.urls import path

from config.urls import handler500  # noqa: F401 - the handler this URLconf must use too


def database_down(request):
    raise OperationalError('connection failed: connection to server at "127.0.0.1", port 5432 failed')


def bug(request):
    raise ZeroDivisionError("division by zero")


urlpatterns = [
    path("api/down/", database_down),
    path("page/down/", database_down),
    path("api/bug/", bug),
]

pytestmark = pytest.mark.urls(__name__)


@override_settings(DEBUG=False)
def test_database_unavailable_on_the_api_is_a_json_503():
    response = Client(raise_request_exception=False).get("/api/down/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "database_unavailable"
    assert "5432" not in response.content.decode()  # no detail of the failure leaks


@override_settings(DEBUG=False)
def test_database_unavailable_on_a_page_is_a_plain_503_page():
    response = Client(raise_request_exception=False).get("/page/down/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "Opsflow is unavailable for a moment" in response.content.decode()


@override_settings(DEBUG=False)
def test_any_other_failure_on_the_api_is_a_json_500_without_a_traceback():
    response = Client(raise_request_exception=False).get("/api/bug/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Opsflow failed to answer this request; it has been logged.",
                               "code": "server_error"}
