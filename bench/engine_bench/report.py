"""Percentiles, the target checks, the printed table and the JSON document."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def dist_ms(values_seconds: Iterable[float]) -> dict[str, Any]:
    """p50/p99/max/mean in milliseconds of durations given in seconds."""
    values = [v * 1000 for v in values_seconds]
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2),
        "mean": round(sum(values) / len(values), 2),
    }


def gaps(later: datetime | None, earlier: datetime | None) -> list[float]:
    return [seconds(later - earlier)] if later is not None and earlier is not None else []


def spans(rows: Iterable[dict[str, Any]], later: str, earlier: str) -> list[float]:
    """`row[later] - row[earlier]` in seconds for every row that has both."""
    return [seconds(row[later] - row[earlier]) for row in rows if row[later] is not None and row[earlier] is not None]


@dataclass
class Row:
    scenario: str
    metric: str
    value: float | None
    unit: str
    target: str = ""
    status: str = ""  # PASS, MISSED, or "" (information only)

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        return f"{self.value:,.2f} {self.unit}".strip() if abs(self.value) < 1000 else f"{self.value:,.0f} {self.unit}"


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def info(self, scenario: str, metric: str, value: float | None, unit: str = "") -> None:
        self.rows.append(Row(scenario, metric, value, unit))

    def check(
        self, scenario: str, metric: str, value: float | None, unit: str, *, at_least: float | None = None,
        at_most: float | None = None, target: str,
    ) -> None:
        """A target row; with no value or no limit to compare to, the status is n/a."""
        limit = at_least if at_least is not None else at_most
        if value is None or limit is None:
            status = "n/a"
        elif at_least is not None:
            status = "PASS" if value >= at_least else "MISSED"
        else:
            status = "PASS" if value <= at_most else "MISSED"
        self.rows.append(Row(scenario, metric, value, unit, target, status))

    @property
    def missed(self) -> list[Row]:
        return [row for row in self.rows if row.status == "MISSED"]

    def table(self) -> str:
        header = ("scenario", "metric", "value", "target", "status")
        lines = [(r.scenario, r.metric, r.shown(), r.target, r.status) for r in self.rows]
        widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
        out = [" | ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)).rstrip()
               for line in [header, tuple("-" * w for w in widths), *lines]]
        return "\n".join(out)

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(row) for row in self.rows]


CPU_COLUMNS = ("wall_seconds", "worker", "jobs", "web", "beat", "baseline", "postgres", "bench_process", "other")


def cpu_table(scenarios: dict[str, Any]) -> str:
    """CPU seconds per scenario and process: where the time went, and how busy the rest
    of the machine was (`other`), which says how far to trust the numbers."""
    header = ("scenario", *CPU_COLUMNS)
    lines = [header]
    for key, result in scenarios.items():
        cpu = result.get("cpu_seconds") or {}
        lines.append((key, *(f"{cpu[c]:.2f}" if c in cpu else "-" for c in CPU_COLUMNS)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(" | ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(line))
                     for line in lines)


def write_json(path: Path, document: dict[str, Any]) -> str:
    text = json.dumps(document, indent=2, sort_keys=False, default=str)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return text
