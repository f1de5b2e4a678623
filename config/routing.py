"""WebSocket routes; the live-log consumer joins here (DESIGN §8)."""

websocket_urlpatterns: list = []
