"""Users: password rules and hashes, managing users and what that does to their sessions.

Sign-in and its throttling are in test_signin.py; sessions and tokens in
test_credentials.py.
"""

from __future__ import annotations

import uuid

import bcrypt
import pytest
from sqlalchemy import text

from data.credentials import resume_session
from data.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from data.identity import Identity, Role
from data.passwords import check_password_rules, hash_password, verify_password
from data.signin import authenticate
from data.users import UserDirectory, create_user, find_user

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


def client() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"


def test_a_reset_password_replaces_the_old_one(database, tenant, scope_of):
    old = tenant.passwords[tenant.viewer.username]
    with scope_of(tenant, tenant.admin, write=True) as scope:
        new = scope.users.reset_password(tenant.viewer.id)
    assert new != old
    with pytest.raises(Unauthenticated):
        authenticate(database, tenant.viewer.username, old, client())
    user = authenticate(database, tenant.viewer.username, new, client())
    assert user.id == tenant.viewer.id


# -- managing users ------------------------------------------------------------------


@pytest.fixture
def directory(scope_of):  # type: ignore[no-untyped-def]
    """``with directory(tenant, user) as users:`` a UserDirectory acting as ``user``."""
    from contextlib import contextmanager

    @contextmanager
    def opened(tenant, user):  # type: ignore[no-untyped-def]
        with scope_of(tenant, user, write=True) as scope:
            yield scope.users

    return opened


def test_only_the_own_tenants_users_are_visible(directory, tenant, other_tenant):
    with directory(tenant, tenant.viewer) as users:
        listed = users.list()
        assert {u.id for u in listed} == {tenant.admin.id, tenant.editor.id, tenant.viewer.id}
        assert [u.username for u in listed] == sorted(u.username for u in listed)
        with pytest.raises(NotFound):
            users.get(other_tenant.admin.id)


@pytest.mark.parametrize("change", ["change_role", "reset_password", "remove"])
def test_changing_another_tenants_user_is_not_found_and_changes_nothing(
    database, directory, tenant, other_tenant, change
):
    target = other_tenant.editor
    password = other_tenant.passwords[target.username]
    with directory(tenant, tenant.admin) as users:
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


@pytest.mark.parametrize("who", ["editor", "viewer"])
@pytest.mark.parametrize("change", ["add", "change_role", "reset_password", "remove"])
def test_only_admins_manage_users(directory, tenant, who, change):
    user = getattr(tenant, who)
    with directory(tenant, user) as users, pytest.raises(Forbidden) as caught:
        call(users, change, tenant.viewer.id)
    assert str(caught.value) == f"Your role ({who}) does not allow you to manage users."
    with directory(tenant, tenant.viewer) as users:
        assert len(users.list()) == 3
        assert users.get(tenant.viewer.id) == tenant.viewer


def test_an_admin_adds_a_user_with_a_generated_password(database, directory, tenant):
    with directory(tenant, tenant.admin) as users:
        added, password = users.add("Fresh.User@Example", "Editor", display_name=" Fresh ")
    assert (added.username, added.role, added.display_name) == (
        "fresh.user@example",
        Role.EDITOR,
        "Fresh",
    )
    assert authenticate(database, added.username, password, client()).id == added.id


def test_the_last_admin_cannot_be_demoted(database, directory, tenant):
    with directory(tenant, tenant.admin) as users, pytest.raises(Conflict) as caught:
        users.change_role(tenant.admin.id, Role.EDITOR)
    assert str(caught.value) == "The last admin of a tenant cannot be demoted."
    assert find_user(database, tenant.admin.username).role == Role.ADMIN


def test_the_last_admin_cannot_be_removed(database, directory, tenant, other_tenant):
    # Another tenant's admin (say, a confused operator) cannot see it at all; an admin
    # promoted here and then demoted leaves the tenant with its one admin again.
    with directory(tenant, tenant.admin) as users:
        users.change_role(tenant.editor.id, Role.ADMIN)
    second_admin = find_user(database, tenant.editor.username)
    with directory(tenant, second_admin) as users:
        users.change_role(tenant.admin.id, Role.VIEWER)
    with directory(tenant, second_admin) as users, pytest.raises(Conflict) as caught:
        users.change_role(second_admin.id, Role.EDITOR)
    assert "last admin" in str(caught.value)
    with directory(tenant, second_admin) as users, pytest.raises(Conflict) as caught:
        users.remove(second_admin.id)
    assert str(caught.value) == "You cannot remove your own account."


def test_a_last_admin_removed_by_an_operator_is_refused(database, tenant):
    operator = Identity.of_operator(tenant.id, "cli:operator")
    with database.scope(operator, write=True) as scope, pytest.raises(Conflict) as caught:
        scope.users.remove(tenant.admin.id)
    assert str(caught.value) == "The last admin of a tenant cannot be removed."


def test_you_cannot_remove_yourself(directory, tenant):
    with directory(tenant, tenant.admin) as users:
        users.change_role(tenant.editor.id, Role.ADMIN)
    with directory(tenant, tenant.admin) as users, pytest.raises(Conflict) as caught:
        users.remove(tenant.admin.id)
    assert str(caught.value) == "You cannot remove your own account."


def test_an_admin_removes_another_user_and_can_demote_one_of_two_admins(
    database, directory, tenant
):
    with directory(tenant, tenant.admin) as users:
        removed = users.remove(tenant.viewer.id)
        users.change_role(tenant.editor.id, "admin")
        demoted = users.change_role(tenant.editor.id, "viewer")
    assert removed.id == tenant.viewer.id
    assert demoted.role == Role.VIEWER
    assert find_user(database, tenant.viewer.username) is None


def test_change_own_password(database, directory, tenant):
    user = tenant.viewer
    current = tenant.passwords[user.username]
    with directory(tenant, user) as users:
        with pytest.raises(Invalid) as wrong:
            users.change_own_password("not the password", "a new password!")
        with pytest.raises(Invalid) as same:
            users.change_own_password(current, current)
        with pytest.raises(Invalid) as weak:
            users.change_own_password(current, "short")
    assert wrong.value.errors == {"current_password": "The current password is not right."}
    assert same.value.errors == {"password": "The new password must differ from the current one."}
    assert weak.value.errors == {"password": TOO_SHORT}
    with directory(tenant, user) as users:
        users.change_own_password(current, "a new password!")
    assert authenticate(database, user.username, "a new password!", client()).id == user.id
    with pytest.raises(Unauthenticated):
        authenticate(database, user.username, current, client())


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


@pytest.mark.parametrize("secret", ["\ud800", "a\x00b", "", "x" * 500, None])
def test_undecodable_or_absurd_session_secrets_name_no_session(database, secret):
    assert resume_session(database, secret) is None


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
