"""pam_checkout: lease a vault credential for this run as `secrets.<alias>.*`; the lease is
closed by a pam_checkin, by its ttl, or when the run ends."""

from __future__ import annotations

from typing import Any

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import IDENTIFIER, Key, SchemaStep, config_of

MAX_TTL_SECONDS = 7 * 24 * 3600


class PamCheckoutStep(SchemaStep):
    type_name = "pam_checkout"
    config_schema = {
        "credential": Key((str, int), required=True, allow_blank=False, max_length=200),
        "alias": Key((str,), required=True, allow_blank=False, max_length=100),
        "ttl_seconds": Key((int,), min_value=1, max_value=MAX_TTL_SECONDS),
    }

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        issues = []
        alias = config.get("alias")
        if isinstance(alias, str) and alias.strip() and not IDENTIFIER.match(alias):
            issues.append(Issue(f"{path}.alias", "invalid_name",
                                f"{label}alias '{alias}' must be a name like db_admin (letters, digits, _)."))
        credential = config.get("credential")
        valid_ref = isinstance(credential, int | str) and not isinstance(credential, bool) and str(credential).strip()
        if valid_ref and ctx.lookups is not None and ctx.lookups.credential(credential) is None:
            issues.append(Issue(
                f"{path}.credential", "unknown_credential",
                f"{label}credential '{credential}' is not in this organization's vault (yet); "
                "the step fails at run time unless it is added.",
                severity="warning",
            ))
        return issues

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        config = config_of(spec)
        credential = sim.check_out(config["alias"], config["credential"])
        lease = {"alias": config["alias"], "ttl_seconds": config.get("ttl_seconds") or 3600,
                 "credential": credential["name"] if credential else str(config["credential"]),
                 "kind": credential["kind"] if credential else None}
        prediction: dict[str, Any] = {"would_check_out": lease}
        if credential is None:
            prediction["would_fail"] = f"NotFound: credential '{config['credential']}' was not found."
        return prediction


STEP_TYPE = PamCheckoutStep()
