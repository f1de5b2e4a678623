"""Templates and conditions (DESIGN §3, §4): the Jinja2 sandbox with strict undefined.

Used by validation (does it parse, which names does it use) and by the engine (render a
command, evaluate a condition). Templates see plain data only. Every input and output is
bounded: template text, expression text, rendered output, string/list repetition and
`range()`. Compiled templates are cached, because the engine renders the same template for
every host of a step.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.parser import Parser
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE_CHARS = 64 * 1024
MAX_EXPRESSION_CHARS = 4 * 1024
MAX_OUTPUT_CHARS = 1024 * 1024
MAX_RANGE = 10_000
MAX_POWER_EXPONENT = 1_000
# Loop iterations per render, all loops together: what bounds a template's CPU time (a
# nested loop over range(10_000) would otherwise run 10^8 times and hold its worker).
MAX_LOOP_ITERATIONS = 100_000
CACHE_SIZE = 2048
TEMPLATE_MARKERS = ("{{", "{%", "{#")


class TemplateError(Exception):
    """A template or condition that does not parse, names something undefined, breaks the
    sandbox or exceeds a size limit."""


def _bounded_range(*args: int) -> range:
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items.")
    return values


def _repeat_size(left: Any, right: Any) -> int:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return len(sequence) * max(count, 0)
    return 0


# The iterations left to the render in progress (render_template sets it).
_loop_budget: ContextVar[list[int] | None] = ContextVar("opsflow_template_loop_budget", default=None)
LOOP_BUDGET_FILTER = "_opsflow_loop_budget"


def _budgeted(iterable: Any) -> Iterator[Any]:
    budget = _loop_budget.get()
    for item in iterable:
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise SecurityError(f"Loops are limited to {MAX_LOOP_ITERATIONS} iterations per template.")
        yield item


class OpsflowSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus bounds on `*` (repetition), `**` (huge numbers) and the
    iterations of `for` loops."""

    intercepted_binops = frozenset({"*", "**"})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every `{% for %}` iterates through the loop budget."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, LOOP_BUDGET_FILTER, [], [], None, None, lineno=loop.lineno)
        return tree

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*":
            if _repeat_size(left, right) > MAX_OUTPUT_CHARS:
                raise SecurityError("Repetition would exceed the output limit.")
            return operator.mul(left, right)
        if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
            raise SecurityError(f"Exponents are limited to {MAX_POWER_EXPONENT}.")
        return operator.pow(left, right)


ENVIRONMENT = OpsflowSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
ENVIRONMENT.globals["range"] = _bounded_range
ENVIRONMENT.filters[LOOP_BUDGET_FILTER] = _budgeted
# Names a template may use without them coming from the context.
GLOBAL_NAMES = frozenset(ENVIRONMENT.globals) | {"loop", "super", "self", "varargs", "kwargs", "caller"}


def is_template(text: str) -> bool:
    return any(marker in text for marker in TEMPLATE_MARKERS)


def _check_length(text: str, limit: int, what: str) -> None:
    if len(text) > limit:
        raise TemplateError(f"The {what} is {len(text)} characters long; the limit is {limit}.")


def _wrap(exc: Exception) -> TemplateError:
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(f"Syntax error on line {exc.lineno}: {exc.message}")
    if isinstance(exc, UndefinedError):
        return TemplateError(f"Undefined: {exc.message}")
    if isinstance(exc, SecurityError):
        return TemplateError(f"Not allowed: {exc}")
    return TemplateError(f"{type(exc).__name__}: {exc}")


@lru_cache(maxsize=CACHE_SIZE)
def _compiled_template(text: str) -> Any:
    return ENVIRONMENT.from_string(text)


@lru_cache(maxsize=CACHE_SIZE)
def _compiled_expression(expression: str) -> Any:
    return ENVIRONMENT.compile_expression(expression, undefined_to_none=False)


def compile_template(text: str) -> None:
    """Raise TemplateError unless `text` is a template that parses within the limits."""
    _check_length(text, MAX_TEMPLATE_CHARS, "template")
    try:
        _compiled_template(text)
    except Exception as exc:
        raise _wrap(exc) from exc


