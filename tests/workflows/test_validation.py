"""validate_definition: one table row per error code, the examples, and the DB-backed checks."""

from __future__ import annotations

import pytest

from apps.workflows.services import definition_create, definition_update
from apps.workflows.validation import ISSUE_CODES, MAX_STEPS, validate_definition
from tests.credentials.factories import CredentialFactory
from tests.workflows.conftest import basic, example


def cmd(step_id: str, command: str = "true", **fields):
    return {"id": step_id, "type": "command", "config": {"command": command}, **fields}


def with_steps(*steps, **top):
    return basic(steps=list(steps), **top)


def nested(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


CASES = [
    # (case, definition, path, code)
    ("not an object", ["steps"], "", "wrong_type"),
    ("name missing", {"steps": []}, "name", "missing_key"),
    ("name blank", basic(name="   "), "name", "blank"),
    ("name too long", basic(name="n" * 201), "name", "too_long"),
    ("unknown top-level key", basic(owner="me"), "owner", "unknown_key"),
    ("bad trigger type", basic(trigger_type="cron"), "trigger_type", "invalid_choice"),
    ("canary out of range", basic(canary_percentage=0), "canary_percentage", "out_of_range"),
    ("wrong type", basic(hold_on_failure="yes"), "hold_on_failure", "wrong_type"),
    ("NUL in text", basic(description="a\x00b"), "description", "invalid_value"),
    ("nesting too deep", basic(description=nested(40)), "description" + "[0]" * 32, "too_deep"),
    ("definition too large", basic(description="x" * (2 * 1024 * 1024)), "", "too_large"),
    ("too many steps", with_steps(*[cmd(f"s{i}") for i in range(MAX_STEPS + 1)]), "steps", "too_many_steps"),
    ("too many variables", basic(variables=[{"name": f"v{i}"} for i in range(101)]), "variables", "too_many_items"),
    ("bad variable name", basic(variables=[{"name": "1st"}]), "variables[0].name", "invalid_name"),
    ("duplicate variable", basic(variables=[{"name": "a"}, {"name": "a"}]), "variables[1].name", "duplicate_variable"),
    ("unknown step type", with_steps({"id": "x", "type": "ansible", "config": {}}), "steps[0].type", "unknown_type"),
    ("duplicate id", with_steps(cmd("a", on_success="a2"), cmd("a")), "steps[1].id", "duplicate_id"),
    ("bad step id", with_steps(cmd("has space")), "steps[0].id", "invalid_name"),
    ("unknown next id", with_steps(cmd("a", on_success="nope")), "steps[0].on_success", "unknown_step"),
    ("unknown start", with_steps(cmd("a"), start="nope"), "start", "unknown_step"),
    ("unknown on_cancel", with_steps(cmd("a"), on_cancel="nope"), "on_cancel", "unknown_step"),
    ("cycle", with_steps(cmd("a", on_success="b"), cmd("b", on_failure="a")), "steps[0]", "cycle"),
    ("unknown step field", with_steps(cmd("a", retries=3)), "steps[0].retries", "unknown_key"),
    ("wrong step field type", with_steps(cmd("a", retry_count="3")), "steps[0].retry_count", "wrong_type"),
    ("exit code range", with_steps(cmd("a", retry_on_exit_codes=[1, 300])), "steps[0].retry_on_exit_codes[1]",
     "out_of_range"),
    ("missing config key", with_steps({"id": "a", "type": "command", "config": {}}), "steps[0].config.command",
     "missing_key"),
    ("unknown config key", with_steps({"id": "a", "type": "command", "config": {"command": "x", "shell": "zsh"}}),
     "steps[0].config.shell", "unknown_key"),
    ("blank command", with_steps(cmd("a", command=" ")), "steps[0].config.command", "blank"),
    ("bad interpreter", with_steps({"id": "a", "type": "script", "config": {"interpreter": "perl", "body": "x"}}),
     "steps[0].config.interpreter", "invalid_choice"),
    ("template does not parse", with_steps(cmd("a", "echo {{ vars.package ")), "steps[0].config.command",
     "template_syntax"),
    ("template too large", with_steps(cmd("a", "{{ vars.package }}" + "x" * 70_000)), "steps[0].config.command",
     "template_too_large"),
    ("unknown template root", with_steps(cmd("a", "{{ env.HOME }}")), "steps[0].config.command", "unknown_name"),
    ("undeclared variable", with_steps(cmd("a", "{{ vars.nope }}")), "steps[0].config.command",
     "undeclared_variable"),
    ("step not upstream", with_steps(cmd("a", "{{ steps.b.output }}", on_success="b"), cmd("b")),
     "steps[0].config.command", "step_not_upstream"),
    ("template names unknown step", with_steps(cmd("a", "{{ steps.zz.status }}")), "steps[0].config.command",
     "unknown_step"),
    ("secret without checkout", with_steps(cmd("a", "{{ secrets.db.password }}")), "steps[0].config.command",
     "unknown_secret_alias"),
    ("hosts outside fan-out", with_steps({"id": "a", "type": "set",
                                          "config": {"variables": {"h": "{{ hosts.hostname }}"}}}),
     "steps[0].config.variables.h", "hosts_outside_fanout"),
    ("unknown host field", with_steps(cmd("a", "{{ hosts.fqdn }}")), "steps[0].config.command", "unknown_host_field"),
    ("unknown instance field", with_steps(cmd("a", "{{ instance.owner }}")), "steps[0].config.command",
     "unknown_instance_field"),
    ("checkin of a non-checkout", with_steps(cmd("a", on_success="b"),
                                             {"id": "b", "type": "pam_checkin", "config": {"checkout": "a"}}),
     "steps[1].config.checkout", "not_a_checkout"),
    ("checkin before its checkout", with_steps(
        {"id": "b", "type": "pam_checkin", "config": {"checkout": "a"}, "on_success": "a"},
        {"id": "a", "type": "pam_checkout", "config": {"credential": "db", "alias": "db"}}),
     "steps[0].config.checkout", "step_not_upstream"),
    ("checkin without checkout", with_steps({"id": "b", "type": "pam_checkin", "config": {"checkout": "lease"}}),
     "steps[0].config.checkout", "unknown_step"),
    ("bad alias", with_steps({"id": "a", "type": "pam_checkout", "config": {"credential": "db", "alias": "d b"}}),
     "steps[0].config.alias", "invalid_name"),
    ("parallel branch runs on", with_steps(
        {"id": "p", "type": "parallel", "config": {"branches": ["a"]}, "on_success": "after"},
        cmd("a", on_success="after"), cmd("after")), "steps[0].config.branches[0]", "parallel_branch_never_ends"),
    ("parallel branches overlap", with_steps(
        {"id": "p", "type": "parallel", "config": {"branches": ["a", "b"]}},
        cmd("a", on_success="shared"), cmd("b", on_success="shared"), cmd("shared")),
     "steps[0].config.branches[0]", "parallel_branch_overlap"),
    ("parallel without branches", with_steps({"id": "p", "type": "parallel", "config": {"branches": []}}),
     "steps[0].config.branches", "too_few_items"),
    ("bad join", with_steps({"id": "p", "type": "parallel", "config": {"branches": ["a"], "join": "some"}}, cmd("a")),
     "steps[0].config.join", "invalid_choice"),
    ("conditional next unknown", with_steps(
        {"id": "c", "type": "conditional", "config": {"branches": [{"when": "vars.package", "next": "zz"}]}}),
     "steps[0].config.branches[0].next", "unknown_step"),
    ("condition does not parse", with_steps(
        {"id": "c", "type": "conditional", "config": {"branches": [{"when": "vars.package ==", "next": "a"}]}},
        cmd("a")), "steps[0].config.branches[0].when", "template_syntax"),
    ("condition undeclared variable", with_steps(
        {"id": "c", "type": "conditional", "config": {"branches": [{"when": "vars.size > 3", "next": "a"}]}},
        cmd("a")), "steps[0].config.branches[0].when", "undeclared_variable"),
    ("delay with both", with_steps({"id": "d", "type": "delay", "config": {"seconds": 5, "until": "2030-01-01T00:00"}}),
     "steps[0].config.until", "conflicting_keys"),
    ("delay with neither", with_steps({"id": "d", "type": "delay", "config": {}}), "steps[0].config.seconds",
     "missing_key"),
    ("delay until not a date", with_steps({"id": "d", "type": "delay", "config": {"until": "tomorrow"}}),
     "steps[0].config.until", "invalid_datetime"),
    ("email needs to", with_steps({"id": "n", "type": "notification", "config": {"channel": "email"}}),
     "steps[0].config.to", "missing_key"),
    ("url on email", with_steps({"id": "n", "type": "notification",
                                 "config": {"channel": "email", "to": ["a@example.com"], "url": "https://x"}}),
     "steps[0].config.url", "not_for_channel"),
    ("bad url", with_steps({"id": "n", "type": "notification", "config": {"channel": "slack", "url": "ftp://x"}}),
     "steps[0].config.url", "invalid_url"),
    ("bad email", with_steps({"id": "n", "type": "notification", "config": {"channel": "email", "to": ["nobody"]}}),
     "steps[0].config.to[0]", "invalid_email"),
    ("not enough approvers", with_steps({"id": "g", "type": "approval",
                                         "config": {"approvers": ["alice"], "required_approvals": 2}}),
     "steps[0].config.required_approvals", "not_enough_approvers"),
    ("bad on_timeout", with_steps({"id": "g", "type": "approval", "config": {"on_timeout": "retry"}}),
     "steps[0].config.on_timeout", "invalid_choice"),
    ("plan_from downstream", with_steps({"id": "g", "type": "approval", "config": {"plan_from": "a"},
                                         "on_success": "a"}, cmd("a")), "steps[0].config.plan_from",
     "step_not_upstream"),
    ("set variable name", with_steps({"id": "s", "type": "set", "config": {"variables": {"not ok": 1}}}),
     "steps[0].config.variables.not ok", "invalid_name"),
    ("config not an object", with_steps({"id": "a", "type": "command", "config": "echo"}), "steps[0].config",
     "wrong_type"),
]


@pytest.mark.parametrize(("data", "path", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_error_is_reported_with_its_path_and_code(data, path, code):
    result = validate_definition(data, organization_id=None)

    found = {(issue.path, issue.code) for issue in result.errors}
    assert (path, code) in found, [issue.as_dict() for issue in result.errors]
    assert all(issue.message for issue in result.errors)


ORGANIZATION_CODES = {"unknown_workflow", "unknown_child_variable", "missing_child_variable", "child_workflow_cycle",
                      "unknown_credential"}  # tested below, against the database
WARNING_CODES = {"unreachable", "no_steps"}


def test_every_issue_code_is_covered_by_a_case():
    assert {c[3] for c in CASES} | ORGANIZATION_CODES | WARNING_CODES == ISSUE_CODES


def test_valid_definition_has_no_findings():
    result = validate_definition(basic(), organization_id=None)
    assert result.errors == [] and result.warnings == []


@pytest.mark.parametrize(("data", "path", "code"), [
    (with_steps(cmd("a"), cmd("island")), "steps[1]", "unreachable"),
    (basic(steps=[]), "steps", "no_steps"),
])
def test_warnings_do_not_block(data, path, code):
    result = validate_definition(data, organization_id=None)
    assert result.errors == []
    assert (path, code) in {(w.path, w.code) for w in result.warnings}


def test_messages_name_the_step_and_field():
    result = validate_definition(with_steps(cmd("render", "{{ vars.nope }}")), organization_id=None)
    assert result.errors[0].message.startswith("Step 'render': command uses vars.nope")


def test_on_cancel_chain_and_parallel_branches_count_as_reached_and_upstream():
    data = example("health-check") | {"on_cancel": "tidy"}
    data["steps"].append(cmd("tidy", "echo {{ steps.disk.status }} {{ vars.healthy }}"))
    result = validate_definition(data, organization_id=None)
    assert result.errors == [] and result.warnings == []


@pytest.mark.parametrize("name", ["config-deploy", "health-check", "patch-canary", "rotate-password"])
def test_examples_validate_without_errors_or_warnings(name):
    result = validate_definition(example(name), organization_id=None)
    assert result.errors == [] and result.warnings == []


@pytest.mark.django_db
def test_examples_validate_in_an_organization(org):
    CredentialFactory(organization=org, name="db-admin")
    definition_create(organization=org, actor=None, **example("config-deploy"))
    for name in ("config-deploy", "health-check", "multi-deploy", "patch-canary", "rotate-password"):
        result = validate_definition(example(name), organization_id=org.pk)
        assert result.errors == [] and result.warnings == [], (name, result)


# --- checks that look at the organization -------------------------------------------------
def child_step(ref, **config):
    return {"id": "child", "type": "workflow", "config": {"workflow": ref, **config}}


@pytest.mark.django_db
def test_child_workflow_must_be_an_active_one_of_the_same_organization(org, other_org):
    foreign = definition_create(organization=other_org, actor=None, **basic(name="foreign"))
    inactive = definition_create(organization=org, actor=None, is_active=False, **basic(name="inactive"))
    for ref in ("foreign", foreign.pk, str(foreign.pk), "inactive", inactive.pk, "missing"):
        result = validate_definition(with_steps(child_step(ref)), organization_id=org.pk)
        assert ("steps[0].config.workflow", "unknown_workflow") in {(e.path, e.code) for e in result.errors}, ref


@pytest.mark.django_db
def test_child_workflow_variables_must_be_declared_and_required_ones_given(org):
    definition_create(organization=org, actor=None, **basic(
        name="child", variables=[{"name": "ticket", "required": True}, {"name": "package", "default": "x"}]))
    result = validate_definition(with_steps(child_step("child", variables={"pkg": "{{ vars.package }}"})),
                                 organization_id=org.pk)
    codes = {(e.path, e.code) for e in result.errors}
    assert ("steps[0].config.variables.pkg", "unknown_child_variable") in codes
    assert ("steps[0].config.variables", "missing_child_variable") in codes
    ok = validate_definition(with_steps(child_step("CHILD", variables={"ticket": "T-1"})), organization_id=org.pk)
    assert ok.errors == []


@pytest.mark.django_db
def test_child_workflow_leading_back_is_a_cycle(org):
    parent = definition_create(organization=org, actor=None, **basic(name="parent"))
    definition_create(organization=org, actor=None, **with_steps(child_step("parent"), name="middle"))
    data = with_steps(child_step("middle"), name="parent")
    result = validate_definition(data, organization_id=org.pk, definition_id=parent.pk)
    assert [e.code for e in result.errors] == ["child_workflow_cycle"]
    assert "parent -> middle -> parent" in result.errors[0].message
    itself = validate_definition(with_steps(child_step(parent.pk)), organization_id=org.pk, definition_id=parent.pk)
    assert [e.code for e in itself.errors] == ["child_workflow_cycle"]
    # and saving it through the service is refused the same way
    with pytest.raises(Exception) as excinfo:
        definition_update(organization=org, definition_id=parent.pk, actor=None, steps=data["steps"])
    assert excinfo.value.extra["errors"][0]["code"] == "child_workflow_cycle"


@pytest.mark.django_db
def test_unknown_credential_is_a_warning(org, other_org):
    CredentialFactory(organization=other_org, name="db-admin")
    data = example("rotate-password")
    result = validate_definition(data, organization_id=org.pk)
    assert result.errors == []
    assert [(w.path, w.code) for w in result.warnings] == [("steps[0].config.credential", "unknown_credential")]
    credential = CredentialFactory(organization=org, name="db-admin")
    data["steps"][0]["config"]["credential"] = credential.pk
    assert validate_definition(data, organization_id=org.pk).warnings == []
