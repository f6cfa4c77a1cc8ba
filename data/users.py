"""Users: accounts of a tenant, their roles and passwords, managed by the tenant's admins.

A change to a user that affects what they may do ends their sessions and API tokens at
once (``data.credentials.revoke_user``): a role change, a password reset, removal (by
cascade).  Changing your own password ends your other sessions and tokens.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.db import LOGIN_USERNAME_SETTING, Database, set_local
from data.errors import Conflict, Forbidden, Invalid, NotFound
from data.identity import Permission, Role, parse_role
from data.models import NAME_MAX, User, new_id, utcnow
from data.passwords import generate_password, hash_password, verify_password
from data.schemas import check_email, clean_text, storable, unstorable

if TYPE_CHECKING:
    from data.scope import Scope

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,149}$")


@dataclass(frozen=True)
class UserInfo:
    """A user account as stored (never its password hash)."""

    id: str
    tenant_id: str
    username: str
    display_name: str
    email: str | None
    role: Role
    created_at: datetime
    credentials_changed_at: datetime


USER_COLUMNS = (
    User.id,
    User.tenant_id,
    User.username,
    User.display_name,
    User.email,
    User.role,
    User.created_at,
    User.credentials_changed_at,
)


def _info(row: Any) -> UserInfo:
    mapping = dict(row._mapping)
    mapping.pop("password_hash", None)
    mapping["role"] = Role(mapping["role"])
    return UserInfo(**mapping)


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_RE.match(name):
        raise Invalid(
            {
                "username": "Username must be 3–150 characters: letters, digits, "
                "'.', '_', '-' or '@', starting with a letter or digit."
            }
        )
    return name


@overload
def find_in_session(
    session: Session, username: str, *, with_hash: Literal[True]
) -> tuple[UserInfo, str] | None: ...
@overload
def find_in_session(
    session: Session, username: str, *, with_hash: Literal[False] = False
) -> UserInfo | None: ...
def find_in_session(
    session: Session, username: str, *, with_hash: bool = False
) -> UserInfo | tuple[UserInfo, str] | None:
    """A user by (normalised) username in any tenant: sign-in and operator paths only."""
    set_local(session, LOGIN_USERNAME_SETTING, username)
    row = session.execute(
        select(*USER_COLUMNS, User.password_hash).where(User.username == username)
    ).first()
    if row is None:
        return None
    user = _info(row)
    return (user, str(row.password_hash)) if with_hash else user


def find_user(database: Database, username: str) -> UserInfo | None:
    """A user by username, in any tenant (operator paths)."""
    name = normalise_username(username)
    if not storable(name):
        return None  # no user can have a name that cannot be stored
    with database.transaction(None) as session:
        return find_in_session(session, name)


# -- managing users -----------------------------------------------------------------


class UserDirectory:
    """The users of a scope's tenant.  Anyone signed in may read; changes need an admin."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.session = scope.session
        self.tenant_id = scope.tenant_id

    def list(self) -> builtins.list[UserInfo]:
        rows = self.session.execute(
            select(*USER_COLUMNS).where(User.tenant_id == self.tenant_id).order_by(User.username)
        )
        return [_info(row) for row in rows]

    def get(self, user_id: str) -> UserInfo:
        row = self.session.execute(
            select(*USER_COLUMNS).where(User.tenant_id == self.tenant_id, User.id == user_id)
        ).first()
        if row is None:
            raise NotFound("user")
        return _info(row)

    def me(self) -> UserInfo:
        """The acting user's own account."""
        if self.scope.actor.user_id is None:
            raise Forbidden("The command line has no account of its own.")
        return self.get(self.scope.actor.user_id)

    def add(
        self,
        username: str,
        role: Role | str,
        password: str | None = None,
        *,
        display_name: str | None = None,
        email: str | None = None,
    ) -> tuple[UserInfo, str]:
        """Create a user; returns it and its password (generated when none is given)."""
        self.scope.require(Permission.MANAGE_USERS)
        return create_user(
            self.session,
            self.tenant_id,
            username,
            role,
            password,
            display_name=display_name,
            email=email,
        )

    def _admins_locked(self) -> builtins.list[str]:
        """Ids of the tenant's admins, locked until the end of the transaction."""
        return list(
            self.session.execute(
                select(User.id)
                .where(User.tenant_id == self.tenant_id, User.role == Role.ADMIN.value)
                .with_for_update()
            ).scalars()
        )

    def change_role(self, user_id: str, role: Role | str) -> UserInfo:
        """A new role; the user's sessions and tokens end (they sign in again)."""
        from data.credentials import revoke_user

        self.scope.require(Permission.MANAGE_USERS)
        new_role = parse_role(role) if isinstance(role, str) else role
        user = self.get(user_id)
        if user.role == new_role:
            return user
        if user.role == Role.ADMIN and self._admins_locked() == [user_id]:
            raise Conflict("The last admin of a tenant cannot be demoted.", field="role")
        self.session.execute(
            update(User)
            .where(User.tenant_id == self.tenant_id, User.id == user_id)
            .values(role=new_role.value)
        )
        revoke_user(self.session, self.tenant_id, user_id)
        return self.get(user_id)

    def reset_password(self, user_id: str, password: str | None = None) -> str:
        """Set a new password (generated when none is given); their sessions and tokens end."""
        from data.credentials import revoke_user

        self.scope.require(Permission.MANAGE_USERS)
        self.get(user_id)
        password = password if password is not None else generate_password()
        _set_password(self.session, self.tenant_id, user_id, password)
        revoke_user(self.session, self.tenant_id, user_id)
        return password

    def remove(self, user_id: str) -> UserInfo:
        """Remove a user; their sessions and tokens go with them (cascade)."""
        actor = self.scope.require(Permission.MANAGE_USERS)
        user = self.get(user_id)
        if user.id == actor.user_id:
            raise Conflict("You cannot remove your own account.")
        if user.role == Role.ADMIN and self._admins_locked() == [user_id]:
            raise Conflict("The last admin of a tenant cannot be removed.")
        self.session.execute(
            delete(User).where(User.tenant_id == self.tenant_id, User.id == user_id)
        )
        return user

    def change_own_password(self, current: str, new: str) -> int:
        """Any role may change its own password, given the current one.

        Every other session and token of the user ends; returns how many.
        """
        from data.credentials import revoke_user

        user_id = self.me().id
        row = self.session.execute(
            select(User.password_hash).where(User.tenant_id == self.tenant_id, User.id == user_id)
        ).first()
        if row is None:
            raise NotFound("user")
        if not verify_password(current, row.password_hash):
            raise Invalid({"current_password": "The current password is not right."})
        if current == new:
            raise Invalid({"password": "The new password must differ from the current one."})
        _set_password(self.session, self.tenant_id, user_id, new)
        return revoke_user(
            self.session, self.tenant_id, user_id, keep=self.scope.identity.credential_id
        )


