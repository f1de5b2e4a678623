"""Contract sweeps over every endpoint in the OpenAPI schema (issue #2, "Done when"):

- the schema generates without warnings and Swagger UI is served offline;
- tenancy matrix: a user of another organization gets 404 on every object endpoint and
  never sees foreign objects in lists or search;
- malformed JSON, wrong types and unknown fields on every write endpoint get a 4xx with a
  clear message, never a 500.
"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.roles import Role
from tests.contract.objects import MAKERS

pytestmark = pytest.mark.django_db
WRITE_METHODS = ("post", "put", "patch")


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def _fill(path: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], path)


def _request(client, method: str, url: str, **kwargs):
    return getattr(client, method)(url, **kwargs)


def test_schema_generates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "openapi:" in out.getvalue()


def test_swagger_ui_is_served_offline(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "https://" not in html.replace("https://swagger.io", "")  # no CDN asset
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any("swagger-ui-bundle" in asset for asset in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_every_object_endpoint_has_a_maker(schema):
    missing = sorted({path for path, _, _ in _operations(schema) if "{" in path and path not in MAKERS})
    assert not missing, f"add makers in tests/contract/objects.py for: {missing}"


def test_foreign_objects_are_404_on_every_object_endpoint(schema, org, other_org, make_member, api):
    client = api(make_member(org, Role.OWNER, "tenant-a"))
    failures = []
    for path, method, _ in _operations(schema):
        if "{" not in path:
            continue
        url = _fill(path, MAKERS[path](other_org))
        response = _request(client, method, url, data={}, format="json")
        if response.status_code != 404:
            failures.append(f"{method.upper()} {url} -> {response.status_code}")
    assert not failures, failures


def test_lists_and_search_never_show_foreign_objects(schema, org, other_org, make_member, api):
    client = api(make_member(org, Role.OWNER, "tenant-a"))
    foreign_ids = {path: MAKERS[path](other_org) for path, _, _ in _operations(schema) if path in MAKERS}
    for path, method, _ in _operations(schema):
        if method != "get" or "{" in path:
            continue
        for query in ("", f"?search={other_org.slug}", f"?ordering=-id&search={other_org.name}"):
            response = client.get(path + query)
            assert response.status_code == 200, (path, query, response.status_code)
            body = response.content.decode()
            assert other_org.slug not in body, (path, query)
            data = response.json()
            rows = data["results"] if isinstance(data, dict) and "results" in data else data
            detail_path = path + "{id}/"
            if detail_path in foreign_ids and isinstance(rows, list):
                foreign_id = foreign_ids[detail_path].get("id")
                assert all(str(row.get("id")) != foreign_id for row in rows), (path, query)


def _body_schema(schema: dict, operation: dict) -> dict | None:
    content = operation.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    if body and "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    return body


WRONG_BY_TYPE = {
    "string": {"not": "a string"},
    "integer": "not-a-number",
    "number": "not-a-number",
    "boolean": "not-a-boolean",
    "array": "not-a-list",
    "object": ["not", "an", "object"],
}


def _write_targets(schema, org):
    for path, method, operation in _operations(schema):
        if method not in WRITE_METHODS:
            continue
        url = _fill(path, MAKERS[path](org)) if "{" in path else path
        yield path, method, operation, url


def _assert_clear_4xx(response, label: str) -> None:
    assert 400 <= response.status_code < 500, f"{label} -> {response.status_code}: {response.content[:300]!r}"
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"], f"{label}: no detail in {body}"
    assert isinstance(body.get("code"), str) and body["code"], f"{label}: no code in {body}"


def test_malformed_json_and_non_objects_are_clear_4xx(schema, org, superuser, api):
    from apps.accounts.models import Membership

    Membership.objects.create(organization=org, user=superuser, role=Role.OWNER)
    client = api(superuser, org)
    for path, method, _operation, url in _write_targets(schema, org):
        label = f"{method.upper()} {path}"
        response = _request(client, method, url, data="{not json", content_type="application/json")
        _assert_clear_4xx(response, label + " malformed")
        deep = "[" * 100_000 + "]" * 100_000  # past Python's recursion limit
        _assert_clear_4xx(_request(client, method, url, data=deep, content_type="application/json"), label + " deep")
        for payload in ("[1, 2]", '"text"', "42", "null"):
            response = _request(client, method, url, data=payload, content_type="application/json")
            assert response.status_code < 500, f"{label} {payload} -> {response.status_code}"


def test_wrong_types_and_unknown_fields_are_clear_4xx(schema, org, superuser, api):
    from apps.accounts.models import Membership

    Membership.objects.create(organization=org, user=superuser, role=Role.OWNER)
    client = api(superuser, org)
    for path, method, operation, url in _write_targets(schema, org):
        body = _body_schema(schema, operation)
        if not body or not body.get("properties"):
            continue
        label = f"{method.upper()} {path}"
        properties = body["properties"]
        wrong = {
            name: WRONG_BY_TYPE.get(prop.get("type"), {"unexpected": ["shape"]})
            for name, prop in properties.items()
            if not prop.get("readOnly")
        }
        _assert_clear_4xx(_request(client, method, url, data=wrong, format="json"), label + " wrong types")
        _assert_clear_4xx(
            _request(client, method, url, data={"definitely_not_a_field": 1}, format="json"),
            label + " unknown field",
        )
        for name, value in wrong.items():
            response = _request(client, method, url, data={name: value}, format="json")
            assert response.status_code < 500, f"{label} {name}={value!r} -> {response.status_code}"


HOSTILE_QUERY_VALUES = ("-1.5e+273", "9" * 30, "-1", "0", "1.5", "abc", "", "\x00", "%", "2024-13-45")


def test_hostile_query_parameters_on_every_list_are_never_a_500(schema, org, superuser, api):
    """Schemathesis found `?workflow=-1.5e+273` answering 500 (an id beyond any integer
    the database takes); every query parameter of every list gets such values."""
    from apps.accounts.models import Membership

    Membership.objects.create(organization=org, user=superuser, role=Role.OWNER)
    client = api(superuser, org)
    swept = 0
    for path, method, operation in _operations(schema):
        if method != "get" or "{" in path:
            continue
        for parameter in operation.get("parameters", []):
            if parameter.get("in") != "query":
                continue
            for value in HOSTILE_QUERY_VALUES:
                response = client.get(path, {parameter["name"]: value})
                assert response.status_code < 500, f"GET {path}?{parameter['name']}={value!r} -> {response.status_code}"
                swept += 1
    assert swept > 200


@pytest.mark.parametrize("path, name", [
    ("/api/instances/", "workflow"), ("/api/instances/", "parent"),
    ("/api/approvals/", "workflow"), ("/api/approvals/", "instance"), ("/api/hosts/", "credential"),
])
@pytest.mark.parametrize("value", ["-1.5e+273", "9" * 30, "0", "1.5"])
def test_an_id_filter_outside_the_id_range_is_a_clear_400(path, name, value, org, operator, api):
    response = api(operator, org).get(path, {name: value})
    assert response.status_code == 400, response.content
    body = response.json()
    assert name in body["errors"] and body["detail"].startswith(f"{name}: "), body


@pytest.mark.parametrize("path, name", [
    ("/api/audit/", "created_after"), ("/api/instances/", "created_before"), ("/api/instances/", "finished_after"),
])
def test_a_datetime_filter_with_an_offset_the_database_refuses_is_read_in_utc(path, name, org, owner, api):
    """Schemathesis: `?created_after=0151-10-30T22:57:25+16:43` was a 500 (PostgreSQL takes
    no offset past 15:59; Python does)."""
    response = api(owner, org).get(path, {name: "0151-10-30T22:57:25+16:43"})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path, name", [("/api/audit/", "created_before"), ("/api/instances/", "started_before")])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"])
def test_a_datetime_filter_outside_the_years_1_to_9999_in_utc_is_a_clear_400(path, name, value, org, owner, api):
    response = api(owner, org).get(path, {name: value})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["detail"].startswith(f"{name}: ") and name in body["errors"], body


@pytest.mark.parametrize("url", ["/api/hosts/-5.2e-25/", "/api/workflows/1/versions/%C2%84/", "/api/no-such-thing/"])
def test_an_api_url_that_no_route_matches_is_a_json_404(url, org, owner, api):
    """Schemathesis: an id that is not a number never reaches the API's views; Django
    answered with the portal's HTML 404 page."""
    response = api(owner, org).get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_page_that_does_not_exist_is_still_an_html_404(client, owner):
    client.force_login(owner)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_too_many_form_fields_on_the_api_is_a_json_400(org, owner, api, settings):
    """Schemathesis: a multipart body past DATA_UPLOAD_MAX_NUMBER_FIELDS got Django's HTML
    400 page (its SuspiciousOperation escapes DRF's handler)."""
    fields = {f"field{number}": "x" for number in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = api(owner, org).post("/api/hosts/", fields, format="multipart")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "bad_request" and "DATA_UPLOAD_MAX_NUMBER_FIELDS" in body["detail"], body
