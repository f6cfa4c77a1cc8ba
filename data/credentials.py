"""Dashboard sessions and API tokens: the one home of what vouches for a signed-in user.

Both are rows of ``credentials`` (``data.models.Credential``), so both can be listed and
revoked, and both end when the row goes: on sign-out, a password or role change, removal
of the user (cascade), "sign out everywhere", or their absolute lifetime.

* A **session** is what the dashboard's re-login cookie names: an opaque random secret
  (256 bits), of which only a keyed hash (HMAC-SHA256 with the installation's
  ``COOKIE_KEY``) is stored.  The cookie carries nothing else, so a copied cookie is
  worth nothing once its session is revoked.
* An **API token** is a JWT (HS256 with ``JWT_SECRET``, algorithm pinned, ``exp``, ``aud``
  and every claim below required) whose ``jti`` is its row's id.  A valid signature is
  not enough: every request's scope checks that the row still stands
  (``data.scope.read_actor``).  The ``role`` claim is only a hint that lets the API refuse
  a viewer's write before reading its body; rights come from the database.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from data.db import LOGIN_SECRET_SETTING, Database, set_local
from data.errors import Forbidden, NotFound, Unauthenticated
from data.identity import Identity, Permission, Role
from data.models import Credential, User, new_id, utcnow
from data.schemas import storable

if TYPE_CHECKING:
    from data.scope import Scope
    from data.users import UserInfo

SESSION = "session"
TOKEN = "token"  # noqa: S105 - a kind of credential, not a secret
KINDS = {SESSION: "Browser session", TOKEN: "API token"}

ALGORITHM = "HS256"
AUDIENCE = "inventory-pro-api"
REQUIRED_CLAIMS = ("sub", "tenant", "role", "jti", "iat", "exp", "aud")
MAX_SECRET_CHARS = 200
LABEL_MAX = 200

INVALID = "The access token is not valid; request a new one from POST /api/auth/token."
EXPIRED = "The access token has expired; request a new one from POST /api/auth/token."


def _settings() -> Any:
    from config import get_settings

    return get_settings()


def secret_hash(secret: str) -> str:
    """The stored form of a session secret: HMAC-SHA256 keyed with ``COOKIE_KEY``."""
    key = _settings().cookie_key.encode("utf-8")
    return hmac.new(key, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def _insert(
    session: Session,
    user: UserInfo,
    kind: str,
    lifetime: timedelta,
    *,
    secret: str | None = None,
    label: str = "",
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """Store a credential for ``user``; returns its id and when it expires."""
    now = now or utcnow()
    expires = now + lifetime
    # Expired rows of this user are of no use to anyone: forget them while here.
    session.execute(
        delete(Credential).where(
            Credential.tenant_id == user.tenant_id,
            Credential.user_id == user.id,
            Credential.expires_at <= now,
        )
    )
    credential_id = new_id()
    session.execute(
        insert(Credential).values(
            tenant_id=user.tenant_id,
            id=credential_id,
            user_id=user.id,
            kind=kind,
            secret_hash=secret_hash(secret) if secret is not None else None,
            label=_label(label),
            created_at=now,
            expires_at=expires,
        )
    )
    return credential_id, expires


def _label(text: str) -> str:
    cleaned = " ".join((text or "").split())[:LABEL_MAX]
    return cleaned if storable(cleaned) else ""


# -- dashboard sessions --------------------------------------------------------------


def session_lifetime() -> timedelta:
    return timedelta(hours=float(_settings().session_lifetime_hours))


def open_session(database: Database, user: UserInfo, *, label: str = "") -> tuple[str, Identity]:
    """Start a dashboard session for ``user``: the cookie's secret and the session identity."""
    secret = secrets.token_urlsafe(32)
    with database.transaction(user.tenant_id, write=True) as session:
        credential_id, _ = _insert(
            session, user, SESSION, session_lifetime(), secret=secret, label=label
        )
    return secret, Identity(user.tenant_id, user.id, credential_id)


def resume_session(database: Database, secret: str | None) -> Identity | None:
    """The session a cookie's secret names, while it stands (else None)."""
    if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET_CHARS:
        return None
    if not storable(secret):
        return None
    hashed = secret_hash(secret)
    with database.transaction(None) as session:
        set_local(session, LOGIN_SECRET_SETTING, hashed)
        row = session.execute(
            select(Credential.id, Credential.tenant_id, Credential.user_id).where(
                Credential.secret_hash == hashed,
                Credential.kind == SESSION,
                Credential.expires_at > utcnow(),
            )
        ).first()
    if row is None:
        return None
    return Identity(row.tenant_id, row.user_id, row.id)


def end_session(database: Database, identity: Identity) -> None:
    """Sign out: the session's row goes, so its cookie signs in nobody any more."""
    if identity.credential_id is None:
        return
    with database.transaction(identity.tenant_id, write=True) as session:
        session.execute(
            delete(Credential).where(
                Credential.tenant_id == identity.tenant_id,
                Credential.id == identity.credential_id,
            )
        )


# -- API tokens ------------------------------------------------------------------------


def token_lifetime() -> timedelta:
    return timedelta(minutes=int(_settings().token_lifetime_minutes))


def _encode(
    user: UserInfo, credential_id: str, now: datetime, expires: datetime
) -> tuple[str, int]:
    """The signed token and its lifetime in whole seconds (as ``expires_in`` says it)."""
    expires_at = math.floor(expires.timestamp())
    claims = {
        "sub": user.id,
        "tenant": user.tenant_id,
        "role": user.role.value,
        "jti": credential_id,
        "iat": now.timestamp(),
        "exp": expires_at,
        "aud": AUDIENCE,
    }
    token = jwt.encode(claims, _settings().jwt_secret, algorithm=ALGORITHM)
    return token, max(0, int(expires_at - now.timestamp()))


