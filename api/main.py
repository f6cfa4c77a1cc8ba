"""The FastAPI application: ``create_app()``, served by ``python manage.py api``.

    uvicorn --factory api.main:create_app

Routes are in ``api/routes``; errors are translated in ``api/errors``; the request id,
access log and body limits are in ``api/middleware``.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from uvicorn.config import LOGGING_CONFIG

from api import errors
from api.context import RequestIdFilter
from api.deps import reject_unknown_query
from api.middleware import RequestContext
from api.routes import auth, customers, duplicates, transfer
from config import get_settings
from data.db import Database

JSON_BODY_LIMIT = 64 * 1024
API_THREADS = 8
IMPORT_PATH = "/api/customers/import"

DESCRIPTION = """
The customers of your tenant, for integrations and scripts.

1. Get a token: `POST /api/auth/token` with `{"username": ..., "password": ...}`.
2. Send it on every call: `Authorization: Bearer <access_token>`. Your tenant and role
   come from the token; nothing in a request can name another tenant.

Lists are paged (`limit` ≤ 1000, `offset`) with `X-Total-Count` and `Link` headers.
Reads carry an `ETag`; send it back in `If-Match` on `PUT`/`DELETE` to refuse (412) a
write over someone else's change. Errors are JSON: `{"detail": sentence, "requestId": id}`,
plus `errors` (one sentence per field) for 409 and 422.
"""

TAGS = [
    {"name": "auth", "description": "Access tokens."},
    {"name": "customers", "description": "Your tenant's customers."},
    {
        "name": "duplicates",
        "description": "Customers that look like one: review, dismiss, merge (undo from "
        "the dashboard's History).",
    },
]


def body_limit(path: str, *, upload_limit: int) -> int:
    return upload_limit if path == IMPORT_PATH else JSON_BODY_LIMIT


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Size the thread pool that runs the (synchronous) data layer.

    AnyIO's default is 40 threads.  Our handlers are short and mostly CPU in Python, so
    40 threads only fight over the GIL: every SQLite or socket call releases it and
    then waits to get it back.  Measured under 50 concurrent clients on SQLite, 8
    threads cost about a quarter less CPU per request than 40 and cut the p99 by a
    third; long imports have a limiter of their own (``api.routes.transfer``), so they
    cannot take all eight.
    """
    anyio.to_thread.current_default_thread_limiter().total_tokens = API_THREADS
    yield


def create_app(database: Database | None = None) -> FastAPI:
    """The API over ``database`` (default: the configured ``DATABASE_URL``).

    Reads the settings first, so a placeholder or short ``JWT_SECRET`` stops it here.
    """
    settings = get_settings()
    app = FastAPI(
        title="Inventory Pro — Customers API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.database = database
    errors.install(app)
    app.include_router(auth.router)
    app.include_router(transfer.router)  # before customers: /export is not an {id}
    app.include_router(duplicates.router)  # before customers: /duplicates, /merge neither
    app.include_router(customers.router)
    upload_limit = settings.max_upload_mb * 1024 * 1024
    app.add_middleware(RequestContext, body_limit=partial(body_limit, upload_limit=upload_limit))
    return app


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's logging configuration plus the ``api`` loggers, with the request id.

    Given to ``uvicorn.run(log_config=...)``, which applies it in every worker process.
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdFilter}}
    config["formatters"]["api"] = {
        "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
    }
    config["handlers"]["api"] = {
        "class": "logging.StreamHandler",
        "formatter": "api",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["api"] = {"handlers": ["api"], "level": level, "propagate": False}
    return config
