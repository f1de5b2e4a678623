"""Hypothesis strategies: arbitrary JSON, definition-shaped noise, and valid definitions."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from apps.steps.registry import type_names

IDS = ["a", "b", "c", "lease"]
CONFIG_KEYS = [
    "command", "interpreter", "body", "approvers", "required_approvals", "allow_self_approval", "timeout_seconds",
    "on_timeout", "message", "plan_from", "branches", "default", "seconds", "until", "credential", "alias",
    "ttl_seconds", "checkout", "join", "channel", "to", "url", "subject", "payload", "secret", "workflow",
    "batch_size", "variables", "when", "next",
]
STEP_KEYS = ["id", "type", "config", "on_success", "on_failure", "timeout_seconds", "retry_count",
             "retry_delay_seconds", "retryable", "skippable", "hold_on_failure", "retry_on_exit_codes", "max_parallel",
             "name", "description"]
TEMPLATES = ["{{ vars.x }}", "{{ steps.a.output.ok }}", "{{ secrets.db.password }}", "{{ hosts.hostname }}",
             "{% if vars.x %}y{% endif %}", "{{ unclosed", "{{ ''.__class__ }}", "vars.x > 1", "steps.b.status",
             "{{ instance.id }}", "{{ trigger.kind }}", "{{ range(10**6) }}", "{{ 'a' * 10**9 }}"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
           | st.sampled_from(IDS) | st.sampled_from(TEMPLATES))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
config_like = st.dictionaries(st.sampled_from(CONFIG_KEYS), json_values | st.lists(st.sampled_from(IDS), max_size=3)
                              | st.lists(st.fixed_dictionaries({"when": st.sampled_from(TEMPLATES),
                                                                "next": st.sampled_from(IDS)}), max_size=2),
                              max_size=6)
step_like = st.dictionaries(
    st.sampled_from(STEP_KEYS),
    st.sampled_from(IDS) | st.sampled_from(type_names()) | config_like | json_values,
    max_size=8,
)
definition_like = st.fixed_dictionaries(
    {"name": st.text(max_size=30) | json_values},
    optional={
        "steps": st.lists(step_like, max_size=6) | json_values,
        "variables": st.lists(st.dictionaries(st.sampled_from(["name", "default", "sensitive", "required", "x"]),
                                              st.sampled_from(["x", "y"]) | json_values, max_size=3), max_size=3),
        "start": st.sampled_from(IDS) | json_values,
        "on_cancel": st.sampled_from(IDS) | json_values,
        "canary_percentage": json_values,
        "trigger_type": st.sampled_from(["manual", "schedule", "cron"]) | json_values,
        "unexpected": json_values,
    },
)

identifiers = st.from_regex(r"\A[a-z][a-z0-9_]{0,11}\Z")
plain_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="{}%#\x00"), max_size=20)


@st.composite
def templates(draw: Any, variables: list[str]) -> str:
    text = draw(plain_text)
    if variables and draw(st.booleans()):
        text += "{{ vars.%s }}" % draw(st.sampled_from(variables))  # noqa: UP031 - braces are literal
    return text


@st.composite
def configs(draw: Any, kind: str, variables: list[str], later: list[str]) -> dict[str, Any]:
    text = templates(variables)
    if kind == "command":
        return {"command": "echo " + draw(text)}
    if kind == "script":
        return {"interpreter": draw(st.sampled_from(["bash", "sh", "python"])), "body": "x" + draw(text)}
    if kind == "set":
        return {"variables": draw(st.dictionaries(identifiers, text | st.integers(0, 9), min_size=1, max_size=3))}
    if kind == "delay":
        return {"seconds": draw(st.integers(0, 3600))}
    if kind == "notification":
        return {"channel": "email", "to": ["ops@example.com"], "subject": draw(text), "body": draw(text)}
    if kind == "approval":
        return {"approvers": draw(st.lists(identifiers, max_size=2)), "message": draw(text),
                "on_timeout": draw(st.sampled_from(["reject", "approve", "fail", "skip"]))}
    condition = f"vars.{draw(st.sampled_from(variables))}" if variables else "true"
    return {"branches": [{"when": condition, "next": draw(st.sampled_from(later))}]}


@st.composite
def valid_definitions(draw: Any) -> dict[str, Any]:
    """A definition that validates: a chain of steps, conditionals jumping forward."""
    names = draw(st.lists(identifiers, unique=True, max_size=3))
    variables = [{"name": n, "default": draw(st.none() | st.integers(0, 5) | plain_text),
                  **({"sensitive": True} if draw(st.booleans()) else {})} for n in names]
    ids = draw(st.lists(identifiers, min_size=1, max_size=7, unique=True))
    steps = []
    for index, step_id in enumerate(ids):
        later = ids[index + 1:]
        kinds = ["command", "script", "set", "delay", "notification", "approval"] + (["conditional"] if later else [])
        kind = draw(st.sampled_from(kinds))
        step: dict[str, Any] = {"id": step_id, "type": kind, "config": draw(configs(kind, names, later)),
                                "on_success": later[0] if later else None}
        if draw(st.booleans()):
            step.update(retry_count=draw(st.integers(0, 3)), skippable=draw(st.booleans()),
                        timeout_seconds=draw(st.none() | st.integers(1, 600)))
        steps.append(step)
    return {
        "name": "gen-" + draw(identifiers),
        "description": draw(plain_text),
        "trigger_type": draw(st.sampled_from(["manual", "runbook", "schedule"])),
        "canary_percentage": draw(st.none() | st.integers(1, 100)),
        "canary_success_threshold": draw(st.integers(0, 100)),
        "default_timeout_seconds": draw(st.none() | st.integers(1, 86400)),
        "hold_on_failure": draw(st.booleans()),
        "variables": variables,
        "steps": steps,
    }
