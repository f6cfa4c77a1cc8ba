"""Who is signed in: the session, the re-login cookie, and the page guard.

The Streamlit session keeps one ``Identity`` (ids only: tenant, user, and the server-side
session row).  Every run reads the actor from the database through a scope
(``data.scope``): the user's current role, and whether the session still stands.  A
session ended elsewhere (sign-out in another browser, "sign out everywhere", a password
or role change, removal) signs this browser out on its next run, and every write opens
its own scope, so a button clicked after a demotion writes nothing.

The re-login cookie holds only the session's random secret (``data.credentials``):
nothing to decode, nothing to forge, and worthless once the session row is gone.  It is
``SameSite=Strict``, expires with the session, and is ``Secure`` when the browser's
request came over https, directly or through a proxy named in ``TRUSTED_PROXIES``.
Served as ``server.py`` (how ``manage.py dashboard`` runs it) the cookie is set and
cleared by an HTTP route, ``HttpOnly`` (``ui.cookie_route``); under a bare
``streamlit run dashboard.py`` streamlit-authenticator's cookie manager sets it from a
script, and it cannot be ``HttpOnly``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import streamlit as st
import streamlit.components.v1 as components
from streamlit_authenticator.models import CookieModel

from config import get_settings
from data.credentials import end_session, open_session, resume_session, session_lifetime
from data.errors import DataError, Unauthenticated
from data.identity import ROLE_PERMISSIONS, Actor, Identity, Permission, Role, at_least
from data.signin import came_over_https, client_address
from data.users import UserInfo
from ui import cookie_route, text
from ui.db import database
from ui.state import StateKey

IDENTITY = StateKey[Identity]("auth_identity")
SIGNED_OUT = StateKey[bool]("auth_signed_out")
PENDING_COOKIE = StateKey[str]("auth_cookie_to_set")
HANDOFF = StateKey[str]("auth_cookie_handoff")  # the route's one-time code (server.py)
DROP_COOKIE = StateKey[bool]("auth_cookie_to_drop")
NOTICE = StateKey[str]("auth_notice")
JUST_SIGNED_OUT = StateKey[bool]("auth_just_signed_out")
SIGN_OUT_REQUESTED = StateKey[str]("auth_sign_out_requested")
KEPT = (SIGNED_OUT.name, DROP_COOKIE.name, NOTICE.name, JUST_SIGNED_OUT.name)


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in for this run: the identity, and the actor as the run began.

    ``actor`` decides what the page shows; every write reads it again in its own scope.
    """

    identity: Identity
    actor: Actor

    @property
    def tenant_id(self) -> str:
        return self.identity.tenant_id

    def can(self, permission: Permission) -> bool:
        return self.actor.can(permission)

    def at_least(self, role: Role) -> bool:
        return at_least(self.actor.role, role)


