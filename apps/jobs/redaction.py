"""Masking secret values out of job output before a line is stored (DESIGN §8).

A secret can reach the output in other spellings than its own: a script that runs
`set -x` prints it shell-quoted, a curl call prints it URL-encoded, a tool that dumps
JSON escapes its newlines. Each of those forms is masked, and so is every line of a
multi-line secret on its own, because output is masked line by line.

Values shorter than MIN_SECRET_LENGTH are ignored: replacing every "1" or "ab" in the
output would shred the log while protecting nothing (such a value can be guessed), and
the pattern of replaced characters would itself reveal the value.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4


def secret_forms(secret: str) -> set[str]:
    """Every spelling of `secret` worth masking, including each of its lines."""
    forms = {
        secret,
        shlex.quote(secret),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
    }
    if "\n" in secret or "\r" in secret:
        forms.update(line.strip() for line in secret.splitlines())
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Masker:
    """Replaces every secret value (in every form above) with `***`, longest first, so
    that a secret that contains another one is masked whole."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret is not None and len(str(secret)) >= MIN_SECRET_LENGTH:
                forms |= secret_forms(str(secret))
        ordered = sorted(forms, key=lambda form: (-len(form), form))
        self._pattern = _alternatives(ordered)
        # Job output is masked a block of lines at a time (see mask_lines): the forms that
        # span lines are left out there, each of their lines is a form of its own.
        single_line = [form for form in ordered if "\n" not in form]
        self._line_pattern = _alternatives(single_line)
        self.longest_line_form = max(map(len, single_line), default=0)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def mask_lines(self, text: str) -> str:
        """Mask a block of "\n"-separated lines exactly as masking each line on its own
        would: one regex pass instead of one per line, and the same lines come out."""
        if self._line_pattern is None or not text:
            return text
        return self._line_pattern.sub(MASK, text)

    def safe_cut(self, text: str, cut: int) -> int:
        """Where to cut a very long line near `cut` so that no secret is split across the
        two pieces (a piece is masked on its own): `cut`, or the start of the secret that
        straddles it. `text` must reach `longest_line_form` characters past `cut`."""
        if self._line_pattern is None:
            return cut
        window_start = max(0, cut - self.longest_line_form)
        for match in self._line_pattern.finditer(text, window_start, cut + self.longest_line_form):
            if match.start() < cut < match.end():
                return match.start() if match.start() > 0 else cut
        return cut


def _alternatives(forms: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(map(re.escape, forms))) if forms else None
