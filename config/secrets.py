"""Secret material the settings need: read from the environment or from files in var/.

`manage.py standalone` writes the files on its first run (see `ensure_local_secrets`);
a production deployment sets the environment variables instead. With DEBUG off and
neither present, settings refuse to load with a message that says what to set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_FILE = "secret_key"
ENCRYPTION_KEYS_FILE = "encryption_keys"


def _read(var_dir: Path, name: str) -> str | None:
    path = var_dir / name
    if path.is_file():
        value = path.read_text().strip()
        return value or None
    return None


def load_secret(*, env_name: str, var_dir: Path, file_name: str, debug: bool) -> str:
    value = os.environ.get(env_name) or _read(var_dir, file_name)
    if value:
        return value
    if debug:
        # Development only: a per-process value keeps sessions from surviving a restart,
        # which is acceptable with DEBUG on and never used with it off.
        return Fernet.generate_key().decode() if file_name == ENCRYPTION_KEYS_FILE else secrets.token_urlsafe(50)
    raise ImproperlyConfigured(
        f"{env_name} is not set. Set it in the environment (production), or run "
        f"`python manage.py standalone` once to generate {var_dir / file_name}."
    )


def ensure_local_secrets(var_dir: Path) -> list[Path]:
    """Create var/secret_key and var/encryption_keys if missing; return the files written."""
    var_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in (
        (SECRET_KEY_FILE, lambda: secrets.token_urlsafe(50)),
        (ENCRYPTION_KEYS_FILE, lambda: Fernet.generate_key().decode()),
    ):
        path = var_dir / name
        if not path.exists():
            path.write_text(make() + "\n")
            path.chmod(0o600)
            written.append(path)
    return written
