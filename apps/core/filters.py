"""Filters shared by every app's filters.py."""

from __future__ import annotations

import django_filters
from django import forms
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
