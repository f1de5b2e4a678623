"""notification: e-mail (`to`), a webhook (`url`, optional `payload` and HMAC `secret`) or a
Slack incoming webhook (`url`); every string is a template."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from apps.steps.base import Issue, ValidationContext
from apps.steps.schema import Key, SchemaStep, config_of
from apps.steps.templating import is_template

CHANNELS = ("email", "webhook", "slack")
# Keys that only make sense for some channels.
CHANNEL_KEYS = {"to": ("email",), "url": ("webhook", "slack"), "payload": ("webhook",), "secret": ("webhook",)}


class NotificationStep(SchemaStep):
    type_name = "notification"
    config_schema = {
        "channel": Key((str,), required=True, choices=CHANNELS),
        "to": Key((list,), items=(str,), allow_blank=False, min_items=1, max_items=100),
        "url": Key((str,), allow_blank=False, max_length=2048),
        "subject": Key((str,), max_length=1000),
        "body": Key((str,)),
        "payload": Key((dict,)),
        "secret": Key((str,), max_length=1000),
    }
    templated = ("to", "url", "subject", "body", "payload", "secret")

    def check(
        self, spec: dict[str, Any], config: dict[str, Any], path: str, ctx: ValidationContext, label: str
    ) -> list[Issue]:
        channel = config.get("channel")
        if channel not in CHANNELS:
            return []
        issues = [
            Issue(f"{path}.{key}", "not_for_channel", f"{label}{key} is not used by the {channel} channel.")
            for key, channels in CHANNEL_KEYS.items()
            if key in config and channel not in channels
        ]
        needed = "to" if channel == "email" else "url"
        if needed not in config:
            issues.append(Issue(f"{path}.{needed}", "missing_key", f"{label}the {channel} channel needs {needed}."))
        issues += self._check_addresses(config, path, label)
        return issues

    def _check_addresses(self, config: dict[str, Any], path: str, label: str) -> list[Issue]:
        issues = []
        url = config.get("url")
        if isinstance(url, str) and not is_template(url) and not url.startswith(("http://", "https://")):
            issues.append(Issue(f"{path}.url", "invalid_url", f"{label}url must start with http:// or https://."))
        to = config.get("to")
        for index, address in enumerate(to if isinstance(to, list) else []):
            if not isinstance(address, str) or is_template(address):
                continue
            try:
                validate_email(address)
            except ValidationError:
                issues.append(Issue(f"{path}.to[{index}]", "invalid_email",
                                    f"{label}'{address[:100]}' is not an e-mail address."))
        return issues

    def simulate(self, spec: dict[str, Any], sim: Any) -> dict[str, Any]:
        config = config_of(spec)
        channel = config["channel"]
        rendered, error = sim.try_render({key: config.get(key) for key in ("to", "url", "subject", "body")})
        if error:
            return {"would_notify": {"channel": channel}, "would_fail": f"TemplateError: {error}"}
        recipients = rendered["to"] if channel == "email" else [rendered["url"]]
        return {
            "would_notify": {
                "channel": channel,
                "recipients": recipients,
                "subject": rendered["subject"] or "",
                "body": rendered["body"] or "",
                "signed": bool(config.get("secret")),
            }
        }


STEP_TYPE = NotificationStep()