def issue_token(
    database: Database,
    user: UserInfo,
    *,
    label: str = "",
    now: datetime | None = None,
    lifetime: timedelta | None = None,
) -> tuple[str, int]:
    """A signed token for ``user`` (just signed in); returns it and its lifetime in seconds."""
    now = now or datetime.now(UTC)
    with database.transaction(user.tenant_id, write=True) as session:
        credential_id, expires = _insert(
            session, user, TOKEN, lifetime or token_lifetime(), label=label, now=now
        )
    return _encode(user, credential_id, now, expires)


def decode_token(token: str) -> tuple[Identity, Role]:
    """The identity a token names and the role it was issued with (a hint only).

    ``Unauthenticated`` unless it is a token we signed, for this API, with every claim,
    and not expired.  Whether its row still stands is checked by the request's scope.
    A token already verified with the same key is not verified again until it expires
    (``_verified``): an integration sends the same token with every request.
    """
    identity, role, exp = _verified(_settings().jwt_secret, token)
    if exp <= time.time():
        raise Unauthenticated(EXPIRED)
    return identity, role


@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Identity, Role, int]:
    """Verify ``token`` with ``secret``: what it names and when it expires.

    Cached by (key, token): a signature and claims checked once stay checked; expiry is
    compared on every use by ``decode_token``, and a new key verifies anew.  A token
    that fails is not cached (lru_cache keeps results, not exceptions).
    """
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
    sub, tenant, role, jti, iat, exp = (claims.get(name) for name in REQUIRED_CLAIMS[:6])
    texts = (sub, tenant, jti)
    if not all(isinstance(value, str) and value and storable(value) for value in texts):
        raise Unauthenticated(INVALID)
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise Unauthenticated(INVALID)
    if isinstance(exp, bool) or not isinstance(exp, int):
        raise Unauthenticated(INVALID)
    if not isinstance(role, str) or role not in set(Role):
        raise Unauthenticated(INVALID)
    return Identity(str(tenant), str(sub), str(jti)), Role(role), exp


# -- what a scope may see and do ---------------------------------------------------------


@dataclass(frozen=True)
class CredentialInfo:
    """A session or token as the Account page lists it (never its secret)."""

    id: str
    user_id: str
    username: str
    kind: str
    label: str
    created_at: datetime
    expires_at: datetime
    current: bool  # the session or token this scope acts through

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)


class Credentials:
    """The sessions and tokens of a scope's tenant: your own, or any user's for an admin."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.session = scope.session
        self.tenant_id = scope.tenant_id

    def _may_manage(self, user_id: str | None) -> None:
        if user_id != self.scope.actor.user_id:
            self.scope.require(Permission.MANAGE_USERS)

    def list(self, user_id: str | None = None) -> list[CredentialInfo]:
        """Standing sessions and tokens of ``user_id`` (default: the actor's own)."""
        user_id = user_id or self.scope.actor.user_id
        self._may_manage(user_id)
        rows = self.session.execute(
            select(
                Credential.id,
                Credential.user_id,
                User.username,
                Credential.kind,
                Credential.label,
                Credential.created_at,
                Credential.expires_at,
            )
            .join(User, User.id == Credential.user_id)
            .where(
                Credential.tenant_id == self.tenant_id,
                Credential.user_id == user_id,
                Credential.expires_at > utcnow(),
            )
            .order_by(Credential.created_at.desc(), Credential.id)
        )
        current = self.scope.identity.credential_id
        return [CredentialInfo(**row._mapping, current=row.id == current) for row in rows]

    def revoke(self, credential_id: str) -> None:
        """End one session or token (your own, or any of the tenant's for an admin)."""
        owner = self.session.execute(
            select(Credential.user_id).where(
                Credential.tenant_id == self.tenant_id, Credential.id == credential_id
            )
        ).scalar()
        if owner is None:
            raise NotFound("session or token")
        self._may_manage(owner)
        self.session.execute(
            delete(Credential).where(
                Credential.tenant_id == self.tenant_id, Credential.id == credential_id
            )
        )

    def revoke_all(self, user_id: str | None = None, *, keep_current: bool = False) -> int:
        """End every session and token of ``user_id`` (default: your own).

        With ``keep_current`` the one this scope acts through goes on ("sign out
        everywhere else"); without it, that one ends too.
        """
        user_id = user_id or self.scope.actor.user_id
        self._may_manage(user_id)
        return revoke_user(
            self.session,
            self.tenant_id,
            user_id or "",
            keep=self.scope.identity.credential_id if keep_current else None,
        )

    def issue_token(self, *, label: str = "") -> tuple[str, int]:
        """An API token for the actor, as the Account page offers it."""
        actor = self.scope.actor
        if actor.user_id is None:
            raise Forbidden("Only a signed-in user can have an API token.")
        user = self.scope.users.get(actor.user_id)
        now = datetime.now(UTC)
        credential_id, expires = _insert(
            self.session, user, TOKEN, token_lifetime(), label=label, now=now
        )
        return _encode(user, credential_id, now, expires)


def revoke_user(session: Session, tenant_id: str, user_id: str, *, keep: str | None = None) -> int:
    """Delete every credential of a user (but ``keep``); returns how many ended."""
    statement = delete(Credential).where(
        Credential.tenant_id == tenant_id, Credential.user_id == user_id
    )
    if keep is not None:
        statement = statement.where(Credential.id != keep)
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
