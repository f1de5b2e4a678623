#!/usr/bin/env python3
"""Import layering check for `apps/` (issue 14, item 8; DESIGN §1 "Layers go one way down").

Reads every module under a package root with `ast` (nothing is imported or executed) and
builds the graph of imports between its modules. Three rules, each reported per edge:

- loop: the edge lies on an import loop (both ends in one strongly connected component).
- hidden: the import is inside a function. Such an import is how a loop gets dodged, so it
  is an edge like any other and is reported on its own; `AppConfig.ready()` is exempt
  (Django's documented place for imports that need the app registry).
- direction: the edge goes from an app to one that DESIGN §1 puts above it (`RULES`).

Imports under `if TYPE_CHECKING:` count as well: an annotation that needs a higher layer
is a dependency on it. Celery tasks sent by name are not imports and are not edges.

A baseline file lists today's known violations, one edge a line with the reason it is
allowed for now (`source -> target  # reason`). The check fails on any violating edge not
in the baseline, and on a baseline line whose edge no longer violates anything (delete the
line: the baseline only shrinks).

    python scripts/check_import_layers.py                # apps/ against the baseline
    python scripts/check_import_layers.py --write-baseline   # regenerate (reasons kept)
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = Path(__file__).resolve().parent / "import_layers_baseline.txt"

# DESIGN §1 and issue 14 item 7: an app (key) never imports the apps listed. `*` means every
# app of the package but itself. Composition roots (`site`) sit above all and are never
# imported by an app.
ALL = "*"
_BELOW_DOMAIN = frozenset({"steps", "workflows", "engine", "jobs", "approvals", "notifications", "site"})
RULES: dict[str, frozenset[str] | str] = {
    "core": ALL,
    "steps": frozenset({"engine", "jobs", "site"}),
    "workflows": frozenset({"engine", "jobs", "site"}),
    "jobs": frozenset({"engine", "site"}),
    "approvals": frozenset({"engine", "site"}),
    "notifications": frozenset({"engine", "site"}),
    # "below all of these" (DESIGN §1): the authoring and execution apps as well.
    **dict.fromkeys(("inventory", "credentials", "audit", "accounts"), _BELOW_DOMAIN),
}
ABOVE_ALL = frozenset({"site"})


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}"


@dataclass
class Graph:
    package: str
    modules: set[str] = field(default_factory=set)
    # edge -> kinds of import statements that make it: "module", "hidden", "typing"
    edges: dict[Edge, set[str]] = field(default_factory=dict)
    # edge -> "path:line" of its first occurrence, for messages
    where: dict[Edge, str] = field(default_factory=dict)


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def iter_sources(package_dir: Path) -> Iterator[Path]:
    for path in sorted(package_dir.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # frozen history; never rewritten to follow the layers
        yield path


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportVisitor(ast.NodeVisitor):
    """Collects (imported name, kind, line); kind is module, hidden (in a function) or typing."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str | None, int, str, int]] = []  # (module, name, level, kind, line)
        self._function_depth = 0
        self._typing_depth = 0
        self._ready_depth = 0
        self._class_stack: list[ast.ClassDef] = []

    def _kind(self) -> str | None:
        if self._function_depth:
            return None if self._ready_depth else "hidden"
        return "typing" if self._typing_depth else "module"

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._class_stack.append(node)
        self.generic_visit(node)
        self._class_stack.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        is_ready = (
            node.name == "ready"
            and self._function_depth == 0
            and bool(self._class_stack)
            and any(_base_name(b) == "AppConfig" for b in self._class_stack[-1].bases)
        )
        self._function_depth += 1
        self._ready_depth += is_ready
        self.generic_visit(node)
        self._ready_depth -= is_ready
        self._function_depth -= 1

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self._typing_depth += 1
            for child in node.body:
                self.visit(child)
            self._typing_depth -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        kind = self._kind()
        if kind:
            for alias in node.names:
                self.found.append((alias.name, None, 0, kind, node.lineno))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        kind = self._kind()
        if kind:
            for alias in node.names:
                self.found.append((node.module or "", alias.name, node.level, kind, node.lineno))


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _resolve(
    importer: str, is_package: bool, module: str, name: str | None, level: int, modules: set[str]
) -> str | None:
    if level:
        parts = importer.split(".")
        if not is_package:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)]
        module = ".".join([*parts, module] if module else parts)
    if name is not None and f"{module}.{name}" in modules:
        return f"{module}.{name}"  # `from apps.x import submodule`
    # `import a.b.c` or `from a.b import Thing`: the deepest known module named.
    candidate = module
    while candidate:
        if candidate in modules:
            return candidate
        candidate = candidate.rpartition(".")[0]
    return None


