"""``POST /api/auth/token``: a username and password for a bearer token.

Sign-in goes through ``data.users.authenticate``, the same throttled check as the
dashboard: failures are counted in the database per username and per client address,
so a guesser is slowed down whichever front door they use.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from api.deps import DatabaseDep, json_object
from api.errors import validation_errors
from api.routes import errors
from api.schemas import Token, TokenRequest
from api.security import issue_token
from data.errors import Invalid
from data.users import authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"])

TOKEN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": TokenRequest.model_json_schema()}},
    }
}


async def token_request(request: Request) -> TokenRequest:
    """The body, read like every JSON body of this API (same 415/422 sentences)."""
    try:
        return TokenRequest.model_validate(await json_object(request))
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise Invalid(validation_errors(errors)) from None


@router.post(
    "/token",
    summary="Sign in: get an access token",
    operation_id="signIn",
    response_model=Token,
    openapi_extra=TOKEN_BODY,
    responses={
        200: {"description": "A token; send it as `Authorization: Bearer <access_token>`."},
        **errors(401, 413, 415, 422, 429, 503),
    },
)
def sign_in(
    body: Annotated[TokenRequest, Depends(token_request)], request: Request, database: DatabaseDep
) -> Token:
    client = request.client.host if request.client else None
    user = authenticate(database, body.username, body.password, client)
    token, expires_in = issue_token(user)
    return Token(access_token=token, expires_in=expires_in)
