"""Dependencies: the database, the caller (from the bearer token), JSON bodies.

The tenant of every request comes from the token and nothing else: no path, query,
header or body field can name a tenant.  Routes open their transaction with
``customers(database, principal, write=...)``, which binds the session and the
repository to that tenant.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from api.security import Principal, TokenClaims, decode_token, principal_of
from data.customers import CustomerRepository
from data.db import Database, get_database
from data.errors import Invalid
from data.schemas import CustomerIn, validate_customer
from data.tenancy import Actor, Permission
from data.users import Unauthenticated, tenant_user_for_session, user_for_session

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


async def current_claims(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> TokenClaims:
    """The claims of a valid, unexpired bearer token (no database work: no thread hop).

    The user behind them is checked against the database by ``customers()`` in the
    transaction that does the work, or by ``current_principal`` for the other routes.
    """
    if credentials is None:
        if request.headers.get("authorization"):
            raise Unauthenticated("Send the token as 'Authorization: Bearer <token>'.")
        raise Unauthenticated(
            "This endpoint needs an access token: get one from POST /api/auth/token and "
            "send it as 'Authorization: Bearer <token>'."
        )
    return decode_token(credentials.credentials)


ClaimsDep = Annotated[TokenClaims, Depends(current_claims)]


def current_principal(database: DatabaseDep, claims: ClaimsDep) -> Principal:
    """The caller, checked against the database now (its own transaction)."""
    return principal_of(claims, user_for_session(database, claims.user_id, claims.issued_at))


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def claims_allowed_to(permission: Permission) -> Callable[[TokenClaims], Awaitable[TokenClaims]]:
    """A dependency that refuses (403) a token whose role lacks ``permission``.

    Checked before the body is read, so that a viewer learns first that they may not
    write at all; ``customers()`` and the repository check the user's current role.
    """

    async def check(claims: ClaimsDep) -> TokenClaims:
        Actor("", claims.role).require(permission)
        return claims

    return check


def allowed_to(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """As ``claims_allowed_to``, for routes that take the checked ``Principal``."""

    async def check(principal: PrincipalDep) -> Principal:
        principal.actor.require(permission)
        return principal

    return check


WriterDep = Annotated[TokenClaims, Depends(claims_allowed_to(Permission.WRITE))]
ImporterDep = Annotated[Principal, Depends(allowed_to(Permission.IMPORT))]
ExporterDep = Annotated[Principal, Depends(allowed_to(Permission.EXPORT))]


# SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
# SQLite's busy handler for growing intervals (up to 100 ms) instead of being woken
# when the lock is free.  Under concurrent API writes that turns a 5 ms write into
# queues of sleeping threads.  So this process lets one of its threads at a time start
# a SQLite write transaction (the others wait on a Python lock, woken at once);
# other processes (dashboard, CLI) still meet the busy timeout as before.
_sqlite_writer = threading.Lock()


@contextmanager
def customers(
    database: Database, claims: TokenClaims, *, write: bool = False
) -> Iterator[CustomerRepository]:
    """The caller's customers, in one transaction of the caller's tenant.

    The token's user is checked first, in the same transaction: one transaction and one
    thread hop per request instead of two of each (measured under 50 clients on SQLite,
    the user check in its own transaction and thread hop was a fifth of the CPU of a
    request).
    """
    queue = _sqlite_writer if write and database.dialect == "sqlite" else nullcontext()
    with queue, database.transaction(claims.tenant_id, write=write) as session:
        user = tenant_user_for_session(session, claims.user_id, claims.issued_at)
        principal = principal_of(claims, user)
        yield CustomerRepository(session, claims.tenant_id, principal.actor)


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


async def customer_body(request: Request) -> CustomerIn:
    """The body of POST/PUT, checked by the customer rules of ``data.schemas``."""
    return validate_customer(await json_object(request))


CustomerBody = Annotated[CustomerIn, Depends(customer_body)]


def reject_unknown_query(request: Request) -> None:
    """Refuse query parameters the operation does not define (``?serach=`` is a typo).

    Integrators learn of a misspelt parameter at once instead of getting an unfiltered
    answer; the 422 names the parameter, like an unknown field in a body.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known: set[str] = set()
    pending = [dependant]
    while pending:  # the operation's own query parameters and its dependencies'
        current = pending.pop()
        known.update(param.alias for param in current.query_params)
        pending.extend(current.dependencies)
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "", "input": None}
                for name in unknown
            ]
        )
