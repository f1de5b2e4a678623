"""Delivering a rendered notification: e-mail, webhook (optionally HMAC-signed), Slack.

Each sender returns a `Delivery`; a failure carries the error class of DESIGN §5
(HTTP503/HTTP504 and unreachable endpoints are transient, other HTTP errors are
NotificationFailed with the status)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.mail import EmailMessage

SIGNATURE_HEADER = "X-Opsflow-Signature"
TIMEOUT_SECONDS = 10


@dataclass
class Delivery:
    ok: bool
    channel: str
    recipients: list[str]
    status_code: int | None = None
    error_class: str = ""
    error_message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def send_email(*, to: list[str], subject: str, body: str) -> Delivery:
    if not to:
        return Delivery(False, "email", [], error_class="ConfigError", error_message="No recipients.")
    try:
        EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to).send()
    except OSError as exc:  # SMTP connection problems
        return Delivery(False, "email", to, error_class="HostUnreachable", error_message=f"SMTP: {exc}")
    except Exception as exc:
        return Delivery(False, "email", to, error_class="NotificationFailed", error_message=f"SMTP: {exc}")
    return Delivery(True, "email", to)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_json(*, channel: str, url: str, payload: dict[str, Any], secret: str = "") -> Delivery:
    body = json.dumps(payload, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Opsflow"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    try:
        response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.Timeout as exc:
        return Delivery(False, channel, [url], error_class="Timeout", error_message=str(exc))
    except requests.RequestException as exc:
        return Delivery(False, channel, [url], error_class="HostUnreachable", error_message=str(exc)[:500])
    if 200 <= response.status_code < 300:
        return Delivery(True, channel, [url], status_code=response.status_code)
    error_class = {503: "HTTP503", 504: "HTTP504"}.get(response.status_code, "NotificationFailed")
    return Delivery(
        False,
        channel,
        [url],
        status_code=response.status_code,
        error_class=error_class,
        error_message=f"HTTP {response.status_code}: {response.text[:300]}",
    )


def deliver(config: dict[str, Any]) -> Delivery:
    """`config` is the step's config with every template already rendered."""
    channel = config.get("channel")
    if channel == "email":
        to = config.get("to") or []
        return send_email(to=[to] if isinstance(to, str) else list(to), subject=config.get("subject") or "",
                          body=config.get("body") or "")
    if channel == "slack":
        return post_json(channel="slack", url=config["url"], payload={"text": config.get("body") or ""})
    if channel == "webhook":
        payload = {"subject": config.get("subject") or "", "body": config.get("body") or "",
                   **(config.get("payload") or {})}
        return post_json(channel="webhook", url=config["url"], payload=payload, secret=config.get("secret") or "")
    return Delivery(False, str(channel), [], error_class="ConfigError", error_message=f"Unknown channel '{channel}'.")
