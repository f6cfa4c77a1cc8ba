"""Sessions and API tokens: rows that vouch for a user, and end when they should.

A session's cookie holds a random secret of which only a keyed hash is stored; a token
is a signed JWT whose ``jti`` is its row.  Both end on sign-out, a password change, a
role change, removal of the user, "sign out everywhere", or their lifetime.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import text

from config import get_settings
from data.credentials import (
    AUDIENCE,
    decode_token,
    end_session,
    issue_token,
    open_session,
    resume_session,
)
from data.errors import Forbidden, NotFound, Unauthenticated
from data.identity import Identity, Role


def actor_of(database, identity):  # type: ignore[no-untyped-def]
    with database.scope(identity) as scope:
        return scope.actor


def test_a_session_resumes_from_its_secret_and_stores_only_a_hash(database, tenant, owner_sql):
    secret, identity = open_session(database, tenant.editor, label="Browser · test")
    assert len(secret) >= 40
    assert resume_session(database, secret) == identity
    assert actor_of(database, identity).username == tenant.editor.username
    with owner_sql(tenant.id) as conn:
        stored = conn.execute(
            text("SELECT secret_hash, label FROM credentials WHERE id = :id"),
            {"id": identity.credential_id},
        ).one()
    assert secret not in stored.secret_hash
    assert len(stored.secret_hash) == 64
    assert stored.label == "Browser · test"


def test_a_wrong_or_ended_secret_resumes_nothing(database, tenant):
    secret, identity = open_session(database, tenant.editor)
    assert resume_session(database, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    end_session(database, identity)
    assert resume_session(database, secret) is None
    with pytest.raises(Unauthenticated, match="Your session has ended"):
        actor_of(database, identity)


def test_a_session_ends_with_its_lifetime_whatever_the_activity(database, tenant, clock):
    _, identity = open_session(database, tenant.viewer)
    lifetime = timedelta(hours=get_settings().session_lifetime_hours)
    clock.advance(seconds=lifetime.total_seconds() - 60)
    assert actor_of(database, identity).role == Role.VIEWER
    clock.advance(seconds=61)
    with pytest.raises(Unauthenticated):
        actor_of(database, identity)


def test_a_session_of_another_tenant_cannot_be_resumed_into_this_one(
    database, tenant, other_tenant
):
    _, theirs = open_session(database, other_tenant.editor)
    forged = Identity(tenant.id, theirs.user_id, theirs.credential_id)
    with pytest.raises(Unauthenticated):
        actor_of(database, forged)


def test_an_identity_without_a_credential_is_nobody(database, tenant):
    with pytest.raises(Unauthenticated):
        actor_of(database, Identity(tenant.id, tenant.editor.id, None))


def test_a_role_change_ends_the_users_sessions_and_tokens(database, tenant, scope_of):
    _, session = open_session(database, tenant.editor)
    token, _ = issue_token(database, tenant.editor)
    token_identity, hint = decode_token(token)
    assert hint == Role.EDITOR
    with scope_of(tenant, tenant.admin, write=True) as scope:
        scope.users.change_role(tenant.editor.id, Role.VIEWER)
    for ended in (session, token_identity):
        with pytest.raises(Unauthenticated):
            actor_of(database, ended)
    _, fresh = open_session(database, tenant.editor)
    assert actor_of(database, fresh).role == Role.VIEWER


@pytest.mark.parametrize("change", ["reset_password", "remove"])
def test_a_password_reset_or_removal_ends_the_users_sessions(database, tenant, scope_of, change):
    _, session = open_session(database, tenant.viewer)
    token, _ = issue_token(database, tenant.viewer)
    with scope_of(tenant, tenant.admin, write=True) as scope:
        getattr(scope.users, change)(tenant.viewer.id)
    for ended in (session, decode_token(token)[0]):
        with pytest.raises(Unauthenticated):
            actor_of(database, ended)


def test_changing_your_own_password_ends_your_other_sessions_but_not_this_one(database, tenant):
    _, here = open_session(database, tenant.editor)
    _, elsewhere = open_session(database, tenant.editor)
    token, _ = issue_token(database, tenant.editor)
    with database.scope(here, write=True) as scope:
        ended = scope.users.change_own_password(
            tenant.passwords[tenant.editor.username], "a brand new password"
        )
    assert ended == 2
    assert actor_of(database, here).username == tenant.editor.username
    for gone in (elsewhere, decode_token(token)[0]):
        with pytest.raises(Unauthenticated):
            actor_of(database, gone)


def test_sign_out_everywhere_else_keeps_only_this_session(database, tenant):
    _, here = open_session(database, tenant.editor)
    others = [open_session(database, tenant.editor)[1] for _ in range(2)]
    with database.scope(here, write=True) as scope:
        assert scope.credentials.revoke_all(keep_current=True) == 2
    assert actor_of(database, here).username == tenant.editor.username
    for gone in others:
        with pytest.raises(Unauthenticated):
            actor_of(database, gone)


def test_the_list_shows_your_own_sessions_and_tokens_and_marks_this_one(database, tenant):
    _, here = open_session(database, tenant.editor, label="Browser · here")
    issue_token(database, tenant.editor, label="API · script")
    open_session(database, tenant.viewer)
    with database.scope(here) as scope:
        listed = scope.credentials.list()
    assert {c.user_id for c in listed} == {tenant.editor.id}
    assert [c.current for c in listed if c.id == here.credential_id] == [True]
    assert {"Browser · here", "API · script"} <= {c.label for c in listed}
    assert {c.kind for c in listed} == {"session", "token"}


def test_only_an_admin_sees_and_ends_another_users_sessions(database, tenant, other_tenant):
    _, theirs = open_session(database, tenant.viewer)
    _, editor = open_session(database, tenant.editor)
    with database.scope(editor, write=True) as scope:
        with pytest.raises(Forbidden):
            scope.credentials.list(tenant.viewer.id)
        with pytest.raises(Forbidden):
            scope.credentials.revoke(theirs.credential_id or "")
    assert actor_of(database, theirs).role == Role.VIEWER
    _, foreign = open_session(database, other_tenant.viewer)
    _, admin = open_session(database, tenant.admin)
    with database.scope(admin, write=True) as scope:
        with pytest.raises(NotFound):  # another tenant's session looks like none at all
            scope.credentials.revoke(foreign.credential_id or "")
        scope.credentials.revoke(theirs.credential_id or "")
    assert actor_of(database, foreign).role == Role.VIEWER
    with pytest.raises(Unauthenticated):
        actor_of(database, theirs)


# -- tokens ------------------------------------------------------------------------------


def test_a_token_names_its_row_and_works_until_revoked(database, tenant):
    token, expires_in = issue_token(database, tenant.editor)
    assert 3590 <= expires_in <= 3600
    identity, role = decode_token(token)
    assert (identity.tenant_id, identity.user_id, role) == (
        tenant.id,
        tenant.editor.id,
        Role.EDITOR,
    )
    assert actor_of(database, identity).username == tenant.editor.username
    with database.scope(identity, write=True) as scope:
        scope.credentials.revoke(identity.credential_id or "")
    with pytest.raises(Unauthenticated):
        actor_of(database, identity)


def _sign(claims: dict[str, object], key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or get_settings().jwt_secret, algorithm=algorithm)


def _claims(tenant, **changes: object) -> dict[str, object]:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": tenant.editor.id,
        "tenant": tenant.id,
        "role": "editor",
        "jti": "x",
        "iat": now.timestamp(),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "aud": AUDIENCE,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda t: _sign(_claims(t), key="another key of thirty-two bytes!!"), id="key"
        ),
        pytest.param(lambda t: _sign(_claims(t, aud="someone-else")), id="audience"),
        pytest.param(lambda t: _sign(_claims(t, jti=None)), id="no-jti"),
        pytest.param(lambda t: _sign(_claims(t, exp=1)), id="expired"),
        pytest.param(lambda t: _sign(_claims(t, role="emperor")), id="role"),
        pytest.param(lambda t: _sign(_claims(t, sub="")), id="empty-sub"),
        pytest.param(lambda t: jwt.encode(_claims(t), None, algorithm="none"), id="alg-none"),
        pytest.param(lambda t: "not.a.token", id="garbage"),
    ],
)
def test_tokens_we_did_not_issue_are_refused(tenant, forge):
    with pytest.raises(Unauthenticated):
        decode_token(forge(tenant))


def test_a_well_signed_token_without_its_row_is_nobody(database, tenant):
    """A token signed with the right key but naming no row (or a revoked one) is refused
    by the scope: a valid signature is not enough."""
    identity, _ = decode_token(_sign(_claims(tenant, jti="no-such-credential")))
    with pytest.raises(Unauthenticated):
        actor_of(database, identity)
