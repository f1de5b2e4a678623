"""References to an organization's objects as users write them: an id or a name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_ID = 2**63 - 1  # a bigint primary key; anything larger cannot exist


def storable_ids(ids: Iterable[int]) -> list[int]:
    """The ids a row can have: a larger (or non-positive) one is unknown without a query
    (SQLite, the embedded mode, would not even take it as a parameter)."""
    return [pk for pk in ids if 0 < pk <= MAX_ID]


def parse_ref(ref: Any) -> tuple[int | None, str | None]:
    """(id, None) for an integer or a string of ASCII digits, (None, name) for any other
    non-blank string, and (None, None) for anything else (booleans included)."""
    if isinstance(ref, bool):
        return None, None
    if isinstance(ref, int):
        return ref, None
    if isinstance(ref, str) and ref.strip():
        ref = ref.strip()
        return (int(ref), None) if ref.isascii() and ref.isdigit() else (None, ref)
    return None, None