class SessionCookie(CookieModel):  # type: ignore[misc]
    """streamlit-authenticator's cookie, carrying only the session's secret."""

    def __init__(self) -> None:
        settings = get_settings()
        days = float(settings.session_lifetime_hours) / 24
        super().__init__(settings.cookie_name, settings.cookie_key, days)

    def issue(self, secret: str) -> bool:
        """Render the component that sets the cookie; True once the browser confirmed it."""
        expires = datetime.now(UTC) + session_lifetime()
        options: dict[str, Any] = {
            "path": "/",
            "expires": expires.isoformat(),
            "sameSite": "strict",
        }
        if over_https():
            options["secure"] = True
        done = self.cookie_manager.cookie_manager(
            method="set",
            cookie=self.cookie_name,
            value=secret,
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


def _header(name: str) -> str | None:
    value = st.context.headers.get(name)
    return value if isinstance(value, str) else None


def _peer() -> str | None:
    # Text or nothing: outside a browser session (AppTest, bare mode) it is a stand-in.
    peer = st.context.ip_address
    return peer if isinstance(peer, str) else None


def client_id() -> str | None:
    """Where the browser connects from, for throttling failed sign-ins.

    The connection's peer, or what a trusted proxy says it forwarded for.
    """
    return client_address(_peer(), _header("X-Forwarded-For"), get_settings().proxies)


def over_https() -> bool:
    url = st.context.url
    return came_over_https(
        url if isinstance(url, str) else None,
        _peer(),
        _header("X-Forwarded-Proto"),
        get_settings().proxies,
    )


_BROWSERS = (  # the first that a User-Agent names (Edge and Opera also say Chrome)
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_agent(agent: str) -> str:
    """``Chrome on Linux``: what a person recognises of a User-Agent header."""
    browser = next((name for mark, name in _BROWSERS if mark in agent), "A browser")
    system = next((name for mark, name in _SYSTEMS if mark in agent), "")
    return f"{browser} on {system}" if system else browser


def start_session(user: UserInfo) -> None:
    """After a successful sign-in: a server-side session, and its cookie on the next run."""
    where = describe_agent(_header("User-Agent") or "")
    secret, identity = open_session(database(), user, label=where)
    IDENTITY.set(identity)
    PENDING_COOKIE.set(secret)
    HANDOFF.pop()
    SIGNED_OUT.pop()
    DROP_COOKIE.pop()


def request_sign_out(notice: str = "") -> None:
    """Button callback (or a write that found the session ended): sign out next run."""
    SIGN_OUT_REQUESTED.set(notice)


def sign_out(notice: str | None = None) -> None:
    """End the session on the server, forget it here, and remove the cookie."""
    identity = IDENTITY.get()
    if identity is not None:
        # The database may be away: the session then ends with its lifetime.
        with contextlib.suppress(DataError):
            end_session(database(), identity)
    for key in list(st.session_state.keys()):
        if key not in KEPT:
            del st.session_state[key]
    SIGNED_OUT.set(True)
    DROP_COOKIE.set(True)
    JUST_SIGNED_OUT.set(True)
    if notice:
        NOTICE.set(notice)
    st.cache_data.clear()


def sync_cookie() -> None:
    """Set or delete the browser cookie, as the session asks, until the browser confirms.

    The cookie component runs in the browser after this script run; it is rendered on
    every run until it reports back, so a rerun in between cannot lose it.
    """
    drop = DROP_COOKIE.get()
    secret = PENDING_COOKIE.get()
    if not drop and not secret:
        return
    # Cookie components are invisible; keep them from adding blank space (our own CSS).
    st.html("<style>.element-container:has(iframe[height='0']) {display: none;}</style>")
    if cookie_route.active():
        _hand_over("" if drop else secret or "")
        return
    cookie = SessionCookie()
    if drop and cookie.drop():
        DROP_COOKIE.pop()
    if secret and cookie.issue(secret):
        PENDING_COOKIE.pop()


def _hand_over(secret: str) -> None:
    """Through ``/_session``: the browser collects the cookie (or its removal) by code."""
    code = HANDOFF.get()
    if code is not None and cookie_route.taken(code):
        HANDOFF.pop()
        DROP_COOKIE.pop()
        PENDING_COOKIE.pop()
        return
    if code is None:
        code = cookie_route.offer(secret)
        HANDOFF.set(code)
    components.html(cookie_route.script(code), height=0)


def _actor(identity: Identity) -> Actor:
    with database().scope(identity) as scope:
        return scope.actor


def resolve() -> SignedIn | None:
    """The signed-in user for this run, from the session or else from the cookie."""
    requested = SIGN_OUT_REQUESTED.pop()
    if requested is not None:
        sign_out(requested or None)
        return None
    identity = IDENTITY.get()
    try:
        if identity is None:
            if SIGNED_OUT.get():
                return None
            secret = st.context.cookies.get(get_settings().cookie_name)
            identity = resume_session(database(), secret)
            if identity is None:
                return None
        actor = _actor(identity)
    except Unauthenticated as exc:
        sign_out(str(exc))
        return None
    IDENTITY.set(identity)
    return SignedIn(identity, actor)


def require(permission: Permission = Permission.READ) -> SignedIn:
    """The first line of every page: stop unless signed in with a role that may do this.

    It reads the session and the user's role from the database again (``resolve``),
    whatever the entry script found: a page never acts on a user object of another run.
    """
    _to_the_entry_page()
    try:
        signed_in = resolve()
    except DataError as exc:  # the database is away: one sentence, nothing else
        text.error(str(exc))
        st.stop()
    if signed_in is None:
        if JUST_SIGNED_OUT.get():
            st.rerun()  # the session ended just now: the entry shows Sign in and why
        st.stop()
    if not signed_in.can(permission):
        st.error(
            f"This page needs the {needed_role(permission).value} role; "
            f"you are signed in as {signed_in.actor.role.value}."
        )
        st.stop()
    return signed_in


def needed_role(permission: Permission) -> Role:
    """The least role that has ``permission``."""
    return min(
        (role for role, granted in ROLE_PERMISSIONS.items() if permission in granted),
        key=lambda role: len(ROLE_PERMISSIONS[role]),
    )


def _to_the_entry_page() -> None:
    """A page URL opened on a freshly started server, before the entry script ever ran.

    Streamlit then treats pages/ as an old-style multipage app and runs the page alone,
    listing every file of pages/ in the sidebar.  Going to the entry script instead
    gives the Sign in page (or, with a session, the page) and the real navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        st.switch_page("dashboard.py")
