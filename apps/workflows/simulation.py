"""Simulation (issue #3 item 5): walk a definition's graph for given hosts and variables
and predict what each step would do, with no side effects: nothing is created, sent,
checked out or decrypted. Each step type predicts itself (`StepType.simulate`) through the
`Simulation` it is handed; the walk assumes every step succeeds, and where a conditional
depends on results known only at run time every remaining branch is walked.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from django.contrib.auth.models import Group

from apps.accounts.models import Membership, Organization
from apps.core.errors import ApplicationError, InvalidInput
from apps.inventory.models import Host
from apps.inventory.selectors import host_groups_resolve, hosts_resolve
from apps.steps.approval import GROUP_PREFIX
from apps.steps.fanout import HOSTS_SHOWN
from apps.steps.registry import step_type
from apps.steps.templating import TemplateError, evaluate_expression, referenced_names, render_template
from apps.workflows.formats import definition_content
from apps.workflows.models import WorkflowDefinition
from apps.workflows.references import credential_info
from apps.workflows.selectors import definition_for_child
from apps.workflows.services import check_definition

MASK = "********"
MAX_CHILD_DEPTH = 3


def definition_simulate(
    *, definition: WorkflowDefinition, organization: Organization, hosts: list[Any], groups: list[Any],
    variables: dict[str, Any],
) -> dict[str, Any]:
    check_definition(definition_content(definition), organization_id=organization.pk, definition_id=definition.pk)
    targets = simulation_targets(organization=organization, hosts=hosts, groups=groups)
    return Simulation(definition=definition, organization=organization, hosts=targets, variables=variables).report()


def simulation_targets(*, organization: Organization, hosts: list[Any], groups: list[Any]) -> list[dict[str, Any]]:
    """Hosts by id or hostname, groups by id or name, this organization only (else a 400)."""
    found = {host.pk: host for host in hosts_resolve(organization=organization, refs=hosts)}
    group_rows = host_groups_resolve(organization=organization, refs=groups)
    for host in Host.objects.filter(organization=organization, groups__in=group_rows).distinct():
        found.setdefault(host.pk, host)
    return [
        {"id": h.pk, "hostname": h.hostname, "primary_ip": h.primary_ip or "", "os": h.os,
         "connection": h.connection, "port": h.port, "vars": h.vars or {}, "labels": h.labels or []}
        for h in sorted(found.values(), key=lambda h: h.hostname)
    ]


def resolve_variables(declared: list[dict[str, Any]], given: Any) -> dict[str, Any]:
    """Declared defaults with the given values over them; like a run, an undeclared name or
    a missing required value is a 400."""
    if not isinstance(given, dict):
        raise InvalidInput("variables must be an object.", code="invalid")
    names = {var["name"]: var for var in declared}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidInput(
            f"Unknown variable(s): {', '.join(unknown)}. Declared: {', '.join(sorted(names)) or 'none'}.",
            code="unknown_variable",
        )
    values = {name: given.get(name, var.get("default")) for name, var in names.items()}
    missing = [name for name, var in names.items() if var.get("required") and values[name] is None]
    if missing:
        raise InvalidInput(f"Variable '{missing[0]}' is required.", code="missing_variable")
    return values


def render_value(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return render_template(value, context)
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value


class Simulation:
    def __init__(
        self, *, definition: WorkflowDefinition, organization: Organization, hosts: list[dict[str, Any]],
        variables: dict[str, Any], depth: int = 0,
    ) -> None:
        self.definition = definition
        self.snapshot = definition_content(definition)
        self.organization = organization
        self.hosts = hosts
        self.depth = depth
        self.specs = {spec["id"]: spec for spec in self.snapshot["steps"]}
        self.sensitive = {var["name"] for var in self.snapshot["variables"] if var.get("sensitive")}
        self.vars = resolve_variables(self.snapshot["variables"], variables)
        self.steps: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        self.visited: set[str] = set()
        self._members: set[str] | None = None

    # --- the walk ---------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        shown_vars = self.masked(self.vars)
        first = self.snapshot["start"] or next(iter(self.specs), None)
        predictions = self.walk(first) if first else []
        names = [host["hostname"] for host in self.hosts]
        return {
            "workflow": {"id": self.definition.pk, "name": self.definition.name,
                         "is_published": self.definition.is_published},
            "hosts": names[:HOSTS_SHOWN],
            "host_count": len(names),
            "variables": shown_vars,
            "steps": predictions,
            "not_reached": [step_id for step_id in self.specs if step_id not in self.visited],
            "on_cancel": self.snapshot["on_cancel"],
            "summary": summarize(predictions),
        }

    def walk(self, root: str) -> list[dict[str, Any]]:
        """Predictions for the chain from `root`, in the order the steps would start."""
        predictions = []
        queue = deque([root])
        while queue:
            step_id = queue.popleft()
            if step_id in self.visited or step_id not in self.specs:
                continue
            self.visited.add(step_id)
            prediction = self.predict(self.specs[step_id])
            predictions.append(prediction)
            queue.extend(prediction["next"])
        return predictions

    def predict(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind = step_type(spec["type"])
        result = kind.simulate(spec, self)
        following = result.pop("next", None)
        output = result.pop("output", None)
        fails = "would_fail" in result
        if following is None:
            target = spec.get("on_failure") if fails else spec.get("on_success")
            following = [target] if target else []
        self.steps[spec["id"]] = {
            "status": "failed" if fails else "succeeded", "exit_code": 0 if kind.fans_out and not fails else None,
            "output": output, "error_class": "", "error_message": "", "hosts": {},
        }
        return {"id": spec["id"], "type": spec["type"], "name": spec.get("name") or "", **result,
                "on_failure": spec.get("on_failure"), "next": following}

    # --- what step types call -------------------------------------------------------------
    def context(self, *, real: bool = False, host: dict[str, Any] | None = None) -> dict[str, Any]:
        host_data = {} if host is None else {
            key: host.get(key) for key in ("hostname", "primary_ip", "os", "connection", "port", "vars", "labels")
        }
        return {
            "vars": self.vars if real else self.masked(self.vars),
            "steps": self.steps,
            "hosts": host_data,
            "secrets": self.secrets,
            "instance": {"id": None, "workflow": self.definition.name, "version": None, "started_at": None,
                         "parent_id": None, "batch_index": None},
            "trigger": {"type": "simulation"},
        }

    def try_render(self, value: Any, *, host: dict[str, Any] | None = None, real: bool = False) -> tuple[Any, str]:
        """(rendered, "") or (None, error). Without `real`, sensitive variables show masked."""
        try:
            return render_value(value, self.context(real=real, host=host)), ""
        except TemplateError as exc:
            return None, str(exc)

    def evaluate(self, expression: str) -> Any:
        return evaluate_expression(expression, self.context(real=True))

    def runtime_steps(self, text: str, *, expression: bool = False) -> list[str]:
        """The steps whose results `text` reads (known only when the workflow runs)."""
        try:
            names = referenced_names(text, expression=expression)
        except TemplateError:
            return []
        return sorted({name[1] for name in names if name[0] == "steps" and len(name) > 1})

    def set_variables(self, values: dict[str, Any]) -> None:
        self.vars.update(values)

    def masked(self, values: dict[str, Any]) -> dict[str, Any]:
        return {key: MASK if key in self.sensitive and value is not None else value for key, value in values.items()}

    def approvers(self, entries: list[str]) -> dict[str, list[str]]:
        """Usernames (group:<name> expanded to the group's members in this organization; a
        group that does not exist is listed as given) and the usernames that are not members."""
        users: list[str] = []
        for entry in entries:
            group = None
            if entry.startswith(GROUP_PREFIX):
                group = Group.objects.filter(name=entry.removeprefix(GROUP_PREFIX)).first()
            if group is None:
                users.append(entry)
                continue
            members = group.user_set.filter(memberships__organization=self.organization)
            users += sorted(members.values_list("username", flat=True))
        users = list(dict.fromkeys(users))
        unknown = [u for u in users if not u.startswith(GROUP_PREFIX) and u not in self.members()]
        return {"approvers": users, "unknown_approvers": unknown}

    def members(self) -> set[str]:
        if self._members is None:
            self._members = set(Membership.objects.filter(organization=self.organization)
                                .values_list("user__username", flat=True))
        return self._members

    def check_out(self, alias: str, ref: Any) -> dict[str, Any] | None:
        """The credential a checkout would lease; templates see it with its secret masked."""
        credential = credential_info(organization_id=self.organization.pk, ref=ref)
        if credential is not None:
            self.secrets[alias] = {"username": credential["username"], "password": MASK, "secret": MASK,
                                   "kind": credential["kind"], "name": credential["name"]}
        return credential

    def child(self, ref: Any, *, variables: dict[str, Any], hosts: list[dict[str, Any]]) -> dict[str, Any]:
        child = definition_for_child(organization_id=self.organization.pk, ref=ref)
        if child is None:
            return {"child": None, "would_fail": f"NotFound: child workflow '{ref}' was not found."}
        info: dict[str, Any] = {"child": {"id": child.pk, "name": child.name}}
        if self.depth >= MAX_CHILD_DEPTH:
            return {**info, "child_simulation": None}
        try:
            check_definition(definition_content(child), organization_id=self.organization.pk, definition_id=child.pk)
            nested = Simulation(definition=child, organization=self.organization, hosts=hosts,
                                variables=variables, depth=self.depth + 1)
            return {**info, "child_simulation": nested.report()}
        except ApplicationError as exc:
            return {**info, "would_fail": f"ConfigError: child workflow could not start: {exc.message}"}


def summarize(predictions: list[dict[str, Any]]) -> dict[str, Any]:
    """What a run would create, counted over the walk (parallel branches included)."""
    summary: dict[str, Any] = {"steps": 0, "jobs": 0, "approvals": 0, "pam_checkouts": 0, "notifications": 0,
                               "child_instances": 0, "would_fail": [], "undetermined": []}
    stack = list(predictions)
    while stack:
        prediction = stack.pop()
        summary["steps"] += 1
        summary["jobs"] += prediction.get("job_count", 0)
        summary["approvals"] += int(bool(prediction.get("would_pause_for_approval")))
        summary["pam_checkouts"] += int("would_check_out" in prediction)
        summary["notifications"] += int("would_notify" in prediction)
        summary["child_instances"] += prediction.get("batch_count", 0) if prediction.get("child") else 0
        if "would_fail" in prediction:
            summary["would_fail"].append(prediction["id"])
        if "undetermined" in prediction:
            summary["undetermined"].append(prediction["id"])
        for branch in (prediction.get("branches") or {}).values():
            stack.extend(branch)
    summary["would_fail"].sort()
    summary["undetermined"].sort()
    return summary
