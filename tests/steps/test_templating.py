"""apps.steps.templating: the sandbox, strict undefined, limits, names used, and the cache."""

from __future__ import annotations

import pytest

from apps.steps import templating
from apps.steps.templating import (
    MAX_EXPRESSION_CHARS,
    MAX_OUTPUT_CHARS,
    MAX_TEMPLATE_CHARS,
    TemplateError,
    context_names,
    evaluate_expression,
    referenced_names,
    render_template,
)

CONTEXT = {"vars": {"package": "openssl", "count": 3}, "steps": {"plan": {"output": {"ok": True}}},
           "hosts": {"hostname": "web-1"}}


def test_renders_with_the_context_and_keeps_the_trailing_newline():
    assert render_template("apt install {{ vars.package }} on {{ hosts.hostname }}\n", CONTEXT) == (
        "apt install openssl on web-1\n")


def test_text_without_markers_is_returned_as_is():
    text = "echo 100% {done} #1"
    assert render_template(text, {}) is text


def test_autoescape_is_off():
    assert render_template("{{ vars.x }}", {"vars": {"x": "<a & b>"}}) == "<a & b>"


@pytest.mark.parametrize(("text", "message"), [
    ("{{ vars.package ", "Syntax error"),
    ("{{ vars.missing }}", "Undefined"),
    ("{{ nothing }}", "Undefined"),
    ("{{ vars.__class__.__mro__ }}", "Not allowed"),
    ("{{ vars.update({'x': 1}) }}", "Not allowed"),  # immutable sandbox
    ("{{ 'a' * 2000000 }}", "output limit"),
    ("{{ [1] * 2000000 }}", "output limit"),
    ("{{ 9 ** 99999 }}", "Exponents are limited"),
    ("{% for i in range(100000) %}{% endfor %}", r"range\(\) is limited"),
    ("{% for i in range(5000) %}{{ 'x' * 500 }}{% endfor %}", f"exceeds {MAX_OUTPUT_CHARS}"),
    ("{{ 1 / 0 }}", "ZeroDivisionError"),
])
def test_failures_are_template_errors(text, message):
    with pytest.raises(TemplateError, match=message):
        render_template(text, CONTEXT)


def test_sizes_are_bounded():
    with pytest.raises(TemplateError, match="limit is"):
        render_template("x" * (MAX_TEMPLATE_CHARS + 1), {})
    with pytest.raises(TemplateError, match="limit is"):
        evaluate_expression("1 + " * MAX_EXPRESSION_CHARS + "1", {})


@pytest.mark.parametrize(("expression", "value"), [
    ("vars.count > 2", True),
    ("steps.plan.output.ok and vars.package == 'openssl'", True),
    ("vars.count * 2", 6),
    ("vars.package | upper", "OPENSSL"),
])
def test_expressions_return_values(expression, value):
    assert evaluate_expression(expression, CONTEXT) == value


@pytest.mark.parametrize("expression", ["vars.missing", "steps.plan.output.ok.deeper", "vars.count >", "1 2"])
def test_expression_errors_and_undefined_results_raise(expression):
    with pytest.raises(TemplateError):
        evaluate_expression(expression, CONTEXT)


def test_referenced_names_are_dotted_paths_without_locals_or_globals():
    text = ("{% set n = 1 %}{% for h in vars.hosts %}{{ h.name }}{{ loop.index }}{% endfor %}"
            "{{ steps['plan'].output | tojson }}{{ steps[vars.key].status }}{{ range(n) }}{{ secrets.db.password }}")
    assert referenced_names(text) == {
        ("vars", "hosts"), ("steps", "plan", "output"), ("steps",), ("vars", "key"), ("secrets", "db", "password"),
    }
    assert referenced_names("steps.disk.output.pct > 90 or vars.force", expression=True) == {
        ("steps", "disk", "output", "pct"), ("vars", "force"),
    }
    with pytest.raises(TemplateError):
        referenced_names("{% if %}")
    with pytest.raises(TemplateError, match="stands alone"):
        referenced_names("{% include 'other' %}")


def test_compiled_templates_are_cached():
    templating.clear_cache()
    for index in range(100):
        render_template("{{ vars.package }}-" + "x", {"vars": {"package": index}})
    info = templating._compiled_template.cache_info()
    assert info.misses == 1 and info.hits == 99


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("systemctl restart nginx", frozenset()),
        ("echo {{ vars.app }} {{ hosts.hostname }}", frozenset({"vars", "hosts"})),
        ("{% for name, step in steps.items() %}{{ name }}{% endfor %}", frozenset({"steps"})),
        ("{% set steps = {} %}{{ steps }}", frozenset()),  # bound by the template itself
        ("{{ secrets.db['password'] | length }}", frozenset({"secrets"})),
        ("{{ broken", None),
    ],
)
def test_context_names_are_the_top_level_names_a_template_reads(text, names):
    assert context_names(text) == names


def test_loops_share_one_iteration_budget_per_render():
    nested = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done"
    with pytest.raises(TemplateError, match=f"limited to {templating.MAX_LOOP_ITERATIONS} iterations"):
        render_template(nested, {})
    # Just under the budget, twice: each render (of the same cached template) starts afresh.
    within = "{% for i in range(9) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done"
    assert render_template(within, {}) == "done"
    assert render_template(within, {}) == "done"


def test_loops_keep_their_features_under_the_budget():
    text = ("{% for i in range(3) %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},{% endif %}{% endfor %};"
            "{% for k, v in d | dictsort if v %}{{ k }}{% else %}none{% endfor %};"
            "{% for x in [] %}x{% else %}empty{% endfor %}")
    assert render_template(text, {"d": {"b": 1, "a": 2, "c": 0}}) == "1/3,2/3,3/3;ab;empty"
    assert context_names("{% for s in steps %}{{ s }}{% endfor %}") == frozenset({"steps"})
