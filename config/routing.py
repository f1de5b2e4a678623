"""WebSocket routes (DESIGN §8); config/asgi.py wraps them in apps.accounts.websocket's
origin check and authentication."""

from django.urls import path

from apps.engine.consumers import InstanceLogConsumer

websocket_urlpatterns: list = [
    path("ws/instances/<int:instance_id>/", InstanceLogConsumer.as_asgi()),
]
