#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["standalone"]:
        # The settings refuse to load without SECRET_KEY and OPSFLOW_ENCRYPTION_KEYS, so
        # the embedded default writes them to var/ first (a fresh clone must `make run`).
        from apps.site.standalone_env import ensure_standalone_secrets

        ensure_standalone_secrets()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
