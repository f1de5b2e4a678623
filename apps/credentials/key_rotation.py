"""Re-encrypt every stored ciphertext (crypto.ENCRYPTED_FIELDS) with the primary key.

Rows are locked and rewritten in batches, one transaction per batch, so a large vault never
holds one long transaction and an interrupted run simply continues where it stopped:
rows already on the primary key are skipped, which also makes a second run a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction

from apps.audit.services import audit_record
from apps.core.crypto import ENCRYPTED_FIELDS, is_decryptable, is_primary, rotate

DEFAULT_BATCH_SIZE = 500


@dataclass
class FieldReport:
    label: str
    field: str
    checked: int = 0
    rotated: int = 0
    undecryptable: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.label}.{self.field}"


def rotate_encrypted_fields(*, batch_size: int = DEFAULT_BATCH_SIZE) -> list[FieldReport]:
    reports = [_rotate_field(label, name, batch_size) for label, name in ENCRYPTED_FIELDS]
    with transaction.atomic():
        audit_record(
            actor=None, action="encryption_keys.rotate",
            data={report.name: {"rotated": report.rotated, "undecryptable": len(report.undecryptable)}
                  for report in reports},
        )
    return reports


def check_encrypted_fields(*, batch_size: int = DEFAULT_BATCH_SIZE) -> list[FieldReport]:
    """Read-only: which rows the configured keys cannot decrypt."""
    reports = []
    for label, name in ENCRYPTED_FIELDS:
        report = FieldReport(label, name)
        model = apps.get_model(label)
        for batch in _batches(model, name, batch_size):
            for pk, token in model.objects.filter(pk__in=batch).values_list("pk", name):
                report.checked += 1
                if not is_decryptable(token):
                    report.undecryptable.append(str(pk))
        reports.append(report)
    return reports


def _rotate_field(label: str, name: str, batch_size: int) -> FieldReport:
    report = FieldReport(label, name)
    model = apps.get_model(label)
    for batch in _batches(model, name, batch_size):
        with transaction.atomic():
            rows = list(model.objects.select_for_update().filter(pk__in=batch).only("pk", name).order_by("pk"))
            changed = []
            for row in rows:
                report.checked += 1
                token = getattr(row, name)
                if not token or is_primary(token):
                    continue
                if not is_decryptable(token):
                    report.undecryptable.append(str(row.pk))
                    continue
                setattr(row, name, rotate(token))
                changed.append(row)
            # bulk_update leaves updated_at alone: rotation changes no user-visible data.
            model.objects.bulk_update(changed, [name])
            report.rotated += len(changed)
    return report


def _batches(model: type[models.Model], name: str, batch_size: int) -> Iterator[list[int]]:
    """Primary keys of the rows with a value, `batch_size` at a time (keyset pagination)."""
    last = None
    while True:
        queryset = model.objects.exclude(**{name: ""}).order_by("pk")
        if last is not None:
            queryset = queryset.filter(pk__gt=last)
        batch = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1]
