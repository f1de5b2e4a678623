"""The step graph of a definition: edges, reachability, cycles, what may run before what,
and parallel branch chains (DESIGN §4). Pure: it sees the step specs only."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from apps.steps.base import Issue
from apps.steps.parallel import branch_roots
from apps.steps.registry import step_type
from apps.steps.schema import config_of

MAX_CYCLES_REPORTED = 10


class StepGraph:
    def __init__(self, specs: dict[str, dict[str, Any]], *, start: str | None, on_cancel: str | None) -> None:
        self.specs = specs
        self.edges: dict[str, list[str]] = {
            step_id: list(dict.fromkeys(t for t in step_type(spec["type"]).next_ids(spec) if self._known(t)))
            for step_id, spec in specs.items()
        }
        first = next(iter(specs), None)
        self.start = start if self._known(start) else first
        self.on_cancel = on_cancel if self._known(on_cancel) else None

    def _known(self, step_id: Any) -> bool:
        return isinstance(step_id, str) and step_id in self.specs

    def reachable(self, roots: Iterable[str | None], edges: dict[str, list[str]] | None = None) -> set[str]:
        edges = edges if edges is not None else self.edges
        seen: set[str] = set()
        queue = deque(root for root in roots if self._known(root))
        while queue:
            step_id = queue.popleft()
            if step_id in seen:
                continue
            seen.add(step_id)
            queue.extend(edges.get(step_id, ()))
        return seen

    def unreachable(self) -> list[str]:
        reached = self.reachable([self.start, self.on_cancel])
        return [step_id for step_id in self.specs if step_id not in reached]

    def cycles(self) -> list[list[str]]:
        """One cycle per back edge found by a depth-first search, e.g. ["a", "b", "a"]."""
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        found: list[list[str]] = []
        for root in self.specs:
            if root in state:
                continue
            stack: list[tuple[str, Iterable[str]]] = [(root, iter(self.edges[root]))]
            path = [root]
            state[root] = 1
            while stack and len(found) < MAX_CYCLES_REPORTED:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                elif state.get(child) == 1:
                    found.append([*path[path.index(child):], child])
                elif child not in state:
                    state[child] = 1
                    stack.append((child, iter(self.edges[child])))
                    path.append(child)
        return found

    def upstream(self) -> dict[str, frozenset[str]]:
        """step id -> every step that may have run before it. A parallel step's successors
        come after its branches; the on_cancel chain may come after any step."""
        edges = {step_id: list(targets) for step_id, targets in self.edges.items()}
        for spec in self.specs.values():
            if spec["type"] != "parallel":
                continue
            after = [t for t in (spec.get("on_success"), spec.get("on_failure")) if self._known(t)]
            for member in self.reachable(branch_roots(spec)):
                edges[member] = [*edges[member], *after]
        if self.on_cancel:
            for member in self.reachable([self.start]):
                edges[member] = [*edges[member], self.on_cancel]
        reverse: dict[str, list[str]] = {step_id: [] for step_id in self.specs}
        for source, targets in edges.items():
            for target in targets:
                reverse[target].append(source)
        return {step_id: frozenset(self.reachable(reverse[step_id], reverse)) for step_id in self.specs}

    def parallel_issues(self, paths: dict[str, str], cyclic: set[str]) -> list[Issue]:
        """Branch chains must end (on_success null) without running into the steps after
        the parallel step, and two branches of one parallel step share no step."""
        issues: list[Issue] = []
        for step_id, spec in self.specs.items():
            if spec["type"] != "parallel":
                continue
            indexed: dict[str, int] = {}
            raw = config_of(spec).get("branches")
            for index, root in enumerate(raw if isinstance(raw, list) else []):
                if self._known(root) and root != step_id:
                    indexed.setdefault(root, index)
            roots = list(indexed)
            after = self.reachable([spec.get("on_success"), spec.get("on_failure")]) | {step_id}
            chains = {root: self.reachable([root]) for root in roots}
            label = f"Step '{step_id}': "
            for position, root in enumerate(roots):
                path = f"{paths[step_id]}.config.branches[{indexed[root]}]"
                escaped = sorted(chains[root] & after)
                if escaped:
                    issues.append(Issue(path, "parallel_branch_never_ends",
                                        f"{label}branch '{root}' runs into '{escaped[0]}', which is not part of the "
                                        "branch; end the branch with a step whose on_success is null."))
                elif chains[root] & cyclic:
                    issues.append(Issue(path, "parallel_branch_never_ends", f"{label}branch '{root}' loops forever."))
                for other in roots[position + 1:]:
                    shared = sorted(chains[root] & chains[other])
                    if shared:
                        issues.append(Issue(path, "parallel_branch_overlap",
                                            f"{label}branches '{root}' and '{other}' share step '{shared[0]}'."))
        return issues