def build_graph(base: Path, package: str) -> Graph:
    graph = Graph(package=package)
    sources = {module_name(path, base): path for path in iter_sources(base / package)}
    graph.modules = set(sources)
    for importer, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        visitor = _ImportVisitor()
        visitor.visit(tree)
        for module, name, level, kind, line in visitor.found:
            target = _resolve(importer, path.name == "__init__.py", module, name, level, graph.modules)
            if target is None or target in (importer, package):
                continue
            edge = Edge(importer, target)
            graph.edges.setdefault(edge, set()).add(kind)
            graph.where.setdefault(edge, f"{path.relative_to(base)}:{line}")
    return graph


def strongly_connected(nodes: Iterable[str], edges: Iterable[Edge]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on long chains)."""
    successors: dict[str, list[str]] = {}
    for edge in edges:
        successors.setdefault(edge.source, []).append(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(successors.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def app_of(module: str, package: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == package else None


def direction_broken(edge: Edge, package: str) -> bool:
    source_app, target_app = app_of(edge.source, package), app_of(edge.target, package)
    if source_app is None or target_app is None or source_app == target_app:
        return False
    if target_app in ABOVE_ALL:
        return True
    forbidden = RULES.get(source_app)
    if forbidden == ALL:
        return True
    return bool(forbidden) and target_app in forbidden


def violations(graph: Graph) -> dict[Edge, list[str]]:
    """Every violating edge with the rules it breaks (loop, hidden, direction)."""
    in_loop: set[str] = set()
    component_of: dict[str, int] = {}
    for number, component in enumerate(strongly_connected(graph.modules, graph.edges)):
        if len(component) > 1:
            in_loop |= component
            for member in component:
                component_of[member] = number
    found: dict[Edge, list[str]] = {}
    for edge, kinds in sorted(graph.edges.items()):
        broken = []
        if edge.source in in_loop and component_of.get(edge.source) == component_of.get(edge.target):
            broken.append("loop")
        if "hidden" in kinds:
            broken.append("hidden")
        if direction_broken(edge, graph.package):
            broken.append("direction")
        if broken:
            found[edge] = broken
    return found


def read_baseline(path: Path) -> dict[Edge, str]:
    baseline: dict[Edge, str] = {}
    if not path.exists():
        return baseline
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line, _, reason = raw.partition("#")
        line = line.strip()
        if not line:
            continue
        source, arrow, target = line.partition("->")
        if not arrow or not source.strip() or not target.strip() or not reason.strip():
            raise SystemExit(f"{path}:{number}: expected `source -> target  # reason`, got {raw!r}")
        baseline[Edge(source.strip(), target.strip())] = reason.strip()
    return baseline


def write_baseline(path: Path, found: dict[Edge, list[str]], old: dict[Edge, str]) -> None:
    lines = [
        "# Known import-layer violations in apps/ (scripts/check_import_layers.py). One edge a line:",
        "#   source -> target  # why it is allowed for now",
        "# The check fails on a new violation and on a line that no longer violates: this file only shrinks.",
    ]
    for edge, rules in found.items():
        reason = old.get(edge) or f"{'+'.join(rules)}: issue 14, not yet untangled"
        lines.append(f"{edge}  # {reason}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def check(graph: Graph, baseline: dict[Edge, str]) -> list[str]:
    found = violations(graph)
    problems = []
    for edge, rules in found.items():
        if edge not in baseline:
            problems.append(f"{graph.where[edge]}: {edge} breaks {', '.join(rules)}")
    for edge in baseline:
        if edge not in found:
            problems.append(f"baseline: {edge} no longer violates anything; delete its line")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="directory that holds the package")
    parser.add_argument("--package", default="apps")
    parser.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    parser.add_argument("--write-baseline", action="store_true")
    args = parser.parse_args(argv)

    graph = build_graph(args.root, args.package)
    baseline = read_baseline(args.baseline)
    if args.write_baseline:
        write_baseline(args.baseline, violations(graph), baseline)
        return 0
    problems = check(graph, baseline)
    for problem in problems:
        print(problem)
    if problems:
        print(
            f"{len(problems)} import-layer problem(s). Layers: DESIGN.md §1; "
            f"baseline: {args.baseline.relative_to(ROOT) if args.baseline.is_relative_to(ROOT) else args.baseline}"
        )
        return 1
    print(f"import layers: {len(graph.modules)} modules, {len(graph.edges)} edges, {len(baseline)} known violations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
