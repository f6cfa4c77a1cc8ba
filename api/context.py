"""The id of the request being served, for logs and error bodies."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")

# A client may send its own X-Request-ID; only a short, plain one is kept (it goes into
# logs and headers), anything else is replaced by a fresh id.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


def start_request(offered: str | None) -> str:
    request_id = offered if offered and _ACCEPTABLE.match(offered) else uuid.uuid4().hex
    _request_id.set(request_id)
    return request_id


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record, so a format can show it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True
