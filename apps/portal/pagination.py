"""Page-number pagination for portal lists, keeping the filters in the page links."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50


def paginate(request: HttpRequest, queryset: QuerySet, *, per_page: int = PAGE_SIZE) -> dict[str, Any]:
    """`page_obj` (an out-of-range or malformed page number gives the nearest page) and
    `querystring`, the current filters without `page`, for the pagination links."""
    page_obj = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return {"page_obj": page_obj, "querystring": params.urlencode()}
