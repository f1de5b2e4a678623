"""The portal's instance list filters: the API's InstanceFilter plus a date range chosen
as "last 24 h / 7 d / 30 d" or whole days (custom), on when the run was created; when it
ended (the same presets); and status groups (the dashboard's cards link to them)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from apps.core.filters import filter_whole_days
from apps.engine.filters import InstanceFilter
from apps.engine.models import WorkflowInstance
from apps.engine.states import INSTANCE_FAILED, INSTANCE_UNFINISHED

CUSTOM = "custom"
RANGES: dict[str, tuple[str, timedelta | None]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    CUSTOM: ("Custom dates", None),
}


ENDED_RANGES = {key: value for key, value in RANGES.items() if value[1] is not None}
# A status option that stands for several statuses.
STATUS_GROUPS: dict[str, tuple[str, frozenset[str]]] = {
    "unfinished": ("Active (not finished)", INSTANCE_UNFINISHED),
    "failures": ("Failed or timed out", INSTANCE_FAILED),
}


class InstancePageFilter(InstanceFilter):
    range = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (label, _) in RANGES.items()], method="filter_range", label="When"
    )
    ended = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (label, _) in ENDED_RANGES.items()], method="filter_ended", label="Ended"
    )
    date_from = django_filters.DateFilter(method="filter_date_from", label="From")
    date_to = django_filters.DateFilter(method="filter_date_to", label="To")

    def __init__(self, data: QueryDict | None = None, *args: Any, **kwargs: Any) -> None:
        if data is not None:  # the form's "Any" options send status= and trigger=
            data = data.copy()
            for name in ("status", "trigger"):
                data.setlist(name, [value for value in data.getlist(name) if value])
            data.setlist("status", [
                status for value in data.getlist("status")
                for status in (sorted(STATUS_GROUPS[value][1]) if value in STATUS_GROUPS else [value])
            ])
        super().__init__(data, *args, **kwargs)

    def filter_ended(self, queryset: QuerySet[WorkflowInstance], name: str, value: str) -> QuerySet[WorkflowInstance]:
        return queryset.filter(finished_at__gte=timezone.now() - ENDED_RANGES[value][1])

    def filter_range(self, queryset: QuerySet[WorkflowInstance], name: str, value: str) -> QuerySet[WorkflowInstance]:
        window = RANGES[value][1]
        return queryset.filter(created_at__gte=timezone.now() - window) if window else queryset

    # Whole days, both inclusive; ignored while a preset range is chosen.
    def filter_date_from(self, queryset: QuerySet[WorkflowInstance], name: str, value: date) -> QuerySet:
        return filter_whole_days(queryset, "created_at", first=value) if self._custom_dates() else queryset

    def filter_date_to(self, queryset: QuerySet[WorkflowInstance], name: str, value: date) -> QuerySet:
        return filter_whole_days(queryset, "created_at", last=value) if self._custom_dates() else queryset

    def _custom_dates(self) -> bool:
        return self.form.cleaned_data.get("range") in ("", None, CUSTOM)

