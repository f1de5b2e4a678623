"""Filters shared by every app's filters.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from apps.core.refs import MAX_ID


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An object's id: a whole number from 1 to the bigint maximum. Anything else is a 400
    naming the parameter, never a query (the database cannot take -1.5e+273)."""

    field_class = IdField


class UtcDateTimeField(IsoDateTimeField):
    def to_python(self, value: object) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
            raise forms.ValidationError("Enter a date and time between the years 1 and 9999 in UTC.",
                                        code="invalid") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date and time, compared in UTC. The database is given the UTC value: it
    refuses offsets Python accepts (`+16:43`), and a moment outside the years 1 to 9999
    in UTC is a 400 naming the parameter, never a query."""

    field_class = UtcDateTimeField


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def filter_whole_days(queryset: QuerySet, field: str, *, first: date | None = None,
                      last: date | None = None) -> QuerySet:
    """Rows whose `field` falls on the days from `first` to `last`, both inclusive (the
    portal's date pickers). The last day has no day after it at date.max: no bound then."""
    if first is not None:
        queryset = queryset.filter(**{f"{field}__gte": start_of_day(first)})
    if last is not None and last < date.max:
        queryset = queryset.filter(**{f"{field}__lt": start_of_day(last + timedelta(days=1))})
    return queryset
