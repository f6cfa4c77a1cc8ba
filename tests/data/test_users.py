"""Users: password rules and hashes, sign-in with throttling, sessions, managing users.

Time is controlled through the ``clock`` fixture (``data.users.utcnow``); nothing sleeps.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import bcrypt
import pytest
from sqlalchemy import text

import data.users
from data.errors import Conflict, Forbidden, Invalid, NotFound, Throttled
from data.models import Role
from data.users import (
    FIRST_LOCK,
    MAX_FAILURES,
    MAX_LOCK,
    Unauthenticated,
    UserDirectory,
    authenticate,
    check_password_rules,
    create_user,
    find_user,
    hash_password,
    user_for_session,
    verify_password,
)

GOOD = "correct horse battery"


# -- password rules ------------------------------------------------------------------

TOO_SHORT = "Password must be at least 10 characters long."


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        pytest.param("a" * 9, TOO_SHORT, id="9-chars"),
        pytest.param("é" * 9, TOO_SHORT, id="9-chars-18-bytes"),
        pytest.param("", TOO_SHORT, id="empty"),
        pytest.param("a" * 10, None, id="10-chars"),
        pytest.param("a" * 72, None, id="72-bytes"),
        pytest.param("é" * 36, None, id="72-bytes-2-byte-chars"),
        pytest.param("€" * 24, None, id="72-bytes-3-byte-chars"),
        pytest.param("🔑" * 18, None, id="72-bytes-4-byte-chars"),
        pytest.param(
            "a" * 73,
            "Password must be at most 72 bytes (this one is 73 bytes in UTF-8); use a shorter one.",
            id="73-bytes",
        ),
        pytest.param(
            "é" * 36 + "a",
            "Password must be at most 72 bytes (this one is 73 bytes in UTF-8); use a shorter one.",
            id="73-bytes-37-chars",
        ),
        pytest.param(
            "🔑" * 19,
            "Password must be at most 72 bytes (this one is 76 bytes in UTF-8); use a shorter one.",
            id="19-chars-76-bytes",
        ),
        pytest.param(12345678901, "Password must be text.", id="not-text"),
    ],
)
def test_password_rules(password, problem):
    if problem is None:
        check_password_rules(password)
        return
    with pytest.raises(Invalid) as caught:
        check_password_rules(password)
    assert caught.value.errors == {"password": problem}


def test_hashes_are_bcrypt_and_verify():
    hashed = hash_password(GOOD)
    assert hashed.startswith("$2b$04$")  # bcrypt, test rounds
    assert GOOD not in hashed
    assert verify_password(GOOD, hashed)
    assert not verify_password(GOOD + "!", hashed)
    assert not verify_password("", hashed)
    assert not verify_password("a" * 73, hash_password("a" * 72))  # never truncated
    assert hash_password(GOOD) != hashed  # salted


def test_stored_password_is_a_bcrypt_hash_never_the_password(database, tenant):
    password = tenant.passwords[tenant.editor.username]
    with database.owner_engine().connect() as conn:
        stored = conn.execute(
            text("SELECT password_hash FROM users WHERE id = :id"), {"id": tenant.editor.id}
        ).scalar_one()
    assert stored != password
    assert password not in stored
    assert bcrypt.checkpw(password.encode(), stored.encode())


def test_create_user_refuses_a_weak_password_and_writes_nothing(database, tenant):
    name = f"weak-{uuid.uuid4().hex[:8]}"
    with database.transaction(tenant.id, write=True) as session, pytest.raises(Invalid) as caught:
        create_user(session, tenant.id, name, Role.EDITOR, "short")
    assert caught.value.errors == {"password": TOO_SHORT}
    assert find_user(database, name) is None


@pytest.mark.parametrize(
    ("username", "field"),
    [
        ("ab", "username"),
        ("has space", "username"),
        ("-dash-first", "username"),
        ("x" * 151, "username"),
    ],
)
def test_create_user_refuses_bad_usernames(database, tenant, username, field):
    with database.transaction(tenant.id, write=True) as session, pytest.raises(Invalid) as caught:
        create_user(session, tenant.id, username, Role.EDITOR, GOOD)
    assert set(caught.value.errors) == {field}


def test_create_user_refuses_a_bad_role(database, tenant):
    with database.transaction(tenant.id, write=True) as session, pytest.raises(Invalid) as caught:
        create_user(session, tenant.id, "new-user-x", "boss", GOOD)
    assert caught.value.errors == {"role": "Role must be one of admin, editor, viewer, not 'boss'."}


def test_usernames_are_unique_across_tenants_case_insensitively(database, tenant, other_tenant):
    taken = tenant.editor.username.upper()
    with (
        database.transaction(other_tenant.id, write=True) as session,
        pytest.raises(Conflict) as caught,
    ):
        create_user(session, other_tenant.id, taken, Role.EDITOR, GOOD)
    assert caught.value.field == "username"
    assert "already taken" in str(caught.value)


def test_a_generated_password_signs_in(database, tenant):
    password = tenant.passwords[tenant.admin.username]
    assert len(password) >= 10
    user = authenticate(database, tenant.admin.username, password, "10.0.0.1")
    assert (user.id, user.tenant_id, user.role) == (tenant.admin.id, tenant.id, Role.ADMIN)


# -- sign-in -------------------------------------------------------------------------


def client() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"


def test_authenticate_with_the_right_password_returns_the_user(database, tenant):
    password = tenant.passwords[tenant.editor.username]
    user = authenticate(database, f"  {tenant.editor.username.upper()} ", password, client())
    assert user == tenant.editor


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("{editor}", "wrong password!"),
        ("{editor}", ""),
        ("{editor}", "é" * 40),  # over 72 bytes
        ("no-such-user-anywhere", "whatever12345"),
        ("", "whatever12345"),
    ],
)
def test_authenticate_failures_all_say_the_same(database, tenant, username, password):
    username = username.format(editor=tenant.editor.username)
    with pytest.raises(Unauthenticated) as caught:
        authenticate(database, username, password, client())
    assert str(caught.value) == "Wrong username or password."


def test_an_unknown_username_costs_a_bcrypt_check(database, monkeypatch):
    calls = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(data.users.bcrypt, "checkpw", counting)
    with pytest.raises(Unauthenticated):
        authenticate(database, f"ghost-{uuid.uuid4().hex}", "some password", client())
    assert len(calls) == 1


def fail(database, username: str, where: str) -> BaseException:  # type: ignore[no-untyped-def]
    with pytest.raises((Unauthenticated, Throttled)) as caught:
        authenticate(database, username, "definitely wrong", where)
    return caught.value


def test_five_failures_for_a_username_lock_it_even_for_the_right_password(database, tenant, clock):
    username = tenant.editor.username
    password = tenant.passwords[username]
    results = [fail(database, username, client()) for _ in range(MAX_FAILURES)]
    assert all(isinstance(r, Unauthenticated) for r in results[:-1])
    assert isinstance(results[-1], Throttled)
    assert results[-1].retry_after == FIRST_LOCK.total_seconds()
    assert str(results[-1]) == "Too many failed sign-in attempts; try again in 30 seconds."

    clock.advance(seconds=10)
    with pytest.raises(Throttled) as caught:
        authenticate(database, username, password, client())  # the right one, while locked
    assert caught.value.retry_after == 20

    clock.advance(seconds=21)
    assert authenticate(database, username, password, client()) == tenant.editor
    # Success clears the username's failures: four more mistakes are allowed again.
    assert all(isinstance(fail(database, username, client()), Unauthenticated) for _ in range(4))


def test_the_lockout_window_grows_with_every_failure_after_it(database, tenant, clock):
    username = tenant.viewer.username
    for _ in range(MAX_FAILURES - 1):
        fail(database, username, client())
    windows = []
    for _ in range(9):
        refusal = fail(database, username, client())
        assert isinstance(refusal, Throttled)
        windows.append(refusal.retry_after)
        clock.advance(seconds=refusal.retry_after + 1)
    assert windows == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert MAX_LOCK.total_seconds() == 3600


def test_attempts_while_locked_do_not_count_or_extend_the_lock(database, tenant, clock):
    username = tenant.viewer.username
    for _ in range(MAX_FAILURES):
        fail(database, username, client())
    for _ in range(10):
        clock.advance(seconds=2)
        refusal = fail(database, username, client())
        assert isinstance(refusal, Throttled)
    assert refusal.retry_after == 10
    clock.advance(seconds=11)
    assert isinstance(fail(database, username, client()), Throttled)  # next window: 60 s
    clock.advance(seconds=61)
    password = tenant.passwords[username]
    assert authenticate(database, username, password, client()) == tenant.viewer


def test_failures_are_forgotten_after_a_quiet_while(database, tenant, clock):
    username = tenant.editor.username
    for _ in range(MAX_FAILURES - 1):
        fail(database, username, client())
    clock.advance(minutes=16)
    assert isinstance(fail(database, username, client()), Unauthenticated)


def test_a_long_lockout_is_not_forgotten_the_moment_it_ends(database, tenant, clock):
    """Failures are forgotten only after a quiet while *after* the lock ended, else a
    lock longer than that while would reset the count and the window would never grow
    to its maximum."""
    username = tenant.editor.username
    for _ in range(MAX_FAILURES - 1):
        fail(database, username, client())
    refusal = None
    for _ in range(6):  # 30 s ... 960 s (16 minutes)
        refusal = fail(database, username, client())
        clock.advance(seconds=refusal.retry_after + 1)
    assert isinstance(refusal, Throttled)
    assert refusal.retry_after == 960
    follow_up = fail(database, username, client())
    assert isinstance(follow_up, Throttled)
    assert follow_up.retry_after == 1920


def test_five_failures_from_one_client_lock_that_client_for_every_username(
    database, tenant, other_tenant, clock
):
    where = client()
    results = [fail(database, f"guess-{n}-{uuid.uuid4().hex[:6]}", where) for n in range(5)]
    assert isinstance(results[-1], Throttled)
    # A real user with the right password from the locked client is refused too ...
    password = tenant.passwords[tenant.admin.username]
    with pytest.raises(Throttled):
        authenticate(database, tenant.admin.username, password, where)
    # ... while the same user from elsewhere signs in.
    assert authenticate(database, tenant.admin.username, password, client()) == tenant.admin
    clock.advance(seconds=31)
    assert authenticate(database, tenant.admin.username, password, where) == tenant.admin


def test_a_locked_username_is_locked_from_every_client(database, tenant, clock):
    username = tenant.editor.username
    for _ in range(MAX_FAILURES):
        fail(database, username, client())
    with pytest.raises(Throttled):
        authenticate(database, username, tenant.passwords[username], client())


def test_unknown_usernames_are_throttled_like_real_ones(database, clock):
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    results = [fail(database, ghost, client()) for _ in range(MAX_FAILURES)]
    assert [type(r).__name__ for r in results] == ["Unauthenticated"] * 4 + ["Throttled"]


def test_throttling_is_kept_in_the_database(database, tenant, clock):
    """Another process sees the lock: it lives in auth_throttle, not in memory."""
    username = tenant.editor.username
    for _ in range(MAX_FAILURES):
        fail(database, username, client())
    with database.owner_engine().connect() as conn:
        failures, locked_until = conn.execute(
            text("SELECT failures, locked_until FROM auth_throttle WHERE key = :k"),
            {"k": f"user:{username}"},
        ).one()
    assert failures == MAX_FAILURES
    assert locked_until is not None


# -- sessions ------------------------------------------------------------------------


def test_user_for_session_returns_the_user(database, tenant, clock):
    issued = clock.now.timestamp() + 1
    assert user_for_session(database, tenant.editor.id, issued) == tenant.editor


@pytest.mark.parametrize("user_id", ["", None, 42, "no-such-id"])
def test_user_for_session_refuses_nonsense_ids(database, user_id):
    with pytest.raises(Unauthenticated):
        user_for_session(database, user_id, 0.0)


def test_user_for_session_refuses_a_removed_user(database, tenant):
    issued = tenant.editor.created_at.timestamp() + 1
    with database.transaction(tenant.id, write=True) as session:
        UserDirectory(session, tenant.id, tenant.admin.actor).remove(tenant.editor.id)
    with pytest.raises(Unauthenticated) as caught:
        user_for_session(database, tenant.editor.id, issued)
    assert str(caught.value) == "Your account no longer exists; please contact your admin."


def test_user_for_session_refuses_a_token_from_before_a_password_change(database, tenant):
    issued_before = tenant.viewer.created_at.timestamp() + 0.001
    assert user_for_session(database, tenant.viewer.id, issued_before) == tenant.viewer
    with database.transaction(tenant.id, write=True) as session:
        UserDirectory(session, tenant.id, tenant.admin.actor).reset_password(tenant.viewer.id)
    with pytest.raises(Unauthenticated) as caught:
        user_for_session(database, tenant.viewer.id, issued_before)
    assert str(caught.value) == "Your password was changed; please sign in again."
    changed = find_user(database, tenant.viewer.username)
    assert changed is not None
    after = changed.credentials_changed_at.timestamp() + 0.001
    assert user_for_session(database, tenant.viewer.id, after).id == tenant.viewer.id


def test_a_reset_password_replaces_the_old_one(database, tenant):
    old = tenant.passwords[tenant.viewer.username]
    with database.transaction(tenant.id, write=True) as session:
        new = UserDirectory(session, tenant.id, tenant.admin.actor).reset_password(tenant.viewer.id)
    assert new != old
    with pytest.raises(Unauthenticated):
        authenticate(database, tenant.viewer.username, old, client())
    assert authenticate(database, tenant.viewer.username, new, client()).id == tenant.viewer.id


# -- managing users ------------------------------------------------------------------


def directory(database, tenant, user):  # type: ignore[no-untyped-def]
    from contextlib import contextmanager

    @contextmanager
    def opened():  # type: ignore[no-untyped-def]
        actor = user.actor if user is not None else None
        with database.transaction(tenant.id, write=True) as session:
            yield UserDirectory(session, tenant.id, actor)

    return opened()


def test_only_the_own_tenants_users_are_visible(database, tenant, other_tenant):
    with directory(database, tenant, tenant.viewer) as users:
        listed = users.list()
        assert {u.id for u in listed} == {tenant.admin.id, tenant.editor.id, tenant.viewer.id}
        assert [u.username for u in listed] == sorted(u.username for u in listed)
        with pytest.raises(NotFound):
            users.get(other_tenant.admin.id)


@pytest.mark.parametrize("change", ["change_role", "reset_password", "remove"])
def test_changing_another_tenants_user_is_not_found_and_changes_nothing(
    database, tenant, other_tenant, change
):
    target = other_tenant.editor
    password = other_tenant.passwords[target.username]
    with directory(database, tenant, tenant.admin) as users:
        with pytest.raises(NotFound) as other:
            call(users, change, target.id)
        with pytest.raises(NotFound) as missing:
            call(users, change, str(uuid.uuid4()))
    assert str(other.value) == str(missing.value) == "The user was not found."
    assert find_user(database, target.username) == target
    assert authenticate(database, target.username, password, client()) == target


def call(users: UserDirectory, change: str, user_id: str):  # type: ignore[no-untyped-def]
    if change == "add":
        return users.add(f"new-{uuid.uuid4().hex[:8]}", Role.VIEWER)
    if change == "change_role":
        return users.change_role(user_id, Role.VIEWER)
    if change == "reset_password":
        return users.reset_password(user_id, "a brand new password")
    return users.remove(user_id)


@pytest.mark.parametrize("who", ["editor", "viewer", "nobody"])
@pytest.mark.parametrize("change", ["add", "change_role", "reset_password", "remove"])
def test_only_admins_manage_users(database, tenant, who, change):
    user = getattr(tenant, who) if who != "nobody" else None
    with directory(database, tenant, user) as users, pytest.raises(Forbidden) as caught:
        call(users, change, tenant.viewer.id)
    if who == "nobody":
        assert str(caught.value) == "Only a signed-in admin can manage users."
    else:
        assert str(caught.value) == f"Your role ({who}) does not allow you to manage users."
    with directory(database, tenant, tenant.viewer) as users:
        assert len(users.list()) == 3
        assert users.get(tenant.viewer.id) == tenant.viewer


def test_an_admin_adds_a_user_with_a_generated_password(database, tenant):
    with directory(database, tenant, tenant.admin) as users:
        added, password = users.add("Fresh.User@Example", "Editor", display_name=" Fresh ")
    assert (added.username, added.role, added.display_name) == (
        "fresh.user@example",
        Role.EDITOR,
        "Fresh",
    )
    assert authenticate(database, added.username, password, client()).id == added.id


def test_the_last_admin_cannot_be_demoted(database, tenant):
    with directory(database, tenant, tenant.admin) as users, pytest.raises(Conflict) as caught:
        users.change_role(tenant.admin.id, Role.EDITOR)
    assert str(caught.value) == "The last admin of a tenant cannot be demoted."
    assert find_user(database, tenant.admin.username).role == Role.ADMIN


def test_the_last_admin_cannot_be_removed(database, tenant, other_tenant):
    # Another tenant's admin (say, a confused operator) cannot see it at all; an admin
    # promoted here and then demoted leaves the tenant with its one admin again.
    with directory(database, tenant, tenant.admin) as users:
        users.change_role(tenant.editor.id, Role.ADMIN)
    second_admin = find_user(database, tenant.editor.username)
    with directory(database, tenant, second_admin) as users:
        users.change_role(tenant.admin.id, Role.VIEWER)
    with directory(database, tenant, second_admin) as users, pytest.raises(Conflict) as caught:
        users.change_role(second_admin.id, Role.EDITOR)
    assert "last admin" in str(caught.value)
    with directory(database, tenant, second_admin) as users, pytest.raises(Conflict) as caught:
        users.remove(second_admin.id)
    assert str(caught.value) == "You cannot remove your own account."


def test_a_last_admin_removed_by_an_operator_is_refused(database, tenant):
    from data.tenancy import Actor

    operator = Actor("cli:operator", Role.ADMIN)
    with database.transaction(tenant.id, write=True) as session:
        users = UserDirectory(session, tenant.id, operator)
        with pytest.raises(Conflict) as caught:
            users.remove(tenant.admin.id)
    assert str(caught.value) == "The last admin of a tenant cannot be removed."


def test_you_cannot_remove_yourself(database, tenant):
    with directory(database, tenant, tenant.admin) as users:
        users.change_role(tenant.editor.id, Role.ADMIN)
    with directory(database, tenant, tenant.admin) as users, pytest.raises(Conflict) as caught:
        users.remove(tenant.admin.id)
    assert str(caught.value) == "You cannot remove your own account."


def test_an_admin_removes_another_user_and_can_demote_one_of_two_admins(database, tenant):
    with directory(database, tenant, tenant.admin) as users:
        removed = users.remove(tenant.viewer.id)
        users.change_role(tenant.editor.id, "admin")
        demoted = users.change_role(tenant.editor.id, "viewer")
    assert removed.id == tenant.viewer.id
    assert demoted.role == Role.VIEWER
    assert find_user(database, tenant.viewer.username) is None


def test_change_own_password(database, tenant):
    user = tenant.viewer
    current = tenant.passwords[user.username]
    with directory(database, tenant, user) as users:
        with pytest.raises(Invalid) as wrong:
            users.change_own_password(user.id, "not the password", "a new password!")
        with pytest.raises(Invalid) as same:
            users.change_own_password(user.id, current, current)
        with pytest.raises(Invalid) as weak:
            users.change_own_password(user.id, current, "short")
    assert wrong.value.errors == {"current_password": "The current password is not right."}
    assert same.value.errors == {"password": "The new password must differ from the current one."}
    assert weak.value.errors == {"password": TOO_SHORT}
    with directory(database, tenant, user) as users:
        users.change_own_password(user.id, current, "a new password!")
    assert authenticate(database, user.username, "a new password!", client()).id == user.id
    with pytest.raises(Unauthenticated):
        authenticate(database, user.username, current, client())


def test_first_lock_and_max_lock_are_sane():
    assert timedelta(seconds=30) == FIRST_LOCK
    assert MAX_LOCK >= FIRST_LOCK


# -- text that no database can store ---------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("\ud800ghost", "whatever12345", id="surrogate-username"),
        pytest.param("{editor}", "pass\udcffword123", id="surrogate-password"),
        pytest.param("{editor}\x00", "whatever12345", id="nul-username"),
    ],
)
def test_undecodable_sign_in_text_is_a_wrong_password_not_a_crash(
    database, tenant, username, password
):
    """A JSON body may carry ``"\\ud800"``: refused like any wrong password, and counted."""
    username = username.format(editor=tenant.editor.username)
    with pytest.raises(Unauthenticated):
        authenticate(database, username, password, client())


def test_undecodable_session_ids_are_refused(database):
    with pytest.raises(Unauthenticated):
        user_for_session(database, "\ud800", 0.0)


def test_a_password_with_a_lone_surrogate_is_refused_with_a_sentence():
    with pytest.raises(Invalid) as caught:
        check_password_rules("long enough \udcff password")
    assert caught.value.errors == {
        "password": "Password contains invalid Unicode (a lone surrogate)."
    }


@pytest.mark.parametrize(
    ("extra", "field", "sentence"),
    [
        (
            {"display_name": "Ann\x00"},
            "display_name",
            "Display name contains a NUL character, which cannot be stored.",
        ),
        (
            {"display_name": "Ann \udcff"},
            "display_name",
            "Display name contains invalid Unicode (a lone surrogate).",
        ),
        (
            {"display_name": "d" * 201},
            "display_name",
            "Display name must be at most 200 characters.",
        ),
        (
            {"email": "not an email"},
            "email",
            "Email is not a valid address: An email address must have an @-sign.",
        ),
        (
            {"email": "x\udcff@example.com"},
            "email",
            "Email contains invalid Unicode (a lone surrogate).",
        ),
    ],
)
def test_create_user_refuses_unstorable_or_invalid_details(
    database, tenant, extra, field, sentence
):
    name = f"details-{uuid.uuid4().hex[:8]}"
    with database.transaction(tenant.id, write=True) as session, pytest.raises(Invalid) as caught:
        create_user(session, tenant.id, name, Role.VIEWER, GOOD, **extra)
    assert caught.value.errors == {field: sentence}
    assert find_user(database, name) is None


def test_create_user_keeps_a_valid_email_as_given(database, tenant):
    name = f"mail-{uuid.uuid4().hex[:8]}"
    with database.transaction(tenant.id, write=True) as session:
        user, _ = create_user(
            session, tenant.id, name, Role.VIEWER, GOOD, email="  Ann.Lee@Example.COM "
        )
    assert user.email == "Ann.Lee@Example.COM"
    assert find_user(database, name).email == "Ann.Lee@Example.COM"
