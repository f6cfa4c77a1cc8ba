"""The HttpOnly session cookie: set and cleared by an HTTP route, never by a script.

A cookie a page script sets (streamlit-authenticator's cookie manager does that) can
never be ``HttpOnly``, so any script in the page could read it.  When the dashboard is
served as an ASGI app (``server.py``: ``streamlit run server.py``, what
``manage.py dashboard`` and ``make run`` do), this module adds one route to Streamlit's
server, ``POST /_session``, and the cookie goes through it:

1. after a sign-in the page offers the new session's secret under a one-time code
   (``offer``): random, valid for ``HANDOFF_SECONDS``, kept in this process only;
2. a zero-height component in the browser posts the code to ``/_session``
   (same origin, so the browser keeps the cookie the answer sets);
3. the route takes the code once and answers with ``Set-Cookie``: ``HttpOnly``,
   ``SameSite=Strict``, ``Path=/``, the session's lifetime, and ``Secure`` when the
   request came over https (directly, or at a proxy named in ``TRUSTED_PROXIES``).
   The page sees the code taken (``taken``) and stops offering it.

Sign-out offers an empty secret: the route then deletes the cookie.  A code is worth
nothing without the page that made it; the secret never appears in the page.
Without ``server.py`` (a bare ``streamlit run dashboard.py``) the route does not exist
and ``ui.auth`` falls back to the script-set cookie.
"""

from __future__ import annotations

import secrets
import threading
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from config import get_settings
from data.credentials import session_lifetime
from data.signin import came_over_https

PATH = "/_session"
HANDOFF_SECONDS = 120.0
MAX_CODE = 100

_offers: dict[str, tuple[str, float]] = {}  # code -> (secret, or "" to clear; deadline)
_lock = threading.Lock()
_active = False


def active() -> bool:
    """True when this process serves ``PATH`` (the dashboard runs as ``server.py``)."""
    return _active


def offer(secret: str) -> str:
    """A one-time code under which the route sets (or, for "", clears) the cookie."""
    code = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for stale in [c for c, (_, deadline) in _offers.items() if deadline < now]:
            del _offers[stale]
        _offers[code] = (secret, now + HANDOFF_SECONDS)
    return code


def taken(code: str) -> bool:
    """True once the browser has collected the code (or it expired)."""
    with _lock:
        found = _offers.get(code)
    return found is None or found[1] < time.monotonic()


def _take(code: str) -> str | None:
    with _lock:
        found = _offers.pop(code, None)
    if found is None or found[1] < time.monotonic():
        return None
    return found[0]


async def collect(request: Request) -> Response:
    body = (await request.body())[: MAX_CODE + 1]
    secret = _take(body.decode("ascii", "replace").strip()) if len(body) <= MAX_CODE else None
    if secret is None:
        return Response("Unknown or expired code.", status_code=404, media_type="text/plain")
    settings = get_settings()
    response = Response(status_code=204)
    secure = came_over_https(
        str(request.url),
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-proto"),
        settings.proxies,
    )
    if secret:
        response.set_cookie(
            settings.cookie_name,
            secret,
            max_age=int(session_lifetime().total_seconds()),
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
    else:
        response.delete_cookie(
            settings.cookie_name, path="/", httponly=True, samesite="strict", secure=secure
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def routes() -> list[BaseRoute]:
    """The route to mount beside Streamlit (``server.py``); marks this process as serving it."""
    global _active
    _active = True
    return [Route(PATH, collect, methods=["POST"])]


def script(code: str) -> str:
    """The component's page: post the code to the route, same origin, once."""
    return (
        "<script>fetch(new URL(" + repr(PATH) + ", window.parent.location.href), "
        "{method: 'POST', body: " + repr(code) + ", credentials: 'same-origin', "
        "headers: {'Content-Type': 'text/plain'}});</script>"
    )