def _set_password(session: Session, tenant_id: str, user_id: str, password: str) -> None:
    password_hash = hash_password(password)
    session.execute(
        update(User)
        .where(User.tenant_id == tenant_id, User.id == user_id)
        .values(password_hash=password_hash, credentials_changed_at=utcnow())
    )


def create_user(
    session: Session,
    tenant_id: str,
    username: str,
    role: Role | str,
    password: str | None = None,
    *,
    display_name: str | None = None,
    email: str | None = None,
) -> tuple[UserInfo, str]:
    """Create a user in ``tenant_id`` (the directory's admins, the CLI and the demo loader)."""
    if session.info.get("tenant_id") != tenant_id:
        raise ValueError("session is for another tenant")
    name = check_username(username)
    the_role = parse_role(role) if isinstance(role, str) else role
    password = password if password is not None else generate_password()
    password_hash = hash_password(password)
    display = (display_name or "").strip() or name
    if len(display) > NAME_MAX:
        raise Invalid({"display_name": f"Display name must be at most {NAME_MAX} characters."})
    problem = unstorable("Display name", display)
    if problem is not None:
        raise Invalid({"display_name": problem})
    try:
        mail = clean_text("email", email)
        if mail is not None:
            check_email(mail)  # the same rule as a customer's email
    except ValueError as exc:
        raise Invalid({"email": str(exc)}) from None
    now = utcnow()
    user_id = new_id()
    taken = Conflict(f"The username {name!r} is already taken.", field="username")
    set_local(session, LOGIN_USERNAME_SETTING, name)
    if session.execute(select(func.count()).where(User.username == name)).scalar_one():
        raise taken
    try:
        with session.begin_nested():
            session.execute(
                insert(User).values(
                    id=user_id,
                    tenant_id=tenant_id,
                    username=name,
                    display_name=display,
                    email=mail,
                    password_hash=password_hash,
                    role=the_role.value,
                    created_at=now,
                    credentials_changed_at=now,
                )
            )
    except IntegrityError:
        raise taken from None
    return UserInfo(user_id, tenant_id, name, display, mail, the_role, now, now), password
