"""The step catalogue: every type registered, its edges, templates and config schema."""

from __future__ import annotations

import pytest

from apps.steps.base import Issue, StepType, ValidationContext
from apps.steps.fanout import canary_size
from apps.steps.registry import STEP_MODULES, UnknownStepType, step_type, type_names
from apps.steps.schema import Key, check_object, is_type


def test_every_type_loads_from_its_own_module():
    for name in type_names():
        kind = step_type(name)
        assert isinstance(kind, StepType) and kind.type_name == name
        assert type(kind).__module__ == STEP_MODULES[name]
    assert {name for name in type_names() if step_type(name).fans_out} == {"command", "script"}
    with pytest.raises(UnknownStepType):
        step_type("ansible")


def test_type_specific_edges():
    conditional = {"id": "c", "type": "conditional", "on_success": "s", "on_failure": "f",
                   "config": {"branches": [{"when": "true", "next": "a"}, {"when": "false", "next": "b"}],
                              "default": "d"}}
    parallel = {"id": "p", "type": "parallel", "on_success": "s", "config": {"branches": ["x", "y"]}}
    assert step_type("conditional").next_ids(conditional) == ["a", "b", "d", "s", "f"]
    assert step_type("parallel").next_ids(parallel) == ["x", "y", "s", None]
    assert step_type("conditional").expression_fields(conditional) == {
        "branches[0].when": "true", "branches[1].when": "false"}
    assert step_type("parallel").next_ids({"id": "p", "type": "parallel", "config": "junk"}) == [None, None]


def test_template_fields_walk_nested_values():
    spec = {"id": "n", "type": "notification", "config": {
        "channel": "webhook", "url": "https://x/{{ vars.a }}", "payload": {"k": ["{{ vars.b }}", 1]}}}
    assert step_type("notification").template_fields(spec) == {"url": "https://x/{{ vars.a }}",
                                                               "payload.k[0]": "{{ vars.b }}"}
    set_spec = {"id": "s", "type": "set", "config": {"variables": {"x": "{{ vars.y }}", "n": 2}}}
    assert step_type("set").template_fields(set_spec) == {"variables.x": "{{ vars.y }}"}


def test_schema_rejects_unknown_keys_and_tells_json_types_apart():
    schema = {"count": Key((int,), required=True, min_value=1), "ratio": Key((float,)), "on": Key((bool,))}
    assert check_object({"count": 2, "ratio": 1, "on": False}, schema, "cfg") == []
    codes = {(i.path, i.code) for i in check_object({"count": True, "ratio": "1", "x": 1}, schema, "cfg")}
    assert codes == {("cfg.count", "wrong_type"), ("cfg.ratio", "wrong_type"), ("cfg.x", "unknown_key")}
    assert [i.code for i in check_object({"count": 0}, schema, "cfg")] == ["out_of_range"]
    assert [i.code for i in check_object({}, schema, "cfg")] == ["missing_key"]
    assert not is_type(True, (int,)) and is_type(1, (float,)) and not is_type(1.5, (int,))


def test_validate_config_sees_other_steps_through_the_context():
    ctx = ValidationContext(organization_id=None, step_ids=frozenset({"lease", "use"}), variable_names=frozenset(),
                            specs={"lease": {"id": "lease", "type": "pam_checkout"}},
                            upstream={"use": frozenset({"lease"})})
    spec = {"id": "use", "type": "pam_checkin", "config": {"checkout": "lease"}}
    assert step_type("pam_checkin").validate_config(spec, "steps[1]", ctx) == []
    ctx.upstream = {}
    assert step_type("pam_checkin").validate_config(spec, "steps[1]", ctx) == [Issue(
        "steps[1].config.checkout", "step_not_upstream",
        "Step 'use': config.checkout names step 'lease', which cannot run before it.")]


@pytest.mark.parametrize(("hosts", "percentage", "size"), [
    (10, 10, 1), (11, 10, 2), (12, 10, 2), (3, 50, 2), (1, 50, 0), (5, None, 0), (7, 100, 7), (1000, 1, 10),
])
def test_canary_size_is_the_ceiling_of_the_percentage(hosts, percentage, size):
    assert canary_size(hosts, percentage) == size
