"""Field rules for hosts and groups, shared by the model (admin forms), the API input
serializers and the services, so that every write path enforces the same rule."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError

MAX_LABELS = 50
MAX_LABEL_LENGTH = 64
MAX_VARS_BYTES = 64 * 1024

# RFC 1123 labels (letters, digits, hyphens; no hyphen at either end), dot-separated.
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate_hostname(value: str) -> None:
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253 or not all(_HOST_LABEL.match(part) for part in name.split(".")):
        raise ValidationError(
            f"'{value[:80]}' is not a valid hostname: use letters, digits, hyphens and dots "
            "(labels of 1-63 characters that do not start or end with a hyphen).",
            code="invalid_hostname",
        )


def validate_vars(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError("vars must be a JSON object.", code="invalid_vars")
    if len(json.dumps(value, default=str)) > MAX_VARS_BYTES:
        raise ValidationError(f"vars must stay under {MAX_VARS_BYTES // 1024} KiB.", code="invalid_vars")


def validate_labels(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(label, str) for label in value):
        raise ValidationError("labels must be a list of strings.", code="invalid_labels")
    if len(value) > MAX_LABELS:
        raise ValidationError(f"A host has at most {MAX_LABELS} labels.", code="invalid_labels")
    for label in value:
        if not label.strip() or len(label) > MAX_LABEL_LENGTH:
            raise ValidationError(
                f"Each label must be 1-{MAX_LABEL_LENGTH} characters and not blank.", code="invalid_labels"
            )


def normalize_labels(labels: list[str]) -> list[str]:
    """Strip and de-duplicate, keeping the first spelling and the order given."""
    seen: dict[str, None] = {}
    for label in labels:
        seen.setdefault(label.strip(), None)
    return list(seen)
