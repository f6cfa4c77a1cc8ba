"""Who is signed in: the session, the re-login cookie, and the page guard.

The session keeps only ids and small facts (user id, tenant id, role, when signed in);
every run re-reads the user from the database, so a removed user or a password change
takes effect at once, and a demoted user loses rights on the next click.

The re-login cookie goes through streamlit-authenticator's ``CookieModel`` (its cookie
manager component sets and deletes the browser cookie).  Its token is hardened here:
signed with the installation's random ``COOKIE_KEY`` (never the library default), it
carries the user id and nothing else but its issue and expiry times, and it is refused
when the user is gone or changed password after it was issued.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import streamlit as st
from streamlit_authenticator.models import CookieModel

from config import get_settings
from data.errors import DataError
from data.models import Role
from data.users import Unauthenticated, UserInfo, user_for_session
from ui.db import database

SESSION = "auth"
SIGNED_OUT = "auth_signed_out"
PENDING_COOKIE = "auth_cookie_to_set"
DROP_COOKIE = "auth_cookie_to_drop"
NOTICE = "auth_notice"
JUST_SIGNED_OUT = "auth_just_signed_out"
SIGN_OUT_REQUESTED = "auth_sign_out_requested"
RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class SignedIn:
    """What the session remembers: ids, not data."""

    user_id: str
    signed_in_at: float


class UserIdCookie(CookieModel):  # type: ignore[misc]
    """streamlit-authenticator's cookie, carrying only the user id."""

    def __init__(self) -> None:
        settings = get_settings()
        super().__init__(settings.cookie_name, settings.cookie_key, settings.cookie_expiry_days)

    def issue(self, token: str) -> bool:
        """Render the component that sets the cookie; True once the browser confirmed it."""
        expires = datetime.now(UTC) + timedelta(days=float(self.cookie_expiry_days))
        options: dict[str, Any] = {
            "path": "/",
            "expires": expires.isoformat(),
            "sameSite": "strict",
        }
        if (st.context.url or "").startswith("https"):
            options["secure"] = True
        done = self.cookie_manager.cookie_manager(
            method="set",
            cookie=self.cookie_name,
            value=token,
            options=options,
            key="auth_cookie_set",
            default=False,
        )
        return bool(done)

    def drop(self) -> bool:
        """Render the component that deletes the cookie; True once it is gone."""
        done = self.cookie_manager.cookie_manager(
            method="delete", cookie=self.cookie_name, key="auth_cookie_delete", default=False
        )
        return bool(done)


def cookie_token(user_id: str, now: datetime | None = None) -> str:
    """The signed re-login token: the user id, when it was issued, when it expires."""
    settings = get_settings()
    now = now or datetime.now(UTC)
    expires = now + timedelta(days=settings.cookie_expiry_days)
    claims = {"sub": user_id, "iat": now.timestamp(), "exp": int(expires.timestamp())}
    return jwt.encode(claims, settings.cookie_key, algorithm="HS256")


def read_cookie() -> tuple[str, float] | None:
    """(user id, issued at) from the request's cookie, when it is ours and unexpired."""
    settings = get_settings()
    raw = st.context.cookies.get(settings.cookie_name)
    if not raw:
        return None
    try:
        claims = jwt.decode(
            raw,
            settings.cookie_key,
            algorithms=["HS256"],
            options={"require": ["sub", "iat", "exp"]},
        )
    except jwt.PyJWTError:
        return None
    sub, iat = claims.get("sub"), claims.get("iat")
    if not isinstance(sub, str) or not isinstance(iat, int | float):
        return None
    return sub, float(iat)


def client_id() -> str:
    """Where the browser connects from, for throttling failed sign-ins."""
    return st.context.ip_address or "localhost"


