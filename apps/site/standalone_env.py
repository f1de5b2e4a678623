"""What `manage.py standalone` does before Django's settings load.

The settings refuse to start with DEBUG off when SECRET_KEY and OPSFLOW_ENCRYPTION_KEYS are
missing. The embedded default must work on a fresh clone, so manage.py calls
`ensure_standalone_secrets()` for the `standalone` command only: it writes var/secret_key
and var/encryption_keys once (config.secrets.ensure_local_secrets) when the environment
does not provide both. Every other command, and every production process, still needs
them set. Nothing here may import Django settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from config.secrets import ensure_local_secrets

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def standalone_var_dir() -> Path:
    """config.settings.VAR_DIR, which cannot be imported before the secrets exist."""
    return Path(os.environ.get("OPSFLOW_VAR_DIR") or BASE_DIR / "var").resolve()


def ensure_standalone_secrets() -> list[Path]:
    var_dir = standalone_var_dir()
    # Absolute, so that the settings and every child process agree on one directory.
    os.environ["OPSFLOW_VAR_DIR"] = str(var_dir)
    if os.environ.get("SECRET_KEY") and os.environ.get("OPSFLOW_ENCRYPTION_KEYS"):
        return []
    written = ensure_local_secrets(var_dir)
    for path in written:
        print(f"opsflow: wrote {path} (keep it: sessions and stored credentials depend on it)", flush=True)
    return written
