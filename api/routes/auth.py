"""``POST /api/auth/token``: a username and password for a bearer token.

Sign-in goes through ``data.users.authenticate``, the same throttled check as the
dashboard: failures are counted in the database per username and per client address,
so a guesser is slowed down whichever front door they use.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import DatabaseDep
from api.routes import errors
from api.schemas import Token, TokenRequest
from api.security import issue_token
from data.users import authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/token",
    summary="Sign in: get an access token",
    response_model=Token,
    responses={
        200: {"description": "A token; send it as `Authorization: Bearer <access_token>`."},
        **errors(401, 413, 422, 429, 503),
    },
)
def sign_in(body: TokenRequest, request: Request, database: DatabaseDep) -> Token:
    client = request.client.host if request.client else None
    user = authenticate(database, body.username, body.password, client)
    token, expires_in = issue_token(user)
    return Token(access_token=token, expires_in=expires_in)