def start_session(user: UserInfo) -> None:
    """Remember the user in this session and ask the next run to set the cookie."""
    st.session_state[SESSION] = SignedIn(user.id, time.time())
    st.session_state[PENDING_COOKIE] = cookie_token(user.id)
    st.session_state.pop(SIGNED_OUT, None)
    st.session_state.pop(DROP_COOKIE, None)


def request_sign_out() -> None:
    """Button callback: the entry script signs out at the start of the next run."""
    st.session_state[SIGN_OUT_REQUESTED] = True


def sign_out(notice: str | None = None) -> None:
    """Forget the user, remove the cookie, and ignore the cookie this session came with."""
    for key in list(st.session_state.keys()):
        if key not in (SIGNED_OUT, DROP_COOKIE, NOTICE, JUST_SIGNED_OUT):
            del st.session_state[key]
    st.session_state[SIGNED_OUT] = True
    st.session_state[DROP_COOKIE] = True
    st.session_state[JUST_SIGNED_OUT] = True
    if notice:
        st.session_state[NOTICE] = notice
    st.cache_data.clear()


def sync_cookie() -> None:
    """Set or delete the browser cookie, as the session asks, until the browser confirms.

    The cookie component runs in the browser after this script run; it is rendered on
    every run until it reports back, so a rerun in between cannot lose it.
    """
    drop = st.session_state.get(DROP_COOKIE)
    token = st.session_state.get(PENDING_COOKIE)
    if not drop and not token:
        return
    # Cookie components are invisible; keep them from adding blank space.
    st.html("<style>.element-container:has(iframe[height='0']) {display: none;}</style>")
    cookie = UserIdCookie()
    if drop and cookie.drop():
        st.session_state.pop(DROP_COOKIE, None)
    if token and cookie.issue(token):
        st.session_state.pop(PENDING_COOKIE, None)


def resolve_user() -> UserInfo | None:
    """The signed-in user for this run, from the session or else from the cookie."""
    if st.session_state.pop(SIGN_OUT_REQUESTED, False):
        sign_out()
        return None
    signed: SignedIn | None = st.session_state.get(SESSION)
    try:
        if signed is not None:
            return user_for_session(database(), signed.user_id, signed.signed_in_at)
        if st.session_state.get(SIGNED_OUT):
            return None
        from_cookie = read_cookie()
        if from_cookie is None:
            return None
        user = user_for_session(database(), *from_cookie)
    except Unauthenticated as exc:
        sign_out(str(exc))
        return None
    st.session_state[SESSION] = SignedIn(user.id, from_cookie[1])
    return user


def current_user() -> UserInfo | None:
    user: UserInfo | None = st.session_state.get("_auth_user_this_run")
    return user


def remember_for_run(user: UserInfo | None) -> None:
    st.session_state["_auth_user_this_run"] = user


def require(role: Role = Role.VIEWER) -> UserInfo:
    """The first line of every page: stop unless signed in with at least ``role``."""
    user = current_user()
    if user is None:
        _to_the_entry_page()
        st.stop()
    if RANK[user.role] < RANK[role]:
        st.error(f"This page needs the {role.value} role; you are signed in as {user.role.value}.")
        st.stop()
    return user


def _to_the_entry_page() -> None:
    """A page URL opened on a freshly started server, before the entry script ever ran.

    Streamlit then treats pages/ as an old-style multipage app and runs the page alone,
    listing every file of pages/ in the sidebar.  Going to the entry script instead
    gives the Sign in page and the real navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        st.switch_page("dashboard.py")


def can(user: UserInfo, role: Role) -> bool:
    return RANK[user.role] >= RANK[role]


def show_error(exc: DataError | Exception) -> None:
    st.error(str(exc) if isinstance(exc, DataError) else "Something went wrong; please retry.")


__all__: list[Any] = [
    "RANK",
    "SignedIn",
    "UserIdCookie",
    "can",
    "client_id",
    "cookie_token",
    "current_user",
    "read_cookie",
    "require",
    "resolve_user",
    "sign_out",
    "start_session",
    "sync_cookie",
]
