"""One pure-ASGI middleware for what every request needs before any route runs.

* a request id: the client's ``X-Request-ID`` when it is short and plain, else a new
  one; echoed in the response and written on every log line of the request;
* one access-log line per request (method, path without the query, status, time):
  never headers, bodies or query strings, so tokens, passwords and searched-for
  personal data stay out of the logs;
* the body size limit: a ``Content-Length`` over the limit is answered 413 at once,
  and a body without one is counted as it streams in (413 when it passes the limit).
  The limit depends on the path: small for JSON, the configured upload size for the
  CSV import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import start_request
from api.errors import problem, too_large

access_log = logging.getLogger("api.access")

BODY_LIMIT_SCOPE_KEY = "api.max_body_size"


class RequestContext:
    def __init__(self, app: ASGIApp, *, body_limit: Callable[[str], int]) -> None:
        self.app = app
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = start_request(headers.get("x-request-id"))
        limit = self.body_limit(scope["path"])
        scope[BODY_LIMIT_SCOPE_KEY] = limit
        started = time.perf_counter()
        status = 500
        received = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413)
            return message

        try:
            declared = _content_length(headers)
            if declared is not None and declared > limit:
                await problem(413, too_large(limit))(scope, receive, send_with_id)
                return
            await self.app(scope, receive_counted, send_with_id)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            client = scope.get("client")
            access_log.info(
                '%s "%s %s" %d %.1fms',
                client[0] if client else "-",
                scope["method"],
                scope["path"],
                status,
                elapsed,
            )


def _content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None
