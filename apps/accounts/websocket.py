"""Who is on the other end of a WebSocket (DESIGN §8, §9).

- Browsers authenticate with their session cookie. A browser always sends `Origin` on a
  WebSocket handshake, and the origin must be one of ALLOWED_HOSTS: otherwise a page on
  another site could open a socket with the visitor's cookie (cross-site WebSocket
  hijacking).
- Other clients send `Authorization: Token <key>` on the handshake, like REST clients,
  and usually no `Origin`. A handshake without `Origin` is let through the origin check
  but never authenticated by a session cookie: without a valid token it is anonymous.
- A token that is present but invalid or revoked is anonymous too (never a fallback to
  the session).

`scope["auth"]` says which one applied: "token", "session" or "none".
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from apps.accounts.authentication import TokenAuthentication, user_for_token


def header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


class BrowserOriginValidator(OriginValidator):
    """ALLOWED_HOSTS (read on each handshake) for browsers; no Origin: not a browser."""

    def __init__(self, application: Any) -> None:
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
        return any(pattern == "*" or self.match_allowed_origin(parsed_origin, pattern) for pattern in allowed)


def _token_user(authorization: bytes) -> Any:
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != TokenAuthentication.keyword.lower().encode():
        return AnonymousUser()
    try:
        key = parts[1].decode()
    except UnicodeError:
        return AnonymousUser()
    return user_for_token(key) or AnonymousUser()


class TokenAuthMiddleware(BaseMiddleware):
    """Runs inside channels' AuthMiddlewareStack: replaces the session's user with the
    token's user, or with no user when the client is not a browser."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        authorization = header(scope, b"authorization")
        if authorization is not None:
            scope = {**scope, "user": await database_sync_to_async(_token_user)(authorization), "auth": "token"}
        elif header(scope, b"origin") is None:
            scope = {**scope, "user": AnonymousUser(), "auth": "none"}
        else:
            scope = {**scope, "auth": "session"}
        return await self.inner(scope, receive, send)


def websocket_auth(application: Any) -> Any:
    """The WebSocket stack of config/asgi.py around the URL router."""
    return BrowserOriginValidator(AuthMiddlewareStack(TokenAuthMiddleware(application)))
