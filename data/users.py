"""Users: passwords (bcrypt), roles, sign-in with throttling kept in the database.

Throttling lives in the ``auth_throttle`` table, so it holds across the dashboard's and
the API's processes: after ``MAX_FAILURES`` failed attempts for one username or from one
client, that key is locked for a window that doubles with every further failure, up to
``MAX_LOCK``.  Failures are forgotten after ``FAILURE_MEMORY`` without any, counted from
the end of the last lock.  While locked, even the right password is refused (so that guessing
cannot continue at full speed), and the refusal says when to try again.
"""

from __future__ import annotations

import builtins
import functools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.db import LOGIN_USER_ID_SETTING, LOGIN_USERNAME_SETTING, Database, set_local
from data.errors import Conflict, DataError, Forbidden, Invalid, NotFound, Throttled
from data.models import NAME_MAX, AuthThrottle, Role, User, new_id, utcnow
from data.schemas import check_email, clean_text, storable, unstorable
from data.tenancy import Actor, Permission, parse_role

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer
MAX_FAILURES = 5
FIRST_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(hours=1)
FAILURE_MEMORY = timedelta(minutes=15)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,149}$")


class Unauthenticated(DataError):
    """Wrong username or password, or a session/token that is no longer valid."""

    def __init__(self, message: str = "Wrong username or password.") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class UserInfo:
    id: str
    tenant_id: str
    username: str
    display_name: str
    email: str | None
    role: Role
    created_at: datetime
    credentials_changed_at: datetime

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.role)


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


def _info(row: object) -> UserInfo:
    mapping = dict(row._mapping)  # type: ignore[attr-defined]
    mapping["role"] = Role(mapping["role"])
    return UserInfo(**mapping)


# -- passwords ------------------------------------------------------------------------


def check_password_rules(password: str) -> None:
    """Raise ``Invalid`` (field ``password``) unless bcrypt can hold it and it is long enough."""
    if not isinstance(password, str):
        raise Invalid({"password": "Password must be text."})
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(
            {"password": "Password contains invalid Unicode (a lone surrogate)."}
        ) from None
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid(
            {"password": f"Password must be at least {MIN_PASSWORD_CHARS} characters long."}
        )
    size = len(password.encode("utf-8"))
    if size > MAX_PASSWORD_BYTES:
        raise Invalid(
            {
                "password": f"Password must be at most {MAX_PASSWORD_BYTES} bytes "
                f"(this one is {size} bytes in UTF-8); use a shorter one."
            }
        )


def _rounds() -> int:
    from config import get_settings

    return get_settings().bcrypt_rounds


def hash_password(password: str) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(_rounds())).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        encoded = password.encode("utf-8") if isinstance(password, str) else b""
    except UnicodeEncodeError:
        encoded = b""  # a lone surrogate: no stored password can match
    if not encoded or len(encoded) > MAX_PASSWORD_BYTES:
        _dummy_check()
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"timing-equaliser", bcrypt.gensalt(_rounds()))


def _dummy_check() -> None:
    """Spend the time of a real check, so unknown usernames cannot be told apart."""
    bcrypt.checkpw(b"not-the-password", _dummy_hash())


def generate_password() -> str:
    return secrets.token_urlsafe(12)


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


# -- sign-in ------------------------------------------------------------------------


def _key_text(text: str) -> str:
    """``text`` as a storable key: escaped when it holds NUL or a lone surrogate."""
    return text if storable(text) else ascii(text)[1:-1]


def _throttle_keys(username: str, client: str | None) -> list[str]:
    keys = [f"user:{_key_text(normalise_username(username))[:200]}"]
    if client:
        keys.append(f"client:{_key_text(client)[:200]}")
    return keys


def _locked_for(session: Session, keys: list[str]) -> int:
    """Seconds until every key is unlocked (0 when none is locked)."""
    now = utcnow()
    rows = session.execute(
        select(AuthThrottle.locked_until).where(AuthThrottle.key.in_(keys))
    ).scalars()
    waits = [(until - now).total_seconds() for until in rows if until is not None and until > now]
    return int(max(waits) + 0.999) if waits else 0