def compile_condition(expression: str) -> None:
    """Raise TemplateError unless `expression` parses as one expression within the limits."""
    _check_length(expression, MAX_EXPRESSION_CHARS, "expression")
    try:
        _compiled_expression(expression)
    except Exception as exc:
        raise _wrap(exc) from exc


def render_template(text: str, context: dict[str, Any]) -> str:
    _check_length(text, MAX_TEMPLATE_CHARS, "template")
    if not is_template(text):
        return text
    token = _loop_budget.set([MAX_LOOP_ITERATIONS])
    try:
        template = _compiled_template(text)
        size, parts = 0, []
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(f"The rendered text exceeds {MAX_OUTPUT_CHARS} characters.")
            parts.append(chunk)
    except TemplateError:
        raise
    except Exception as exc:
        raise _wrap(exc) from exc
    finally:
        _loop_budget.reset(token)
    return "".join(parts)


def evaluate_expression(expression: str, context: dict[str, Any]) -> Any:
    """The value of one expression (a condition), e.g. `steps.check.output.healthy`."""
    _check_length(expression, MAX_EXPRESSION_CHARS, "expression")
    try:
        value = _compiled_expression(expression)(context)
    except Exception as exc:
        raise _wrap(exc) from exc
    if isinstance(value, Undefined):
        try:
            value._fail_with_undefined_error()
        except Exception as exc:
            raise _wrap(exc) from exc
    return value


@lru_cache(maxsize=CACHE_SIZE)
def context_names(text: str) -> frozenset[str] | None:
    """The top-level context names a template reads ({"vars", "steps"} for
    `{{ vars.x }} {{ steps.plan.output }}`), so that a caller builds only those; None when
    it does not parse (rendering reports why)."""
    if not is_template(text):
        return frozenset()
    try:
        return frozenset(meta.find_undeclared_variables(ENVIRONMENT.parse(text)))
    except Exception:
        return None


def clear_cache() -> None:
    _compiled_template.cache_clear()
    _compiled_expression.cache_clear()
    context_names.cache_clear()


# --- names used, for validation ------------------------------------------------------------
def _parse(text: str, *, expression: bool) -> nodes.Node:
    if expression:
        compile_condition(text)
        parser = Parser(ENVIRONMENT, text, state="variable")
        return parser.parse_expression()
    compile_template(text)
    return ENVIRONMENT.parse(text)


def _chain(node: nodes.Node) -> tuple[tuple[str, ...], list[nodes.Node]] | None:
    """("steps", "plan", "output") for `steps.plan.output` / `steps["plan"].output`, plus the
    sub-expressions (dynamic keys) still to be visited; None if the chain has no Name root."""
    parts: list[str] = []
    pending: list[nodes.Node] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.clear()  # a dynamic key: the path is known only up to here
            pending.append(node.arg)
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load":
        return None
    return (node.name, *reversed(parts)), pending


def _collect(node: nodes.Node, found: set[tuple[str, ...]]) -> None:
    chain = _chain(node) if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name) else None
    if chain is not None:
        path, pending = chain
        found.add(path)
        for child in pending:
            _collect(child, found)
        return
    for child in node.iter_child_nodes():
        _collect(child, found)


def referenced_names(text: str, *, expression: bool = False) -> set[tuple[str, ...]]:
    """The context paths a template (or an expression) reads, e.g. {("vars", "x"),
    ("steps", "plan", "output")}. Names the template binds itself (loop variables, `set`,
    macro arguments) and Jinja globals are left out. Raises TemplateError if it does not parse."""
    try:
        tree = _parse(text, expression=expression)
    except TemplateError:
        raise
    except Exception as exc:
        raise _wrap(exc) from exc
    if any(True for _ in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport))):
        raise TemplateError("extends, include and import are not available: a template stands alone.")
    local = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    found: set[tuple[str, ...]] = set()
    _collect(tree, found)
    return {path for path in found if path[0] not in local and path[0] not in GLOBAL_NAMES}
