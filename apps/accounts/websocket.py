"""Who is on the other end of a WebSocket (DESIGN §8, §9).

- Browsers authenticate with their session cookie. A browser always sends `Origin` on a
  WebSocket handshake, and the origin must be this site (or a CSRF_TRUSTED_ORIGINS
  entry): otherwise a page on another site could open a socket with the visitor's cookie
  (cross-site WebSocket hijacking).
- Other clients send `Authorization: Token <key>` on the handshake, like REST clients,
  and usually no `Origin`. A handshake without `Origin` is let through the origin check
  but never authenticated by a session cookie: without a valid token it is anonymous.
- A token that is present but invalid or revoked is anonymous too (never a fallback to
  the session).

`scope["auth"]` says which one applied: "token", "session" or "none".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from apps.accounts.authentication import TokenAuthentication, user_for_token


def header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


def origin_allowed(origin: bytes, host: bytes | None) -> bool:
    """Django's CSRF rule for a browser's handshake: the page that opens the socket is
    this site (Origin names the Host the browser connected to, and that Host is one of
    ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS. `ALLOWED_HOSTS = ["*"]` accepts any
    Host, never any Origin."""
    try:
        text = origin.decode("ascii")
    except UnicodeError:
        return False
    parsed = urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False
    if host is not None:
        try:
            host_text = host.decode("ascii").lower()
        except UnicodeError:
            host_text = ""
        domain, _port = split_domain_port(host_text)
        allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
        if domain and parsed.netloc.lower() == host_text and validate_host(domain, allowed):
            return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        scheme, _, netloc = trusted.partition("://")
        if scheme != parsed.scheme:
            continue
        if netloc.startswith("*."):
            if is_same_domain(parsed.netloc.lower(), netloc[1:].lower()):
                return True
        elif parsed.netloc.lower() == netloc.lower():
            return True
    return False


class BrowserOriginValidator:
    """Refuses a handshake whose Origin is not this site (origin_allowed); a handshake
    without Origin is not a browser's and goes on (it can only use a token)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        origin = header(scope, b"origin")
        if origin is not None and not origin_allowed(origin, header(scope, b"host")):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


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
