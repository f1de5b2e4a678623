"""manage.py rotate_encryption_keys [--check] [--batch-size N]

Put the new key first in OPSFLOW_ENCRYPTION_KEYS (keep the old ones after it), run this,
then drop the old keys. Safe to run again: rows already on the new key are left alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.credentials.key_rotation import DEFAULT_BATCH_SIZE, check_encrypted_fields, rotate_encrypted_fields


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the primary (first) key of OPSFLOW_ENCRYPTION_KEYS."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Change nothing; report rows the configured keys cannot decrypt."
        )
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="Rows per transaction.")

    def handle(self, *args: Any, check: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        reports = check_encrypted_fields(batch_size=batch_size) if check else rotate_encrypted_fields(
            batch_size=batch_size
        )
        for report in reports:
            if check:
                line = f"{report.name}: {report.checked} checked, {len(report.undecryptable)} not decryptable"
            else:
                line = f"{report.name}: {report.rotated} re-encrypted of {report.checked}"
            self.stdout.write(line)
        if not check:
            self.stdout.write(f"Re-encrypted {sum(r.rotated for r in reports)} row(s).")
        failed = [f"{r.name} pk {pk}" for r in reports for pk in r.undecryptable]
        if failed:
            raise CommandError(
                f"{len(failed)} row(s) cannot be decrypted with the configured keys (was a key removed "
                f"too early?): {', '.join(failed[:50])}"
            )
        if check:
            self.stdout.write("All stored secrets decrypt with the configured keys.")
