"""Roles and the exact permission strings of DESIGN §7."""

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


class Perm:
    WORKFLOWS_CREATE = "workflows.create"
    WORKFLOWS_VIEW = "workflows.view"
    WORKFLOWS_EDIT = "workflows.edit"
    WORKFLOWS_DELETE = "workflows.delete"
    WORKFLOWS_EXECUTE = "workflows.execute"
    AUTOMATION_VIEW = "automation.view"
    AUTOMATION_MANAGE = "automation.manage"
    SETTINGS_MANAGE = "settings.manage"
    SETTINGS_VIEW = "settings.view"


ALL_PERMISSIONS: frozenset[str] = frozenset(
    value for name, value in vars(Perm).items() if name.isupper()
)

_VIEWER = frozenset({Perm.WORKFLOWS_VIEW, Perm.AUTOMATION_VIEW, Perm.SETTINGS_VIEW})
_OPERATOR = _VIEWER | {Perm.WORKFLOWS_EXECUTE}
_EDITOR = _OPERATOR | {Perm.WORKFLOWS_CREATE, Perm.WORKFLOWS_EDIT, Perm.WORKFLOWS_DELETE}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.EDITOR: frozenset(_EDITOR),
    Role.ADMIN: ALL_PERMISSIONS,
    Role.OWNER: ALL_PERMISSIONS,
}

# Roles that may always respond to approvals and see every organization object.
ADMIN_ROLES = frozenset({Role.ADMIN, Role.OWNER})


def permissions_for(role: str | None) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role or "", frozenset())
