"""Templates and conditions of one step: they parse within the size limits, and every name
they read can exist when the step runs (DESIGN §4: vars, hosts, steps, secrets, instance,
trigger)."""

from __future__ import annotations

from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.registry import step_type
from apps.steps.schema import config_of
from apps.steps.set import assigned_names
from apps.steps.templating import MAX_EXPRESSION_CHARS, MAX_TEMPLATE_CHARS, TemplateError, referenced_names

TEMPLATE_ROOTS = ("vars", "hosts", "steps", "secrets", "instance", "trigger")
# What the engine puts in `hosts` (per host) and `instance` (apps.engine.context).
HOST_FIELDS = frozenset({"hostname", "primary_ip", "os", "connection", "port", "vars", "labels"})
INSTANCE_FIELDS = frozenset({"id", "workflow", "version", "started_at", "parent_id", "batch_index"})


def check_templates(spec: dict[str, Any], path: str, ctx: ValidationContext) -> list[Issue]:
    kind = step_type(spec["type"])
    if not isinstance(spec.get("config"), dict):
        return []
    scope = _Scope(spec, ctx)
    issues: list[Issue] = []
    fields = [(p, t, False) for p, t in kind.template_fields(spec).items()]
    fields += [(p, t, True) for p, t in kind.expression_fields(spec).items()]
    for field_path, text, expression in fields:
        full_path = f"{path}.config.{field_path}"
        limit = MAX_EXPRESSION_CHARS if expression else MAX_TEMPLATE_CHARS
        if len(text) > limit:
            issues.append(Issue(full_path, "template_too_large",
                                f"{scope.label}{field_path} is {len(text)} characters long; the limit is {limit}."))
            continue
        try:
            names = referenced_names(text, expression=expression)
        except TemplateError as exc:
            issues.append(Issue(full_path, "template_syntax", f"{scope.label}{field_path}: {exc}"))
            continue
        for name in sorted(names):
            issue = scope.check(name, full_path, field_path)
            if issue is not None:
                issues.append(issue)
    return issues


class _Scope:
    """The names that may exist when one step runs."""

    def __init__(self, spec: dict[str, Any], ctx: ValidationContext) -> None:
        self.step_id: str = spec["id"]
        self.label = f"Step '{self.step_id}': "
        self.fans_out = step_type(spec["type"]).fans_out
        self.ctx = ctx
        upstream = [ctx.specs[s] for s in ctx.upstream.get(self.step_id, ()) if s in ctx.specs]
        self.variables = set(ctx.variable_names).union(
            *(assigned_names(s) for s in upstream if s["type"] == "set")
        )
        self.aliases = {
            config_of(s).get("alias") for s in upstream if s["type"] == "pam_checkout"
        }

    def check(self, name: tuple[str, ...], path: str, field: str) -> Issue | None:
        root, rest = name[0], name[1:]
        shown = ".".join(name)[:100]
        if root not in TEMPLATE_ROOTS:
            return Issue(path, "unknown_name", f"{self.label}{field} uses '{root}'; templates may use "
                                               f"{', '.join(TEMPLATE_ROOTS)}.")
        if root == "hosts" and not self.fans_out:
            return Issue(path, "hosts_outside_fanout",
                         f"{self.label}{field} uses {shown}; host values exist only in command and script steps.")
        if not rest:
            return None
        method = getattr(self, f"_{root}", None)
        return method(rest[0], path, field, shown) if method else None

    def _vars(self, key: str, path: str, field: str, shown: str) -> Issue | None:
        if key in self.variables:
            return None
        return Issue(path, "undeclared_variable",
                     f"{self.label}{field} uses {shown}, but no variable '{key}' is declared or set before it.")

    def _steps(self, key: str, path: str, field: str, shown: str) -> Issue | None:
        if key not in self.ctx.step_ids:
            return Issue(path, "unknown_step", f"{self.label}{field} uses {shown}, but there is no step '{key}'.")
        if not self.ctx.is_upstream(key, of=self.step_id):
            return Issue(path, "step_not_upstream",
                         f"{self.label}{field} uses {shown}, but step '{key}' cannot run before this step.")
        return None

    def _secrets(self, key: str, path: str, field: str, shown: str) -> Issue | None:
        if key in self.aliases:
            return None
        return Issue(path, "unknown_secret_alias",
                     f"{self.label}{field} uses {shown}, but no pam_checkout with alias '{key}' runs before it.")

    def _hosts(self, key: str, path: str, field: str, shown: str) -> Issue | None:
        if key not in HOST_FIELDS:
            return Issue(path, "unknown_host_field",
                         f"{self.label}{field} uses {shown}; hosts has {', '.join(sorted(HOST_FIELDS))}.")
        return None

    def _instance(self, key: str, path: str, field: str, shown: str) -> Issue | None:
        if key in INSTANCE_FIELDS:
            return None
        return Issue(path, "unknown_instance_field",
                     f"{self.label}{field} uses {shown}; instance has {', '.join(sorted(INSTANCE_FIELDS))}.")
