"""API tokens: signed JWTs that name a user, their tenant and their role, and expire.

A token is HS256-signed with the installation's ``JWT_SECRET`` (at least 32 bytes, never
a placeholder: ``config`` refuses those).  Decoding pins the algorithm, so ``alg: none``
and tokens signed with anything else are refused, and requires every claim we rely on:

* ``sub``: the user id; ``tenant``: the user's tenant; ``role``: the role at issue time;
* ``iat``: when it was issued (a float, so that a token issued in the same second as a
  password change is ordered correctly); ``exp``: when it stops working;
* ``aud``: ``inventory-pro-api``, so that no other token signed with the same key
  (there is none today) could be replayed here.

A valid signature is not enough: ``authenticate_token`` also asks the data layer whether
the user still exists and has not changed password since ``iat``
(``data.users.user_for_session``), so that removing a user or changing a password ends
every token they hold at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from config import get_settings
from data.db import Database
from data.models import Role
from data.tenancy import Actor
from data.users import Unauthenticated, UserInfo, user_for_session

ALGORITHM = "HS256"
AUDIENCE = "inventory-pro-api"
REQUIRED_CLAIMS = ("sub", "tenant", "role", "iat", "exp", "aud")
RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}

INVALID = "The access token is not valid; request a new one from POST /api/auth/token."
EXPIRED = "The access token has expired; request a new one from POST /api/auth/token."


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    tenant_id: str
    role: Role
    issued_at: float
    expires_at: int


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user as the database knows them now, and their tenant.

    ``role`` is the lesser of the role in the token and the user's current role: a
    demotion takes effect at once, and a promotion does not widen an older token.
    """

    user: UserInfo
    tenant_id: str
    role: Role

    @property
    def actor(self) -> Actor:
        return Actor(self.user.username, self.role)


def issue_token(
    user: UserInfo, *, now: datetime | None = None, lifetime: timedelta | None = None
) -> tuple[str, int]:
    """A signed token for ``user``; returns it and its lifetime in whole seconds."""
    settings = get_settings()
    now = now or datetime.now(UTC)
    lifetime = lifetime or timedelta(minutes=settings.token_lifetime_minutes)
    expires_at = math.floor((now + lifetime).timestamp())
    claims = {
        "sub": user.id,
        "tenant": user.tenant_id,
        "role": user.role.value,
        "iat": now.timestamp(),
        "exp": expires_at,
        "aud": AUDIENCE,
    }
    token = jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)
    return token, max(0, int(expires_at - now.timestamp()))


def decode_token(token: str) -> TokenClaims:
    """The claims of a token we issued and that has not expired; else ``Unauthenticated``."""
    secret = get_settings().jwt_secret
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated(EXPIRED) from None
    except (jwt.PyJWTError, ValueError, TypeError):
        # PyJWTError covers bad signatures, algorithms, claims and encodings; the others
        # guard against odd payloads that slip past its checks.
        raise Unauthenticated(INVALID) from None
    sub, tenant, role, iat, exp = (claims.get(name) for name in REQUIRED_CLAIMS[:5])
    if not (isinstance(sub, str) and sub and isinstance(tenant, str) and tenant):
        raise Unauthenticated(INVALID)
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise Unauthenticated(INVALID)
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise Unauthenticated(INVALID)
    if not isinstance(role, str) or role not in set(Role):
        raise Unauthenticated(INVALID)
    the_role = Role(role)
    return TokenClaims(sub, tenant, the_role, float(iat), exp)


def authenticate_token(database: Database, token: str) -> Principal:
    """The caller a bearer token stands for, checked against the database now."""
    claims = decode_token(token)
    return principal_of(claims, user_for_session(database, claims.user_id, claims.issued_at))


def principal_of(claims: TokenClaims, user: UserInfo) -> Principal:
    """The caller: ``user`` as the database knows them now, under the token's ``claims``."""
    if user.tenant_id != claims.tenant_id:
        raise Unauthenticated(INVALID)
    role = min(claims.role, user.role, key=RANK.__getitem__)
    return Principal(user=user, tenant_id=claims.tenant_id, role=role)
