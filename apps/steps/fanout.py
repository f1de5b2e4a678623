"""What `command` and `script` share: one job per target host, a canary first when the
definition asks for one, at most `max_parallel` hosts at a time."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from apps.steps.schema import SchemaStep, config_of

HOSTS_SHOWN = 100


def canary_size(hosts: int, percentage: float | None) -> int:
    """ceil(percentage % of the hosts), at least one; no canary below two hosts."""
    if not percentage or hosts < 2:
        return 0
    return min(hosts, max(1, math.ceil(hosts * float(percentage) / 100.0)))


class FanoutStep(SchemaStep):
    fans_out = True
    # The config key holding the text run on every host.
    text_key: ClassVar[str] = ""

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        hosts = sim.hosts
        names = [host["hostname"] for host in hosts]
        prediction: dict[str, Any] = {
            "hosts": names[:HOSTS_SHOWN],
            "host_count": len(names),
            "job_count": len(names),
            "max_parallel": spec.get("max_parallel"),
            "canary": None,
        }
        if not hosts:
            prediction["would_fail"] = "The instance has no target hosts for this step."
            return prediction
        canary = canary_size(len(hosts), sim.snapshot.get("canary_percentage"))
        if canary:
            prediction["canary"] = {
                "hosts": names[:canary][:HOSTS_SHOWN],
                "count": canary,
                "rest": len(names) - canary,
                "success_threshold": sim.snapshot.get("canary_success_threshold") or 80,
            }
        limit = spec.get("max_parallel")
        prediction["first_dispatch"] = canary or (min(limit, len(names)) if limit else len(names))
        preview, error = sim.try_render(config_of(spec).get(self.text_key) or "", host=hosts[0])
        prediction["preview"] = {"host": names[0], "text": preview}
        if error:
            prediction["would_fail"] = f"TemplateError: {error}"
        return prediction
