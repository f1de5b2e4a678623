from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.pagination import StandardPagination


class SkipLimitPagination(LimitOffsetPagination):
    offset_query_param = "skip"
    default_limit = StandardPagination.page_size
    max_limit = StandardPagination.max_page_size


class ApprovalPagination(StandardPagination):
    """Page links as everywhere (DESIGN §9); `skip` and `limit` as well. Either way the body
    is `count`, `next`, `previous`, `results`."""

    def __init__(self) -> None:
        self.skip_limit: SkipLimitPagination | None = None

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list | None:
        if "skip" in request.query_params or "limit" in request.query_params:
            self.skip_limit = SkipLimitPagination()
            return self.skip_limit.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        if self.skip_limit is not None:
            return self.skip_limit.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [*super().get_schema_operation_parameters(view),
                *SkipLimitPagination().get_schema_operation_parameters(view)]
