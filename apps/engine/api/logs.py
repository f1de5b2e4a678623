"""Input and rendering of the log download (`GET /api/instances/{id}/logs/download/`)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import renderers, serializers

from apps.engine.log_export import LogReader
from apps.engine.models import WorkflowInstance

STREAMS = ("stdout", "stderr", "system")


class PlainTextRenderer(renderers.BaseRenderer):
    """Lets a client ask for `Accept: text/plain`; the log itself is streamed without a
    renderer, errors come out as their JSON text."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return (data if isinstance(data, str) else json.dumps(data)).encode()


class LogDownloadInput(serializers.Serializer):
    after = serializers.IntegerField(required=False, min_value=0, default=0)
    step = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    host = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    stream = serializers.CharField(required=False, allow_blank=True, default="")
    q = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    follow = serializers.BooleanField(required=False, default=False)
    raw = serializers.BooleanField(required=False, default=False)

    def validate_stream(self, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        if value and not (names == ["errors"] or all(name in STREAMS for name in names)):
            raise serializers.ValidationError("Use stdout, stderr, system (comma-separated) or errors.")
        return ",".join(names)


def log_reader(instance: WorkflowInstance, data: dict[str, Any]) -> LogReader:
    filters = {"step": data["step"] or None, "host": data["host"] or None, "stream": data["stream"] or None,
               "query": data["q"] or None}
    return LogReader(instance, after=data["after"], filters=filters, raw=data["raw"])
