"""Tokens: sign in for one (``POST /api/auth/token``), list and revoke them.

Sign-in goes through ``data.signin.authenticate``, the same throttled check as the
dashboard: failures are counted in the database per username and client, per client and
per username (see there), so a guesser is slowed down whichever front door they use,
and cannot lock the real user out.  The client is the connection's peer; uvicorn
believes ``X-Forwarded-For`` only from ``TRUSTED_PROXIES`` (``manage.py api``).

A token is a row of the tenant's credentials: ``GET /api/auth/tokens`` lists the
caller's standing sessions and tokens, ``DELETE /api/auth/tokens/{id}`` ends one (the
caller's own token included: that is signing out).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from api.deps import CallerDep, DatabaseDep, body_schema, json_body, scope
from api.routes import errors
from api.schemas import CredentialOut, Token, TokenRequest
from data.credentials import issue_token
from data.signin import authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"])

TOKEN_BODY = body_schema(TokenRequest)
token_request = json_body(TokenRequest)


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
    agent = request.headers.get("user-agent", "")
    token, expires_in = issue_token(database, user, label=f"API · {agent}"[:200])
    return Token(access_token=token, expires_in=expires_in)


@router.get(
    "/tokens",
    summary="Your sessions and tokens",
    operation_id="listTokens",
    response_model=list[CredentialOut],
    responses={
        200: {"description": "Standing sessions and tokens, newest first."},
        **errors(401, 503),
    },
)
def list_tokens(identity: CallerDep, database: DatabaseDep) -> list[CredentialOut]:
    with scope(database, identity) as opened:
        found = opened.credentials.list()
    return [CredentialOut.of(credential) for credential in found]


@router.delete(
    "/tokens/{credential_id}",
    summary="End one of your sessions or tokens",
    operation_id="revokeToken",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Ended; it signs in nobody any more."},
        **errors(401, 404, 422, 503),
    },
)
def revoke_token(
    credential_id: Annotated[str, Path(max_length=64, description="The id from GET /tokens.")],
    identity: CallerDep,
    database: DatabaseDep,
) -> Response:
    with scope(database, identity, write=True) as opened:
        opened.credentials.revoke(credential_id)
    return Response(status_code=204)
