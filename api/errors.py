"""Every error the API answers, translated once, here.

``data.errors`` → status codes (``STATUS``), FastAPI's own validation errors → 422 with
one sentence per parameter, Starlette's HTTP errors (unknown route, wrong method, body
too large, unparsable multipart) → the same JSON shape, and anything unexpected → a
500 whose body names the request id under which the traceback was logged.

The body is always ``{"detail": sentence, "requestId": id}`` plus, for 409 and 422,
``"errors": {field: sentence}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.context import current_request_id
from data.errors import (
    Conflict,
    DataError,
    Forbidden,
    ImportFailed,
    Invalid,
    NotFound,
    StaleVersion,
    Throttled,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("api.errors")

# Order matters: subclasses before their bases.
STATUS: tuple[tuple[type[DataError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (StaleVersion, 412),
    (Conflict, 409),
    (Invalid, 422),
    (ImportFailed, 422),
    (Throttled, 429),
    (Unavailable, 503),
    (DataError, 400),
)

HTTP_SENTENCES = {
    400: "The request could not be understood.",
    404: "There is no such API path.",
    405: "This method is not allowed on this path.",
    413: "The request body is too large.",
    415: "The request body must be JSON (Content-Type: application/json).",
}


def problem(
    status: int,
    detail: str,
    *,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, "requestId": current_request_id()}
    if errors:
        body["errors"] = dict(errors)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def status_of(exc: DataError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400  # pragma: no cover - DataError is the last entry


def data_error_response(request: Request, exc: DataError) -> JSONResponse:
    status = status_of(exc)
    headers: dict[str, str] = {}
    errors: Mapping[str, str] | None = None
    if isinstance(exc, Unauthenticated):
        # RFC 6750: a request that carried a token learns it was the token's fault.
        has_token = bool(request.headers.get("authorization"))
        is_sign_in = request.url.path.endswith("/auth/token")
        headers["WWW-Authenticate"] = (
            'Bearer error="invalid_token"' if has_token and not is_sign_in else "Bearer"
        )
    elif isinstance(exc, Throttled):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, Unavailable):
        headers["Retry-After"] = "1"
    elif isinstance(exc, StaleVersion):
        version = (exc.current or {}).get("version")
        if version is not None:
            headers["ETag"] = f'"{version}"'
        if "if-match" not in request.headers:
            # No precondition was sent: another writer won a race; that is a conflict.
            status = 409
    elif isinstance(exc, Invalid):
        errors = exc.errors
    elif isinstance(exc, Conflict) and exc.field:
        errors = {exc.field: exc.message}
    if status >= 500:
        log.warning("%s: %s", type(exc).__name__, exc)
    return problem(status, exc.message, errors=errors, headers=headers)


def _label(name: str) -> str:
    return name[:1].upper() + name[1:]


def _validation_sentence(error: Mapping[str, Any]) -> tuple[str, str]:
    loc: Sequence[Any] = error.get("loc") or ()
    where = str(loc[0]) if loc else "request"
    parts = [str(part) for part in loc[1:]]
    field = ".".join(parts) or where
    kind = error.get("type", "")
    where_text = {"query": "query parameter", "path": "path parameter", "header": "header"}.get(
        where, "field"
    )
    if kind == "missing":
        return field, f"{_label(where_text)} {field!r} is required."
    if kind == "extra_forbidden":
        if where == "query":
            return field, f"Unknown query parameter {field!r}."
        return field, f"Unknown field {field!r}."
    if kind == "json_invalid":
        return "body", "The request body is not valid JSON."
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return field if parts else "body", "The request body must be a JSON object."
    message = str(error.get("msg") or "is not valid").rstrip(".")
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
        return field, message if message.endswith(".") else message + "."
    return field, f"{_label(where_text)} {field!r}: {message[:1].lower() + message[1:]}."


def validation_errors(errors: Sequence[Any]) -> dict[str, str]:
    result: dict[str, str] = {}
    for error in errors:
        field, sentence = _validation_sentence(error)
        result.setdefault(field, sentence)
    return result


def _summary(errors: Mapping[str, str]) -> str:
    if len(errors) == 1:
        return next(iter(errors.values()))
    return "The request is not valid: " + " ".join(errors.values())


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(DataError)
    async def on_data_error(request: Request, exc: DataError) -> JSONResponse:
        return data_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        return problem(422, _summary(errors), errors=errors)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else ""
        if status in HTTP_SENTENCES and (not detail or detail == _reason(status)):
            detail = HTTP_SENTENCES[status]
        if status == 405:
            detail = f"The method {request.method} is not allowed on {request.url.path}."
        if status == 413:
            limit = request.scope.get("api.max_body_size")
            if isinstance(limit, int):
                detail = too_large(limit)
        if not detail or detail == _reason(status):
            detail = f"The request failed ({status} {_reason(status)})."
        return problem(status, detail, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = current_request_id()
        log.error(
            "unexpected %s on %s %s (request %s)",
            type(exc).__name__,
            request.method,
            request.url.path,
            request_id,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        response = problem(
            500,
            f"Something went wrong on our side; the error is logged under request id {request_id}.",
        )
        response.headers["X-Request-ID"] = request_id
        return response


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def too_large(limit: int) -> str:
    if limit >= 1024 * 1024:
        size = f"{limit / (1024 * 1024):g} MiB"
    elif limit >= 1024:
        size = f"{limit / 1024:g} KiB"
    else:
        size = f"{limit} bytes"
    return f"The request body is too large; the limit here is {size}."
