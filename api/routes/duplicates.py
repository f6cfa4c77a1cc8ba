"""Duplicates: ``GET /api/customers/duplicates``, ``POST .../duplicates/{pair}/dismiss``,
``POST /api/customers/merge`` (issue 16).

Thin doors onto ``scope.duplicates`` (``data.duplicates.service``): the rules, the
version check and the audit events are the data layer's.  Included before the customer
routes: ``/duplicates`` and ``/merge`` are not customer ids.

A merge names both versions the caller loaded in one ``If-Match`` header, the kept
customer's ETag first: ``If-Match: "3", "5"``.  (RFC 9110 reads a list as "any of";
here both must hold, which is what a merge of two records needs.)  Either one changed
since → 412 with the current version of that customer in ``ETag``; no header → 428.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import ConfigDict, Field, JsonValue, create_model
from starlette.exceptions import HTTPException

from api.deps import CallerDep, DatabaseDep, WriterDep, body_schema, json_body, scope
from api.routes import errors, header, json_response, page_links
from api.schemas import EXAMPLE_ID, Customer, Wire, customer_wire
from data.duplicates.merge import Side
from data.duplicates.records import Reason
from data.duplicates.service import MAX_PAGE, PairView
from data.errors import Invalid, NotFound
from data.fields import FIELD_NAMES

router = APIRouter(prefix="/api/customers", tags=["duplicates"])

DEFAULT_LIMIT = 100
MAX_OFFSET = 1_000_000_000
MAX_PAIR_ID = 100
EXAMPLE_OTHER = "9c1d7e2a-5b3f-4e8d-8a61-2f4b6c0d1e97"
EXAMPLE_PAIR = f"{EXAMPLE_ID}~{EXAMPLE_OTHER}"
REASON_CODES: list[JsonValue] = [reason.value for reason in Reason]
IF_MATCH_DOC = (
    'The ETags you read of both customers, the kept one\'s first: `"3", "5"`. '
    "The merge happens only if both are still at those versions, else 412."
)
MERGE_EXAMPLE: dict[str, JsonValue] = {
    "keep": EXAMPLE_ID,
    "remove": EXAMPLE_OTHER,
    "fields": {"email": "remove", "phone": "remove"},
}


class DuplicatePair(Wire):
    """Two customers that look like one, and why."""

    model_config = ConfigDict(title="DuplicatePair")

    id: str = Field(
        description="The pair's id: the two customer ids, ordered, joined by `~`.",
        examples=[EXAMPLE_PAIR],
    )
    score: int = Field(ge=0, le=100, description="How sure: 0–100, higher is surer.")
    reasons: list[str] = Field(
        description="Why: " + ", ".join(f"`{code}`" for code in REASON_CODES) + ".",
        json_schema_extra={"items": {"type": "string", "enum": REASON_CODES}},
    )
    customers: list[dict[str, Any]] = Field(
        description="Both customers as they are now (the `Customer` shape), ordered by id.",
        min_length=2,
        max_length=2,
        json_schema_extra={"items": {"$ref": "#/components/schemas/Customer"}},
    )


class MergeRequest(Wire):
    """Which customer stays, which goes, and per field whose value stays."""

    model_config = ConfigDict(
        extra="forbid", title="MergeRequest", json_schema_extra={"examples": [MERGE_EXAMPLE]}
    )

    keep: str = Field(min_length=1, max_length=64, description="The id of the customer kept.")
    remove: str = Field(min_length=1, max_length=64, description="The id of the customer deleted.")
    fields: dict[str, Side] = Field(
        default_factory=dict,
        description="Per field (" + ", ".join(FIELD_NAMES) + "): `keep` or `remove`, whose "
        "value stays. A field not named takes the newer non-empty value.",
        json_schema_extra={"propertyNames": {"enum": list(FIELD_NAMES)}},
    )


MergeResult = create_model(
    "MergeResult",
    __base__=Wire,
    customer=(Customer, Field(description="The kept customer, as merged.")),
    removed_id=(str, Field(description="The id of the customer that was deleted.")),
    merge_id=(
        str,
        Field(description="The merge's audit event: History undoes it (restores both)."),
    ),
    chosen=(
        dict[str, Side],
        Field(description="Per field, whose value stayed."),
    ),
)

PairId = Annotated[
    str, Path(description="A pair's id (from the duplicates list).", examples=[EXAMPLE_PAIR])
]


def _pair(view: PairView) -> dict[str, Any]:
    return {
        "id": view.id,
        "score": view.score,
        "reasons": [reason.value for reason in view.reasons],
        "customers": [customer_wire(view.first), customer_wire(view.second)],
    }


def _versions(if_match: str | None) -> tuple[int, int]:
    """The two versions of ``If-Match: "3", "5"`` (kept, removed)."""
    if if_match is None:
        raise HTTPException(
            428,
            "Send If-Match with the ETags of both customers, the kept one first: "
            'If-Match: "3", "5".',
        )
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    numbers = [tag.strip('"') for tag in tags if not tag.startswith("W/")]
    if len(tags) != 2 or len(numbers) != 2 or not all(n.isdigit() for n in numbers):
        raise Invalid(
            {"If-Match": 'If-Match must hold two ETags, the kept customer\'s first: "3", "5".'}
        )
    return int(numbers[0]), int(numbers[1])


@router.get(
    "/duplicates",
    summary="List suspected duplicates",
    operation_id="listDuplicates",
    response_model=list[DuplicatePair],
    responses={
        200: {
            "description": "One page of open pairs, best first (dismissed pairs are left out).",
            "headers": {
                "X-Total-Count": header("How many open pairs match in all.", "integer"),
                "Link": header('`<...>; rel="next"` (and `rel="prev"`) page URLs.'),
            },
        },
        **errors(401, 422, 503),
    },
)
def list_duplicates(
    request: Request,
    response: Response,
    identity: CallerDep,
    database: DatabaseDep,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="Page size, at most 1000.")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many pairs to skip.")] = 0,
    min_score: Annotated[
        int,
        Query(
            alias="minScore",
            ge=0,
            le=100,
            description="Only pairs scoring at least this (0–100).",
        ),
    ] = 0,
) -> Response:
    with scope(database, identity) as opened:
        page = opened.duplicates.list(min_score=min_score, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(page.total)
    page_links(request, response, limit=limit, offset=offset, has_next=page.has_next)
    return json_response([_pair(view) for view in page.items], response)


@router.post(
    "/duplicates/{pair_id}/dismiss",
    summary="Dismiss a pair: not a duplicate",
    operation_id="dismissDuplicate",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Dismissed for good: finding the pair again does not reopen it."},
        **errors(401, 403, 404, 503),
    },
)
def dismiss_duplicate(pair_id: PairId, identity: WriterDep, database: DatabaseDep) -> Response:
    if len(pair_id) > MAX_PAIR_ID or not pair_id.isprintable():
        raise NotFound("duplicate pair")
    with scope(database, identity, write=True) as opened:
        opened.duplicates.dismiss(pair_id)
    return Response(status_code=204)


@router.post(
    "/merge",
    summary="Merge two customers into one",
    operation_id="mergeCustomers",
    response_model=MergeResult,
    openapi_extra=body_schema(MergeRequest),
    responses={
        200: {
            "description": "Merged: the kept customer, with its new ETag.",
            "headers": {"ETag": header("The kept customer's new version, quoted.")},
        },
        428: {
            "model": errors(428)[428]["model"],
            "description": "No `If-Match`: a merge needs the versions of both customers.",
        },
        **errors(401, 403, 404, 409, 412, 413, 415, 422, 503),
    },
)
def merge_customers(
    body: Annotated[MergeRequest, Depends(json_body(MergeRequest))],
    response: Response,
    identity: WriterDep,
    database: DatabaseDep,
    if_match: Annotated[str | None, Header(description=IF_MATCH_DOC)] = None,
) -> Response:
    versions = _versions(if_match)
    with scope(database, identity, write=True) as opened:
        result = opened.duplicates.merge(
            body.keep, body.remove, choices=dict(body.fields), versions=versions
        )
    response.headers["ETag"] = f'"{result.kept.version}"'
    return json_response(
        {
            "customer": customer_wire(result.kept),
            "removedId": result.removed.id,
            "mergeId": result.event_id,
            "chosen": dict(result.chosen),
        },
        response,
    )
