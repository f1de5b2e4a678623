"""Portal pages for workflow definitions: the Workflows landing page (list, search, clone,
export, import, delete, template library) and the editor.

The views call the same selectors and services as the REST API (`apps.workflows.api`);
the editor's browser code saves, publishes, simulates and lists versions through that API
with the session and its CSRF token, so one code path serves both. Errors users cause are
shown as messages (actions) or next to the form (import).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Organization
from apps.accounts.roles import Perm
from apps.accounts.selectors import user_has_perm
from apps.core.errors import ApplicationError, InvalidInput
from apps.portal.access import back_to, org_view
from apps.portal.pagination import paginate
from apps.workflows.editor import definition_yaml, editor_schema
from apps.workflows.filters import WorkflowDefinitionFilter
from apps.workflows.formats import CONTENT_DEFAULTS, definition_content, parse_definition_text
from apps.workflows.forms import ImportForm
from apps.workflows.models import WorkflowDefinition
from apps.workflows.selectors import definition_get, definition_list, definition_templates
from apps.workflows.services import (
    definition_clone,
    definition_delete,
    definition_export,
    definition_import,
    definition_update,
)
from apps.workflows.validation import json_problem, validate_definition

PAGE_SIZE = 25
ACTIONS = {
    "create": Perm.WORKFLOWS_CREATE,
    "edit": Perm.WORKFLOWS_EDIT,
    "delete": Perm.WORKFLOWS_DELETE,
    "execute": Perm.WORKFLOWS_EXECUTE,
}


def permissions(request: HttpRequest, organization: Organization) -> dict[str, bool]:
    """What the user may do here, for showing only the controls that will work."""
    return {
        action: user_has_perm(user=request.user, organization=organization, perm=perm)
        for action, perm in ACTIONS.items()
    }


# --- the landing page ------------------------------------------------------------------------
@require_GET
@org_view(Perm.WORKFLOWS_VIEW)
def definition_list_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    context, valid = _list_context(request, organization, ImportForm())
    return render(request, "workflows/definition_list.html", context, status=200 if valid else 400)


def _list_context(
    request: HttpRequest, organization: Organization, import_form: ImportForm
) -> tuple[dict[str, Any], bool]:
    """The page's context, and whether the filters were valid (the same filters as the API)."""
    definitions = definition_list(organization=organization)
    filterset = WorkflowDefinitionFilter(request.GET, queryset=definitions)
    valid = filterset.is_valid()
    context = {
        "filterset": filterset,
        "can": permissions(request, organization),
        "import_form": import_form,
        **paginate(request, filterset.qs if valid else definitions.none(), per_page=PAGE_SIZE),
    }
    return context, valid


@require_GET
@org_view(Perm.WORKFLOWS_VIEW)
def template_library_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    """The organization's templates, fetched on its own by the landing page (so the list's
    search and paging never hide a template); a full page when opened directly."""
    context = {"templates": definition_templates(organization=organization), "can": permissions(request, organization)}
    fragment = request.headers.get("X-Fragment") == "1"
    name = "workflows/_template_library.html" if fragment else "workflows/template_library.html"
    return render(request, name, context)


@require_POST
@org_view(Perm.WORKFLOWS_CREATE)
def definition_import_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            definition = definition_import(
                organization=organization,
                actor=request.user,
                definition=form.document,
                name=form.cleaned_data["name"] or None,
            )
        except ApplicationError as exc:
            for message in _error_lines(exc):
                form.add_error(None, message)
            status = exc.status_code
        else:
            messages.success(request, f"Imported '{definition.name}' as a draft.")
            return redirect("workflows:definition-edit", definition.pk)
    else:
        status = 400
    context, _ = _list_context(request, organization, form)
    return render(request, "workflows/definition_list.html", {**context, "import_open": True}, status=status)


def _error_lines(exc: ApplicationError) -> list[str]:
    """The error's message, then each validation error with the path it concerns."""
    issues = exc.extra.get("errors")
    details = [f"{i['path'] or 'definition'}: {i['message']}" for i in issues] if isinstance(issues, list) else []
    return [exc.message, *details]


