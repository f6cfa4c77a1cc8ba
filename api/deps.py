"""Dependencies: the database, the caller (from the bearer token), JSON bodies.

The tenant of every request comes from the token and nothing else: no path, query,
header or body field can name a tenant.  Routes open their transaction with
``scope(database, identity, write=...)``: one transaction of the token's tenant in
which the data layer checks that the token still stands and reads the user's current
role (``data.scope``).  The role written in the token only lets a route refuse a
viewer's write early, before the body is read; the scope decides.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from data.credentials import decode_token
from data.db import Database, get_database
from data.errors import Invalid, Unauthenticated
from data.identity import ROLE_PERMISSIONS, Identity, Permission, Role, forbidden
from data.schemas import CustomerIn, validate_customer
from data.scope import Scope

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    bearerFormat="JWT",
    description="A token from `POST /api/auth/token`, sent as `Authorization: Bearer <token>`.",
)


# Dependencies that do no blocking work are ``async def``: FastAPI runs plain ``def``
# dependencies in its thread pool, and each hop there costs more than the work itself.


async def database_of(request: Request) -> Database:
    database: Database | None = request.app.state.database
    return database if database is not None else get_database()


DatabaseDep = Annotated[Database, Depends(database_of)]


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _identity_of(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> tuple[Identity, Role]:
    """The identity of a valid, unexpired bearer token and its role hint (no database work).

    Whether the token still stands, and the user's current role, are read by the
    request's scope, in the transaction that does the work.
    """
    if credentials is None:
        if request.headers.get("authorization"):
            raise Unauthenticated("Send the token as 'Authorization: Bearer <token>'.")
        raise Unauthenticated(
            "This endpoint needs an access token: get one from POST /api/auth/token and "
            "send it as 'Authorization: Bearer <token>'."
        )
    return decode_token(credentials.credentials)


# The dependencies below each read the token themselves (``_identity_of``) rather than
# through a shared dependency: every level of dependencies costs FastAPI more per
# request than verifying a token already verified (``decode_token`` caches that).


async def token_identity(request: Request, credentials: BearerDep) -> tuple[Identity, Role]:
    """The identity of the bearer token and its role hint: see ``_identity_of``."""
    return _identity_of(request, credentials)


TokenDep = Annotated[tuple[Identity, Role], Depends(token_identity)]


async def caller(request: Request, credentials: BearerDep) -> Identity:
    return _identity_of(request, credentials)[0]


CallerDep = Annotated[Identity, Depends(caller)]


def allowed_to(
    permission: Permission,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable[Identity]]:
    """A dependency that refuses (403) a token whose role lacks ``permission``.

    Checked before the body is read, so that a viewer learns first that they may not
    write at all; the scope checks the user's current role again when the work runs.
    """

    async def check(request: Request, credentials: BearerDep) -> Identity:
        identity, role = _identity_of(request, credentials)
        if permission not in ROLE_PERMISSIONS[role]:
            raise forbidden(role, permission)
        return identity

    return check


WriterDep = Annotated[Identity, Depends(allowed_to(Permission.WRITE))]
ImporterDep = Annotated[Identity, Depends(allowed_to(Permission.IMPORT))]
ExporterDep = Annotated[Identity, Depends(allowed_to(Permission.EXPORT))]


# SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
# SQLite's busy handler for growing intervals (up to 100 ms) instead of being woken
# when the lock is free.  Under concurrent API writes that turns a 5 ms write into
# queues of sleeping threads.  So the API's writers take turns before they begin: the
# threads of one process on a Python lock, the processes of ``--workers N`` on a lock
# file beside the database (``flock``: a waiter sleeps in the kernel and is woken when
# the turn is free).  Both wait only for other API writes, which are short; the
# dashboard, the CLI and imports still meet SQLite's busy timeout as before.
_sqlite_writer = threading.Lock()
_turn_files: dict[tuple[int, Path], int | None] = {}


@contextmanager
def _sqlite_write_turn(database: Database) -> Iterator[None]:
    """This API's turn to write to ``database`` (SQLite), among its threads and processes."""
    with _sqlite_writer:
        path = database.sqlite_file
        descriptor = None if path is None else _turn_file(path)
        if descriptor is None:
            yield
            return
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


def _turn_file(database_file: Path) -> int | None:
    """The open lock file of ``database_file`` in this process (called under the Python
    lock).  Opened once per process: a lock is held by an open file, so a forked child
    opens its own.  None when it cannot be created: the busy timeout still applies."""
    key = (os.getpid(), database_file)
    if key not in _turn_files:
        try:
            _turn_files[key] = os.open(
                f"{database_file}-api-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
        except OSError:
            _turn_files[key] = None
    return _turn_files[key]


@contextmanager
def scope(database: Database, identity: Identity, *, write: bool = False) -> Iterator[Scope]:
    """The caller's scope: one transaction of the caller's tenant, its rights read in it."""
    turn = _sqlite_write_turn(database) if write and database.dialect == "sqlite" else nullcontext()
    with turn, database.scope(identity, write=write) as opened:
        yield opened


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 415/422 with one sentence."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise HTTPException(415)
    raw = await request.body()
    if not raw.strip():
        raise Invalid({"body": "The request body is empty; send a JSON object."})
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        reason = exc.msg[:1].lower() + exc.msg[1:]
        raise Invalid(
            {
                "body": f"The request body is not valid JSON: {reason} at line {exc.lineno}, "
                f"column {exc.colno}."
            }
        ) from None
    except RecursionError:
        raise Invalid({"body": "The request body is nested too deeply."}) from None
    except ValueError:  # not UTF-8/16/32, or a number too long to convert
        raise Invalid({"body": "The request body is not valid JSON text."}) from None
    if not isinstance(data, dict):
        raise Invalid({"body": "The request body must be a JSON object."})
    return data


Model = TypeVar("Model", bound=BaseModel)


def json_body(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A dependency reading the body as ``model``, like every JSON body of this API:
    the same 415 and 422 sentences (FastAPI's own body parsing answers some of these
    with an undocumented 400).  Pair it with ``openapi_extra=body_schema(model)``."""

    async def read(request: Request) -> Model:
        from api.errors import validation_errors

        try:
            return model.model_validate(await json_object(request))
        except ValidationError as exc:
            errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
            raise Invalid(validation_errors(errors)) from None

    return read


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads ``json_body(model)``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


async def customer_body(request: Request) -> CustomerIn:
    """The body of POST/PUT, checked by the customer rules of ``data.schemas``."""
    return validate_customer(await json_object(request))


CustomerBody = Annotated[CustomerIn, Depends(customer_body)]


async def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the operation does not define (``?serach=`` is a typo).

    Integrators learn of a misspelt parameter at once instead of getting an unfiltered
    answer; the 422 names the parameter, like an unknown field in a body.  ``async``
    like the other dependencies that do no blocking work: it runs on every request.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known: frozenset[str] | None = getattr(route, "known_query", None)
    if known is None:  # once per route: its own query parameters and its dependencies'
        known = _known_query(dependant)
        route.known_query = known  # type: ignore[union-attr]
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "", "input": None}
                for name in unknown
            ]
        )


def _known_query(dependant: Any) -> frozenset[str]:
    """The query parameters of an operation and of its dependencies."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(param.alias for param in current.query_params)
        pending.extend(current.dependencies)
    return frozenset(names)