def _record_failure(session: Session, keys: list[str]) -> int:
    """Count a failure against every key; return the lock (seconds) it caused, if any."""
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    longest = 0
    for key in keys:
        session.execute(
            ins(AuthThrottle)
            .values(key=key, failures=0)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = session.execute(
            select(AuthThrottle.failures, AuthThrottle.last_failure_at, AuthThrottle.locked_until)
            .where(AuthThrottle.key == key)
            .with_for_update()
        ).one()
        failures = row.failures
        # Forget the failures after a quiet while counted from the end of the last lock,
        # not from the last failure: otherwise a lock longer than FAILURE_MEMORY would
        # reset the count the moment it ends, and the window could never grow to MAX_LOCK.
        marks = [moment for moment in (row.last_failure_at, row.locked_until) if moment]
        if marks and now - max(marks) > FAILURE_MEMORY:
            failures = 0
        failures += 1
        locked_until = None
        if failures >= MAX_FAILURES:
            lock = min(MAX_LOCK, FIRST_LOCK * 2 ** (failures - MAX_FAILURES))
            locked_until = now + lock
            longest = max(longest, int(lock.total_seconds()))
        session.execute(
            update(AuthThrottle)
            .where(AuthThrottle.key == key)
            .values(failures=failures, last_failure_at=now, locked_until=locked_until)
        )
    return longest


def _find_by_username(session: Session, username: str) -> tuple[UserInfo, str] | None:
    set_local(session, LOGIN_USERNAME_SETTING, username)
    row = session.execute(
        select(*USER_COLUMNS, User.password_hash).where(User.username == username)
    ).first()
    if row is None:
        return None
    mapping = dict(row._mapping)
    password_hash = mapping.pop("password_hash")
    mapping["role"] = Role(mapping["role"])
    return UserInfo(**mapping), password_hash


def find_user(database: Database, username: str) -> UserInfo | None:
    """A user by username, in any tenant (operator paths)."""
    name = normalise_username(username)
    if not storable(name):
        return None  # no user can have a name that cannot be stored
    with database.transaction(None) as session:
        found = _find_by_username(session, name)
    return found[0] if found is not None else None


def authenticate(database: Database, username: str, password: str, client: str | None) -> UserInfo:
    """Check a username and password; raise ``Throttled`` or ``Unauthenticated``.

    ``client`` identifies where the attempt comes from (an IP address); failures are
    counted per username and per client.
    """
    name = normalise_username(username if isinstance(username, str) else "")
    keys = _throttle_keys(name, client)
    with database.transaction(None) as session:
        wait = _locked_for(session, keys)
        found = _find_by_username(session, name) if name and storable(name) else None
    if wait:
        raise Throttled(wait)
    if found is not None and verify_password(password, found[1]):
        with database.transaction(None, write=True) as session:
            session.execute(delete(AuthThrottle).where(AuthThrottle.key == keys[0]))
        return found[0]
    if found is None:
        _dummy_check()
    with database.transaction(None, write=True) as session:
        lock = _record_failure(session, keys)
    if lock:
        raise Throttled(lock)
    raise Unauthenticated()


def user_for_session(database: Database, user_id: str, issued_at: float) -> UserInfo:
    """The user a cookie or token names, if it still stands.

    Refused when the user was removed or changed password after ``issued_at`` (seconds
    since the epoch).
    """
    _check_user_id(user_id)
    with database.transaction(None) as session:
        set_local(session, LOGIN_USER_ID_SETTING, user_id)
        return _session_user(session, user_id, issued_at)


def tenant_user_for_session(session: Session, user_id: str, issued_at: float) -> UserInfo:
    """``user_for_session`` inside a transaction of the user's tenant the caller holds.

    One transaction instead of two for an API call: the user is checked in the same
    transaction (and on PostgreSQL under the same tenant setting) as the work it asks
    for.  A user of another tenant is not found there, so it is refused the same way.
    """
    _check_user_id(user_id)
    user = _session_user(session, user_id, issued_at)
    if user.tenant_id != session.info.get("tenant_id"):
        raise Unauthenticated("Your account no longer exists; please contact your admin.")
    return user


def _check_user_id(user_id: object) -> None:
    if not isinstance(user_id, str) or not user_id or not storable(user_id):
        raise Unauthenticated("Your session is not valid; please sign in again.")


def _session_user(session: Session, user_id: str, issued_at: float) -> UserInfo:
    row = session.execute(select(*USER_COLUMNS).where(User.id == user_id)).first()
    if row is None:
        raise Unauthenticated("Your account no longer exists; please contact your admin.")
    user = _info(row)
    if issued_at < user.credentials_changed_at.timestamp():
        raise Unauthenticated("Your password was changed; please sign in again.")
    return user


# -- managing users -----------------------------------------------------------------


class UserDirectory:
    """The users of one tenant.  Reads need no role; changes need an admin."""

    def __init__(self, session: Session, tenant_id: str, actor: Actor | None = None) -> None:
        if session.info.get("tenant_id") != tenant_id:
            raise ValueError("session and directory are for different tenants")
        self.session = session
        self.tenant_id = tenant_id
        self.actor = actor

    def _require_admin(self) -> Actor:
        if self.actor is None:
            raise Forbidden("Only a signed-in admin can manage users.")
        self.actor.require(Permission.MANAGE_USERS)
        return self.actor

    def list(self) -> list[UserInfo]:
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
        self._require_admin()
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
        self._require_admin()
        new_role = parse_role(role) if isinstance(role, str) else role
        user = self.get(user_id)
        if user.role == Role.ADMIN and new_role != Role.ADMIN:
            admins = self._admins_locked()
            if admins == [user_id]:
                raise Conflict("The last admin of a tenant cannot be demoted.", field="role")
        self.session.execute(
            update(User)
            .where(User.tenant_id == self.tenant_id, User.id == user_id)
            .values(role=new_role.value)
        )
        return self.get(user_id)

    def reset_password(self, user_id: str, password: str | None = None) -> str:
        """Set a new password (generated when none is given); old sessions stop working."""
        self._require_admin()
        self.get(user_id)
        password = password if password is not None else generate_password()
        _set_password(self.session, self.tenant_id, user_id, password)
        return password

    def remove(self, user_id: str) -> UserInfo:
        actor = self._require_admin()
        user = self.get(user_id)
        if user.username == actor.username:
            raise Conflict("You cannot remove your own account.")
        if user.role == Role.ADMIN and self._admins_locked() == [user_id]:
            raise Conflict("The last admin of a tenant cannot be removed.")
        self.session.execute(
            delete(User).where(User.tenant_id == self.tenant_id, User.id == user_id)
        )
        return user

    def change_own_password(self, user_id: str, current: str, new: str) -> None:
        """Any role may change its own password, given the current one."""
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
    """Create a user in ``tenant_id`` (operator path: the CLI and the demo loader)."""
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