@require_POST
@org_view(Perm.WORKFLOWS_CREATE)
def definition_clone_view(request: HttpRequest, organization: Organization, definition_id: int) -> HttpResponse:
    source = definition_get(organization=organization, definition_id=definition_id)
    try:
        copy = definition_clone(organization=organization, definition_id=source.pk, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("workflows:definition-list")
    messages.success(request, f"Cloned '{source.name}' as '{copy.name}', a draft.")
    return redirect("workflows:definition-edit", copy.pk)


@require_GET
@org_view(Perm.WORKFLOWS_VIEW)
def definition_export_view(request: HttpRequest, organization: Organization, definition_id: int) -> HttpResponse:
    definition = definition_get(organization=organization, definition_id=definition_id)
    response = JsonResponse(definition_export(definition=definition), json_dumps_params={"indent": 2})
    filename = f"{slugify(definition.name) or 'workflow'}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
@org_view(Perm.WORKFLOWS_DELETE)
def definition_delete_view(request: HttpRequest, organization: Organization, definition_id: int) -> HttpResponse:
    definition = definition_get(organization=organization, definition_id=definition_id)
    if request.method == "GET":
        return render(request, "workflows/definition_delete.html", {"definition": definition})
    try:
        definition_delete(organization=organization, definition_id=definition.pk, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("workflows:definition-list")
    messages.success(request, f"Deleted workflow '{definition.name}'.")
    return redirect("workflows:definition-list")


# What the list's row actions change on a definition, and what they then say. Published
# definitions are immutable but for these two flags (DESIGN §4); the service audits each change.
FLAG_CHANGES: dict[str, tuple[dict[str, bool], str]] = {
    "unpublish": ({"is_published": False}, "Unpublished '{name}': it is a draft again and can be edited."),
    "deactivate": ({"is_active": False}, "Deactivated '{name}': it cannot be started until it is activated again."),
    "activate": ({"is_active": True}, "Activated '{name}': it can be started."),
}


@require_POST
@org_view(Perm.WORKFLOWS_EDIT)
def definition_flags_view(
    request: HttpRequest, organization: Organization, definition_id: int, change: str
) -> HttpResponse:
    flags, done = FLAG_CHANGES[change]
    definition = definition_get(organization=organization, definition_id=definition_id)
    try:
        definition_update(organization=organization, definition_id=definition.pk, actor=request.user, **flags)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(name=definition.name))
    return redirect(back_to(request, reverse("workflows:definition-list")))


# --- the editor --------------------------------------------------------------------------------
@require_GET
@org_view(Perm.WORKFLOWS_CREATE)
def definition_new_view(request: HttpRequest, organization: Organization) -> HttpResponse:
    return _editor(request, organization, None)


@require_GET
@org_view(Perm.WORKFLOWS_VIEW)
def definition_edit_view(request: HttpRequest, organization: Organization, definition_id: int) -> HttpResponse:
    definition = definition_list(organization=organization).filter(pk=definition_id).first()
    if definition is None:  # the same 404 as the selector's
        definition_get(organization=organization, definition_id=definition_id)
    return _editor(request, organization, definition)


def _editor(request: HttpRequest, organization: Organization, definition: WorkflowDefinition | None) -> HttpResponse:
    can = permissions(request, organization)
    if definition is None:
        document = {**CONTENT_DEFAULTS, "name": ""}
        flags = {"is_active": True, "is_published": False, "is_template": request.GET.get("template") == "1"}
        validation: dict[str, list] = {"errors": [], "warnings": []}
        editable = can["create"]
    else:
        document = definition_content(definition)
        flags = {key: getattr(definition, key) for key in ("is_active", "is_published", "is_template")}
        result = validate_definition(document, organization_id=organization.pk, definition_id=definition.pk)
        validation = {
            "errors": [i.as_dict() for i in result.errors],
            "warnings": [i.as_dict() for i in result.warnings],
        }
        editable = can["edit"] and not definition.is_published
    data = {
        "id": definition.pk if definition else None,
        "definition": document,
        "flags": flags,
        "validation": validation,
        "editable": editable,
        "mode": "visual" if request.GET.get("mode") == "visual" else "steps",
        "organization": organization.slug,
        "schema": editor_schema(),
        "urls": _editor_urls(definition),
    }
    context = {"definition": definition, "flags": flags, "editable": editable, "can": can, "editor_data": data}
    return render(request, "workflows/editor.html", context)


def _editor_urls(definition: WorkflowDefinition | None) -> dict[str, str]:
    urls = {
        "create": reverse("workflow-list"),
        "source": reverse("workflows:source"),
        "hosts": reverse("host-list"),
        "groups": reverse("host-group-list"),
        "edit": reverse("workflows:definition-edit", args=[0]).replace("/0/", "/{id}/"),
    }
    if definition is not None:
        urls.update(
            {
                "detail": reverse("workflow-detail", args=[definition.pk]),
                "publish": reverse("workflow-publish", args=[definition.pk]),
                "versions": reverse("workflow-versions", args=[definition.pk]),
                "simulate": reverse("workflow-simulate", args=[definition.pk]),
            }
        )
    return urls


@require_POST
@org_view(Perm.WORKFLOWS_VIEW)
def source_view(request: HttpRequest, organization: Organization) -> JsonResponse:
    """The editor's source view: `{"text"}` (JSON or YAML) -> `{"definition"}`, or
    `{"definition"}` -> `{"text"}` in YAML. Parsing only; nothing is saved or validated."""
    try:
        payload = json.loads(request.body or b"{}")
        if not isinstance(payload, dict):
            raise InvalidInput("Send a JSON object with 'text' or 'definition'.")
        if isinstance(payload.get("text"), str):
            return JsonResponse({"definition": _parse_source(payload["text"])})
        if "definition" in payload:
            _check_json(payload["definition"])
            return JsonResponse({"text": definition_yaml(payload["definition"])})
        raise InvalidInput("Send a JSON object with 'text' or 'definition'.")
    except (ValueError, RecursionError):
        return JsonResponse({"detail": "The request body must be JSON.", "code": "invalid"}, status=400)
    except ApplicationError as exc:
        return JsonResponse({"detail": exc.message, "code": exc.code}, status=exc.status_code)


def _parse_source(text: str) -> dict[str, Any]:
    data = parse_definition_text(text)
    if not isinstance(data, dict):
        raise InvalidInput("The definition must be a JSON or YAML object.", code="invalid_definition")
    _check_json(data)
    return data


def _check_json(data: Any) -> None:
    """Plain JSON within the definition's limits (depth, numbers, keys), else a 400."""
    problem = json_problem(data, "")
    if problem is not None:
        raise InvalidInput(problem.message, code=problem.code)
