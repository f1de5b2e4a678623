"""Encryption at rest with MultiFernet over OPSFLOW_ENCRYPTION_KEYS (first key encrypts).

Rotation: put a new key first, keep the old ones after it, run
`manage.py rotate_encryption_keys`, then drop the old keys.

Every model field that stores a token from `encrypt` is listed in ENCRYPTED_FIELDS, so
that rotation re-encrypts all of them; an app that adds an encrypted field adds it there.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# (model label, field name) of every column holding `encrypt` output ("" = no value).
ENCRYPTED_FIELDS: list[tuple[str, str]] = [
    ("credentials.Credential", "secret_encrypted"),
]


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "OPSFLOW_ENCRYPTION_KEYS must be comma-separated Fernet keys (32 url-safe base64 bytes each)."
        ) from exc


def fernet() -> MultiFernet:
    if not settings.OPSFLOW_ENCRYPTION_KEYS:
        raise ImproperlyConfigured("OPSFLOW_ENCRYPTION_KEYS is empty.")
    return _fernet(tuple(settings.OPSFLOW_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with the configured OPSFLOW_ENCRYPTION_KEYS "
            "(was a key removed before rotation?)."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt with the primary key; the value is never exposed."""
    return fernet().rotate(token.encode()).decode()


def is_primary(token: str) -> bool:
    """True if the token is already encrypted with the primary (first) key."""
    fernet()  # the same configuration checks
    try:
        _fernet((settings.OPSFLOW_ENCRYPTION_KEYS[0],)).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def is_decryptable(token: str) -> bool:
    try:
        fernet().decrypt(token.encode())
    except InvalidToken:
        return False
    return True
