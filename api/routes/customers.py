"""``/api/customers``: list, read, create, replace, delete (SPEC §5).

Each handler is a few calls into ``data.customers.CustomerRepository`` inside one
transaction of the caller's tenant; errors are ``data.errors`` and become status codes
in ``api.errors``.  Handlers are plain ``def``: the data layer is synchronous, so
FastAPI runs them in its thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from api.deps import CallerDep, CustomerBody, DatabaseDep, WriterDep, scope
from api.params import SearchQuery
from api.routes import errors, header, json_response, page_links
from api.schemas import CUSTOMER_WRITE_SCHEMA, EXAMPLE_ID, Customer, customer_wire
from data.customers import MAX_PAGE_SIZE, SORTS, CustomerRepository, parse_sort
from data.customers.columns import SORT_ALIASES
from data.db import Database
from data.errors import Invalid, NotFound, StaleVersion
from data.identity import Identity
from data.schemas import CustomerOut, check_search

router = APIRouter(prefix="/api/customers", tags=["customers"])

DEFAULT_LIMIT = 100
MAX_OFFSET = 1_000_000_000
MAX_ID = 64
UNCONDITIONAL_RETRIES = 3
WIRE_NAMES = {column: alias for alias, column in SORT_ALIASES.items()}
SORT_CHOICES = [prefix + WIRE_NAMES.get(key, key) for key in SORTS for prefix in ("", "-")]

CUSTOMER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": CUSTOMER_WRITE_SCHEMA}},
    }
}
ETAG = {"ETag": header('The customer\'s version, quoted (`"3"`); send it back in `If-Match`.')}
CUSTOMER_LINKS = {
    name: {"operationId": operation, "parameters": {"customer_id": "$response.body#/id"}}
    for name, operation in (
        ("GetCustomer", "getCustomer"),
        ("ReplaceCustomer", "replaceCustomer"),
        ("DeleteCustomer", "deleteCustomer"),
    )
}
IF_MATCH_DOC = (
    'The ETag you read (`"3"`); the write happens only if the customer is still at that '
    "version, else 412. `*` matches any version."
)

CustomerId = Annotated[str, Path(description="The customer's id (a UUID).", examples=[EXAMPLE_ID])]


def _known_id(customer_id: str) -> str:
    """Ids are UUIDs; anything that cannot be one is simply not found (404)."""
    if len(customer_id) > MAX_ID or not customer_id.isprintable():
        raise NotFound("customer")
    return customer_id


def _etag(customer: CustomerOut) -> str:
    return f'"{customer.version}"'


def _expected_version(if_match: str | None, current: CustomerOut) -> int | None:
    """The version ``If-Match`` allows, or ``StaleVersion`` (412) when it names none.

    Strong comparison (RFC 9110): weak tags never match.  A bare ``3`` is taken as
    ``"3"``, because scripts often drop the quotes.
    """
    if if_match is None:
        return None
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    if "*" in tags:
        return current.version
    wanted = {tag.strip('"') for tag in tags if not tag.startswith("W/")}
    if str(current.version) not in wanted:
        raise StaleVersion(current.fields() | {"version": current.version})
    return current.version


def _write_one(
    database: Database,
    identity: Identity,
    customer_id: str,
    if_match: str | None,
    write: Callable[[CustomerRepository, int | None], CustomerOut],
) -> CustomerOut:
    """Change one customer in its own transaction, honouring ``If-Match``.

    With ``If-Match`` the write happens once, at the version named, or is refused (412).
    Without it the client asked for an unconditional write: when another writer commits
    between our read and our write (PostgreSQL's READ COMMITTED allows that; SQLite's
    BEGIN IMMEDIATE does not), the write is tried again on the new version rather than
    answering a conflict the client did not ask about.
    """
    for attempt in range(UNCONDITIONAL_RETRIES + 1):
        try:
            with scope(database, identity, write=True) as opened:
                repository = opened.customers
                expected = None
                if if_match is not None:
                    expected = _expected_version(if_match, repository.get(customer_id))
                return write(repository, expected)
        except StaleVersion:
            if if_match is not None or attempt == UNCONDITIONAL_RETRIES:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@router.get(
    "",
    summary="List customers",
    operation_id="listCustomers",
    response_model=list[Customer],
    responses={
        200: {
            "description": "One page of the tenant's customers.",
            "headers": {
                "X-Total-Count": header(
                    "How many customers match in all (for a search, capped at 1,000; "
                    "then `X-Total-Count-Exact: false`).",
                    "integer",
                ),
                "X-Total-Count-Exact": header("`false` when X-Total-Count is a lower bound."),
                "Link": header('`<...>; rel="next"` (and `rel="prev"`) page URLs.'),
            },
        },
        **errors(401, 422, 503),
    },
)
def list_customers(
    request: Request,
    response: Response,
    identity: CallerDep,
    database: DatabaseDep,
    search: SearchQuery = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size, at most 1000.")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many matches to skip.")] = 0,
    sort: Annotated[
        str,
        Query(
            description="Field to sort by; a leading `-` sorts descending.",
            json_schema_extra={"enum": SORT_CHOICES},
        ),
    ] = "name",
) -> Response:
    if search is not None:
        check_search(search)
    try:
        parse_sort(sort)
    except ValueError as exc:
        raise Invalid({"sort": str(exc)}) from None
    with scope(database, identity) as opened:
        page = opened.customers.list(search=search, sort=sort, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(page.total.value)
    if not page.total.exact:
        response.headers["X-Total-Count-Exact"] = "false"
    page_links(request, response, limit=limit, offset=offset, has_next=page.has_next)
    return json_response([customer_wire(c) for c in page.items], response)


@router.get(
    "/{customer_id}",
    summary="Read one customer",
    operation_id="getCustomer",
    response_model=Customer,
    responses={200: {"description": "The customer.", "headers": ETAG}, **errors(401, 404, 503)},
)
def get_customer(
    customer_id: CustomerId,
    response: Response,
    identity: CallerDep,
    database: DatabaseDep,
) -> Response:
    with scope(database, identity) as opened:
        customer = opened.customers.get(_known_id(customer_id))
    response.headers["ETag"] = _etag(customer)
    return json_response(customer_wire(customer), response)


@router.post(
    "",
    summary="Create a customer",
    operation_id="createCustomer",
    status_code=201,
    response_model=Customer,
    openapi_extra=CUSTOMER_BODY,
    responses={
        201: {
            "description": "Created.",
            "headers": {**ETAG, "Location": header("The URL of the new customer.")},
            "links": CUSTOMER_LINKS,
        },
        **errors(401, 403, 409, 413, 415, 422, 503),
    },
)
def create_customer(
    request: Request,
    response: Response,
    identity: WriterDep,
    clean: CustomerBody,
    database: DatabaseDep,
) -> Response:
    with scope(database, identity, write=True) as opened:
        created = opened.customers.create(clean)
    response.headers["Location"] = str(request.url_for("get_customer", customer_id=created.id))
    response.headers["ETag"] = _etag(created)
    return json_response(customer_wire(created), response, status_code=201)


@router.put(
    "/{customer_id}",
    summary="Replace a customer's name, email, phone and address",
    operation_id="replaceCustomer",
    response_model=Customer,
    openapi_extra=CUSTOMER_BODY,
    responses={
        200: {"description": "The customer as saved.", "headers": ETAG},
        **errors(401, 403, 404, 409, 412, 413, 415, 422, 503),
    },
)
def replace_customer(
    customer_id: CustomerId,
    response: Response,
    identity: WriterDep,
    clean: CustomerBody,
    database: DatabaseDep,
    if_match: Annotated[str | None, Header(description=IF_MATCH_DOC)] = None,
) -> Response:
    updated = _write_one(
        database,
        identity,
        _known_id(customer_id),
        if_match,
        lambda repository, expected: repository.update(
            customer_id, clean, expected_version=expected
        ),
    )
    response.headers["ETag"] = _etag(updated)
    return json_response(customer_wire(updated), response)


@router.delete(
    "/{customer_id}",
    summary="Delete a customer",
    operation_id="deleteCustomer",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Deleted (it can be restored from the audit history)."},
        **errors(401, 403, 404, 409, 412, 503),
    },
)
def delete_customer(
    customer_id: CustomerId,
    identity: WriterDep,
    database: DatabaseDep,
    if_match: Annotated[str | None, Header(description=IF_MATCH_DOC)] = None,
) -> Response:
    _write_one(
        database,
        identity,
        _known_id(customer_id),
        if_match,
        lambda repository, expected: repository.delete(customer_id, expected_version=expected),
    )
    return Response(status_code=204)
