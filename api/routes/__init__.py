"""The API's routes, one module per resource, and the error responses they document."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import TypeAdapter

from api.schemas import Problem

ERROR_DESCRIPTIONS = {
    400: "The request could not be understood (for example a malformed multipart body).",
    401: "No token, or a token that is malformed, expired, signed with another key, or "
    "whose user was removed or changed password. Carries `WWW-Authenticate: Bearer`.",
    403: "Your role does not allow this (viewers read and export only).",
    404: "No such customer in your tenant (a customer of another tenant looks the same).",
    409: "Another customer of your tenant already uses this email, or another writer "
    "changed the customer at the same moment.",
    412: "`If-Match` names a version that is no longer current; `ETag` carries the current one.",
    413: "The request body is larger than the limit.",
    415: "The body must be sent as `application/json`.",
    422: "The input is not valid; `errors` has one sentence per field or parameter.",
    429: "Too many failed sign-ins; retry after `Retry-After` seconds.",
    503: "The database is busy or unreachable; retry after `Retry-After` seconds.",
}

RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}}
REQUEST_ID = {
    "X-Request-ID": {
        "schema": {"type": "string"},
        "description": "The id of this request in the server's log.",
    }
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error codes, all with the ``Error`` body."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in (*codes, 500):
        entry: dict[str, Any] = {
            "model": Problem,
            "description": ERROR_DESCRIPTIONS.get(code, "An unexpected error, logged."),
        }
        if code in (429, 503):
            entry["headers"] = RETRY_AFTER
        if code == 401:
            entry["headers"] = {
                "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`."}
            }
        documented[code] = entry
    return documented


def header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"schema": {"type": kind}, "description": description}


WIRE = TypeAdapter(Any)


def json_response(data: Any, response: Response, status_code: int = 200) -> Response:
    """JSON that pydantic serialised once, with the headers set on ``response``.

    Returned as a ``Response``, it is not validated against the route's response model
    and serialised a second time (as a returned model would be): under 50 clients that
    second pass was a twentieth of the server's CPU.  The route still declares its
    response model for the OpenAPI description.
    """
    return Response(
        WIRE.dump_json(data),
        status_code=status_code,
        media_type="application/json",
        headers=dict(response.headers),
    )


def page_links(
    request: Request, response: Response, *, limit: int, offset: int, has_next: bool
) -> None:
    """``Link: <...>; rel="next", <...>; rel="prev"`` for a page of a list (RFC 8288)."""
    links = []
    if has_next:
        next_url = request.url.include_query_params(limit=limit, offset=offset + limit)
        links.append(f'<{next_url}>; rel="next"')
    if offset > 0:
        prev_url = request.url.include_query_params(limit=limit, offset=max(0, offset - limit))
        links.append(f'<{prev_url}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
