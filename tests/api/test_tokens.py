"""Tokens: signing in, every way a token can be wrong (401 + WWW-Authenticate), and
tokens as rows of ``credentials``: listed, revoked, ended by a password or role change
or removal, and refused once their row has expired whatever the JWT says."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import update

from config import get_settings
from data.credentials import ALGORITHM, AUDIENCE, decode_token, issue_token, open_session
from data.identity import Role
from data.models import Credential
from data.signin import PAIR_FAILURES, PAIR_FIRST_LOCK
from tests.api.conftest import customer_body

SOME_ID = "00000000-0000-4000-8000-000000000000"
SESSION_ENDED = "Your session has ended; please sign in again."
GOOD_NEW = "a brand new password"

# (method, path) of every endpoint that needs a token.
ENDPOINTS = [
    pytest.param("GET", "/api/customers", id="list"),
    pytest.param("POST", "/api/customers", id="create"),
    pytest.param("GET", "/api/customers/{id}", id="get"),
    pytest.param("PUT", "/api/customers/{id}", id="put"),
    pytest.param("DELETE", "/api/customers/{id}", id="delete"),
    pytest.param("POST", "/api/customers/import", id="import"),
    pytest.param("GET", "/api/customers/export", id="export"),
    pytest.param("GET", "/api/auth/tokens", id="list-tokens"),
    pytest.param("DELETE", "/api/auth/tokens/{token}", id="revoke-token"),
]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jti_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def claims_of(user, jti: str, **changes):  # type: ignore[no-untyped-def]
    """The claims of a real token of ``user`` (its row is ``jti``), with ``changes``."""
    now = datetime.now(UTC)
    claims = {
        "sub": user.id,
        "tenant": user.tenant_id,
        "role": user.role.value,
        "jti": jti,
        "iat": now.timestamp(),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "aud": AUDIENCE,
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def signed(claims, key=None, algorithm=ALGORITHM):  # type: ignore[no-untyped-def]
    return jwt.encode(claims, key or get_settings().jwt_secret, algorithm=algorithm)


def edited(token: str, **changes) -> str:  # type: ignore[no-untyped-def]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return ".".join([header, b64(json.dumps(claims).encode()), signature])


def unsigned(claims) -> str:  # type: ignore[no-untyped-def]
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def revoked_token(database, user) -> str:  # type: ignore[no-untyped-def]
    token, _ = issue_token(database, user)
    identity, _ = decode_token(token)
    with database.scope(identity, write=True) as scope:
        scope.credentials.revoke(identity.credential_id or "")
    return token


def authorization(attack: str, database, tenant, other_tenant) -> str | None:  # type: ignore[no-untyped-def]
    """The Authorization header of one attack; each differs from a good token in one way."""
    user = tenant.editor
    good, _ = issue_token(database, user)
    row = jti_of(good)
    claims = claims_of(user, row)
    forged = {
        "missing": lambda: None,
        "empty-bearer": lambda: "Bearer ",
        "malformed": lambda: "Bearer not-a-jwt",
        "garbage-segments": lambda: "Bearer a.b.c",
        "alg-none": lambda: "Bearer " + unsigned(claims),
        "alg-none-uppercase": lambda: (
            "Bearer " + b64(b'{"alg":"NONE"}') + "." + b64(json.dumps(claims).encode()) + "."
        ),
        "other-key": lambda: "Bearer " + signed(claims, key=secrets.token_urlsafe(48)),
        "cookie-key": lambda: "Bearer " + signed(claims, key=get_settings().cookie_key),
        "other-algorithm": lambda: "Bearer " + signed(claims, algorithm="HS512"),
        "expired": lambda: (
            "Bearer " + signed(claims_of(user, row, exp=int(datetime.now(UTC).timestamp()) - 60))
        ),
        "no-exp": lambda: "Bearer " + signed({k: v for k, v in claims.items() if k != "exp"}),
        "no-iat": lambda: "Bearer " + signed({k: v for k, v in claims.items() if k != "iat"}),
        "no-jti": lambda: "Bearer " + signed({k: v for k, v in claims.items() if k != "jti"}),
        "no-audience": lambda: "Bearer " + signed({k: v for k, v in claims.items() if k != "aud"}),
        "issued-in-future": lambda: (
            "Bearer " + signed(claims_of(user, row, iat=datetime.now(UTC).timestamp() + 3600))
        ),
        "edited-tenant": lambda: "Bearer " + edited(good, tenant=other_tenant.id),
        "edited-role": lambda: (
            "Bearer " + edited(issue_token(database, tenant.viewer)[0], role="admin")
        ),
        "edited-expiry": lambda: (
            "Bearer " + edited(good, exp=int(datetime.now(UTC).timestamp()) + 10**6)
        ),
        "tenant-of-another-user": lambda: (
            "Bearer " + signed(claims_of(user, row, tenant=other_tenant.id))
        ),
        "unknown-user": lambda: "Bearer " + signed(claims_of(user, row, sub=SOME_ID)),
        "unknown-role": lambda: "Bearer " + signed(claims_of(user, row, role="root")),
        "role-not-text": lambda: "Bearer " + signed(claims_of(user, row, role=["admin"])),
        # Well signed, but the row named is not this user's standing token.
        "unknown-row": lambda: "Bearer " + signed(claims_of(user, SOME_ID)),
        "row-of-another-user": lambda: (
            "Bearer " + signed(claims_of(user, jti_of(issue_token(database, tenant.admin)[0])))
        ),
        "row-of-another-tenant": lambda: (
            "Bearer "
            + signed(claims_of(user, jti_of(issue_token(database, other_tenant.editor)[0])))
        ),
        "revoked": lambda: "Bearer " + revoked_token(database, user),
        "session-cookie-secret": lambda: "Bearer " + open_session(database, user)[0],
        "basic-scheme": lambda: "Basic " + base64.b64encode(b"editor:password").decode(),
        "token-scheme": lambda: "Token " + good,
        "no-scheme": lambda: good,
    }
    return forged[attack]()


ATTACKS = [
    "missing",
    "empty-bearer",
    "malformed",
    "garbage-segments",
    "alg-none",
    "alg-none-uppercase",
    "other-key",
    "cookie-key",
    "other-algorithm",
    "expired",
    "no-exp",
    "no-iat",
    "no-jti",
    "no-audience",
    "issued-in-future",
    "edited-tenant",
    "edited-role",
    "edited-expiry",
    "tenant-of-another-user",
    "unknown-user",
    "unknown-role",
    "role-not-text",
    "unknown-row",
    "row-of-another-user",
    "row-of-another-tenant",
    "revoked",
    "session-cookie-secret",
    "basic-scheme",
    "token-scheme",
    "no-scheme",
]


@pytest.fixture
def witness(client, database, tenant):  # type: ignore[no-untyped-def]
    """A standing viewer token: the target of revocation attempts, and the eyes afterwards."""
    token, _ = issue_token(database, tenant.viewer)
    return {"id": jti_of(token), "headers": {"Authorization": f"Bearer {token}"}}


def attempt(client, method: str, path: str, target, witness, header: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header is not None else {}
    url = path.format(id=target["id"], token=witness["id"])
    if url.endswith("/import"):
        csv_file = {"file": ("c.csv", b"name,email\nX,x@example.com\n", "text/csv")}
        return client.post(url, files=csv_file, headers=headers)
    body = customer_body() if method in ("POST", "PUT") else None
    return client.request(method, url, json=body, headers=headers)


def assert_refused_and_nothing_changed(client, response, target, witness):  # type: ignore[no-untyped-def]
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem = response.json()
    assert set(problem) == {"detail", "requestId"}
    assert target["email"] not in response.text
    assert witness["id"] not in response.text
    # The witness token still stands (not revoked) and sees the tenant as it was.
    after = client.get("/api/customers", headers=witness["headers"])
    assert after.status_code == 200
    assert after.headers["X-Total-Count"] == "1"
    assert after.json() == [target]


@pytest.mark.parametrize("attack", ATTACKS)
def test_bad_tokens_get_401_with_www_authenticate_and_no_data(
    client, database, tenant, other_tenant, create_customer, witness, attack
):
    target = create_customer(tenant)
    header = authorization(attack, database, tenant, other_tenant)
    response = attempt(client, "PUT", "/api/customers/{id}", target, witness, header)
    assert_refused_and_nothing_changed(client, response, target, witness)


@pytest.mark.parametrize("attack", ["missing", "other-key", "expired", "alg-none", "revoked"])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_bad_tokens(
    client, database, tenant, other_tenant, create_customer, witness, attack, method, path
):
    target = create_customer(tenant)
    header = authorization(attack, database, tenant, other_tenant)
    response = attempt(client, method, path, target, witness, header)
    assert_refused_and_nothing_changed(client, response, target, witness)


def test_a_token_states_user_tenant_role_its_row_and_expiry(database, tenant, scope_of):
    token, expires_in = issue_token(database, tenant.editor)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == tenant.editor.id
    assert claims["tenant"] == tenant.id
    assert claims["role"] == "editor"
    assert claims["exp"] > claims["iat"]
    assert claims["aud"] == AUDIENCE
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert expires_in == pytest.approx(get_settings().token_lifetime_minutes * 60, abs=1)
    identity, hint = decode_token(token)
    assert (identity.tenant_id, identity.user_id, identity.credential_id, hint) == (
        tenant.id,
        tenant.editor.id,
        claims["jti"],
        Role.EDITOR,
    )
    with scope_of(tenant, tenant.editor) as scope:
        listed = {c.id: c for c in scope.credentials.list()}
    assert listed[claims["jti"]].kind == "token"
    assert listed[claims["jti"]].expires_at.timestamp() == pytest.approx(claims["exp"], abs=1)


# -- signing in -----------------------------------------------------------------------


def test_sign_in_returns_a_bearer_token_that_works(client, tenant):
    user = tenant.editor
    response = client.post(
        "/api/auth/token",
        json={"username": user.username, "password": tenant.passwords[user.username]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/customers", headers=headers).status_code == 200
    (listed,) = client.get("/api/auth/tokens", headers=headers).json()
    assert (listed["id"], listed["kind"], listed["current"]) == (
        jti_of(body["access_token"]),
        "token",
        True,
    )
    assert listed["label"].startswith("API · ")


@pytest.mark.parametrize("who", ["wrong-password", "unknown-user"])
def test_sign_in_with_bad_credentials_is_401_with_the_same_sentence(client, tenant, who):
    username = (
        tenant.editor.username if who == "wrong-password" else "nobody-" + secrets.token_hex(4)
    )
    response = client.post(
        "/api/auth/token", json={"username": username, "password": "wrong-password-123"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"] == "Wrong username or password."


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"username": "someone"}, id="no-password"),
        pytest.param({"password": "x" * 12}, id="no-username"),
        pytest.param({"username": 5, "password": "x" * 12}, id="username-not-text"),
        pytest.param({"username": "a", "password": "x" * 12, "tenant": "t"}, id="unknown-field"),
        pytest.param([], id="not-an-object"),
    ],
)
def test_sign_in_with_a_malformed_body_is_422(client, body):
    response = client.post("/api/auth/token", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]


def test_repeated_failed_sign_ins_lock_this_client_with_retry_after(client, other_client, tenant):
    """The pair (username, this client) is locked; the right password from another client
    still signs in (``test_sign_in_throttle`` goes through every counter)."""
    user = tenant.viewer
    wrong = {"username": user.username, "password": "not-it-at-all"}
    right = {"username": user.username, "password": tenant.passwords[user.username]}
    for _ in range(PAIR_FAILURES - 1):
        assert client.post("/api/auth/token", json=wrong).status_code == 401
    locked = client.post("/api/auth/token", json=wrong)
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == str(int(PAIR_FIRST_LOCK.total_seconds()))
    assert locked.json()["detail"] == "Too many failed sign-in attempts; try again in 30 seconds."
    # From this client, even the right password waits ...
    assert client.post("/api/auth/token", json=right).status_code == 429
    # ... while the real user, elsewhere, signs in at once.
    elsewhere = other_client.post("/api/auth/token", json=right)
    assert elsewhere.status_code == 200, elsewhere.text


# -- tokens are rows: listed and revoked --------------------------------------------------


def bearer_of(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_list_holds_only_the_callers_own_sessions_and_tokens(
    client, database, tenant, other_tenant
):
    mine, _ = issue_token(database, tenant.editor, label="API · mine")
    older, _ = issue_token(database, tenant.editor, label="API · older")
    _, session = open_session(database, tenant.editor, label="Browser · mine")
    others = [
        jti_of(issue_token(database, tenant.viewer)[0]),
        jti_of(issue_token(database, tenant.admin)[0]),
        jti_of(issue_token(database, other_tenant.editor)[0]),
        open_session(database, tenant.viewer)[1].credential_id,
    ]
    response = client.get("/api/auth/tokens", headers=bearer_of(mine))
    assert response.status_code == 200
    listed = {c["id"]: c for c in response.json()}
    assert set(listed) == {jti_of(mine), jti_of(older), session.credential_id}
    assert [c["id"] for c in response.json() if c["current"]] == [jti_of(mine)]
    assert {c["label"] for c in listed.values()} == {"API · mine", "API · older", "Browser · mine"}
    assert listed[session.credential_id]["kind"] == "session"
    assert set(listed[jti_of(mine)]) == {"id", "kind", "label", "createdAt", "expiresAt", "current"}
    for other in others:
        assert other not in response.text
    assert mine not in response.text  # never a token or a secret, only ids


def test_a_token_revoked_through_the_api_is_refused_on_its_next_request(client, database, tenant):
    doomed, _ = issue_token(database, tenant.editor)
    kept, _ = issue_token(database, tenant.editor)
    assert client.get("/api/customers", headers=bearer_of(doomed)).status_code == 200
    response = client.delete(f"/api/auth/tokens/{jti_of(doomed)}", headers=bearer_of(kept))
    assert response.status_code == 204
    for method, path in (("GET", "/api/customers"), ("GET", "/api/auth/tokens")):
        refused = client.request(method, path, headers=bearer_of(doomed))
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert refused.json()["detail"] == SESSION_ENDED
    refused = client.post("/api/customers", json=customer_body(), headers=bearer_of(doomed))
    assert refused.status_code == 401
    assert client.get("/api/customers", headers=bearer_of(kept)).headers["X-Total-Count"] == "0"
    listed = [c["id"] for c in client.get("/api/auth/tokens", headers=bearer_of(kept)).json()]
    assert listed == [jti_of(kept)]


def test_revoking_the_token_you_call_with_signs_it_out(client, database, tenant):
    token, _ = issue_token(database, tenant.viewer)  # a viewer may end their own tokens
    response = client.delete(f"/api/auth/tokens/{jti_of(token)}", headers=bearer_of(token))
    assert response.status_code == 204
    assert client.get("/api/customers", headers=bearer_of(token)).status_code == 401


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_a_user_cannot_revoke_another_users_token_of_the_tenant(client, database, tenant, role):
    caller, _ = issue_token(database, getattr(tenant, role))
    victim, _ = issue_token(database, tenant.admin)
    response = client.delete(f"/api/auth/tokens/{jti_of(victim)}", headers=bearer_of(caller))
    assert response.status_code == 403
    assert response.json()["detail"] == f"Your role ({role}) does not allow you to manage users."
    assert client.get("/api/customers", headers=bearer_of(victim)).status_code == 200


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_another_tenants_token_or_an_unknown_id_is_not_found(
    client, database, tenant, other_tenant, role
):
    caller, _ = issue_token(database, getattr(tenant, role))
    theirs, _ = issue_token(database, other_tenant.admin)
    for target in (jti_of(theirs), SOME_ID, "x" * 64):
        response = client.delete(f"/api/auth/tokens/{target}", headers=bearer_of(caller))
        assert response.status_code == 404
        assert response.json()["detail"] == "The session or token was not found."
    assert client.get("/api/customers", headers=bearer_of(theirs)).status_code == 200


def test_an_admin_revokes_another_users_token(client, database, tenant):
    admin, _ = issue_token(database, tenant.admin)
    victim, _ = issue_token(database, tenant.editor)
    response = client.delete(f"/api/auth/tokens/{jti_of(victim)}", headers=bearer_of(admin))
    assert response.status_code == 204
    refused = client.get("/api/customers", headers=bearer_of(victim))
    assert refused.status_code == 401
    assert refused.json()["detail"] == SESSION_ENDED
    assert client.get("/api/customers", headers=bearer_of(admin)).status_code == 200


def test_an_over_long_token_id_is_a_422_naming_it(client, database, tenant):
    token, _ = issue_token(database, tenant.editor)
    response = client.delete(f"/api/auth/tokens/{'x' * 65}", headers=bearer_of(token))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["credential_id"]
    assert client.get("/api/customers", headers=bearer_of(token)).status_code == 200


# -- tokens end with what ends the user's rights -------------------------------------------


def _admin_changes_role(scope, tenant):  # type: ignore[no-untyped-def]
    scope.users.change_role(tenant.editor.id, Role.VIEWER)


def _admin_resets_password(scope, tenant):  # type: ignore[no-untyped-def]
    scope.users.reset_password(tenant.editor.id)


def _admin_removes(scope, tenant):  # type: ignore[no-untyped-def]
    scope.users.remove(tenant.editor.id)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        pytest.param(_admin_changes_role, SESSION_ENDED, id="role-change"),
        pytest.param(_admin_resets_password, SESSION_ENDED, id="password-reset"),
        pytest.param(
            _admin_removes,
            "Your account no longer exists; please contact your admin.",
            id="removal",
        ),
    ],
)
def test_an_admins_change_to_a_user_ends_their_tokens_at_once(
    client, database, tenant, scope_of, create_customer, change, detail
):
    target = create_customer(tenant)
    tokens = [issue_token(database, tenant.editor)[0] for _ in range(2)]
    admin, _ = issue_token(database, tenant.admin)
    with scope_of(tenant, tenant.admin, write=True) as scope:
        change(scope, tenant)
    for token in tokens:
        for response in (
            client.get("/api/customers", headers=bearer_of(token)),
            client.put(
                f"/api/customers/{target['id']}", json=customer_body(), headers=bearer_of(token)
            ),
        ):
            assert response.status_code == 401
            assert response.json()["detail"] == detail
    # Only the user's tokens ended: the admin's goes on, and nothing was changed.
    reread = client.get(f"/api/customers/{target['id']}", headers=bearer_of(admin))
    assert reread.json() == target


def test_changing_your_own_password_ends_your_tokens_but_not_the_session_you_used(
    client, database, tenant
):
    user = tenant.editor
    tokens = [issue_token(database, user)[0] for _ in range(2)]
    _, here = open_session(database, user)  # the dashboard's Account page
    with database.scope(here, write=True) as scope:
        ended = scope.users.change_own_password(tenant.passwords[user.username], GOOD_NEW)
    assert ended == 2
    for token in tokens:
        refused = client.get("/api/customers", headers=bearer_of(token))
        assert refused.status_code == 401
        assert refused.json()["detail"] == SESSION_ENDED
    with database.scope(here) as scope:
        assert scope.actor.username == user.username
    # The new password signs in to the API; the old one no longer does.
    old = client.post(
        "/api/auth/token",
        json={"username": user.username, "password": tenant.passwords[user.username]},
    )
    assert old.status_code == 401
    new = client.post("/api/auth/token", json={"username": user.username, "password": GOOD_NEW})
    assert new.status_code == 200
    assert client.get("/api/customers", headers=bearer_of(new.json()["access_token"])).is_success


def test_a_role_change_ends_old_tokens_and_a_new_one_carries_the_new_role(
    client, database, tenant, scope_of
):
    old = issue_token(database, tenant.viewer)[0]
    with scope_of(tenant, tenant.admin, write=True) as scope:
        scope.users.change_role(tenant.viewer.id, Role.EDITOR)
    # The old token says viewer: a write is refused by that hint before anything else,
    # and any request finds the token ended.
    refused = client.post("/api/customers", json=customer_body(), headers=bearer_of(old))
    assert refused.status_code == 403
    assert client.get("/api/customers", headers=bearer_of(old)).status_code == 401
    signed_in = client.post(
        "/api/auth/token",
        json={
            "username": tenant.viewer.username,
            "password": tenant.passwords[tenant.viewer.username],
        },
    ).json()["access_token"]
    assert decode_token(signed_in)[1] == Role.EDITOR
    created = client.post("/api/customers", json=customer_body(), headers=bearer_of(signed_in))
    assert created.status_code == 201


def test_an_expired_credential_row_refuses_a_token_whose_jwt_is_still_valid(
    client, database, tenant, owner_sql
):
    """The row's expiry decides too: shortening it (as an operator might) ends the token
    although its signature and ``exp`` are still good."""
    token, _ = issue_token(database, tenant.editor)
    identity, _ = decode_token(token)  # the JWT itself is valid and unexpired
    assert client.get("/api/customers", headers=bearer_of(token)).status_code == 200
    with owner_sql(tenant.id) as conn:
        changed = conn.execute(
            update(Credential)
            .where(Credential.tenant_id == tenant.id, Credential.id == identity.credential_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        ).rowcount
    assert changed == 1
    decode_token(token)  # still a valid JWT ...
    refused = client.get("/api/customers", headers=bearer_of(token))  # ... refused all the same
    assert refused.status_code == 401
    assert refused.json()["detail"] == SESSION_ENDED
    assert client.get("/api/auth/tokens", headers=bearer_of(token)).status_code == 401


def test_a_token_from_the_past_with_a_short_lifetime_has_expired(client, database, tenant):
    token, _ = issue_token(
        database,
        tenant.editor,
        now=datetime.now(UTC) - timedelta(hours=2),
        lifetime=timedelta(hours=1),
    )
    response = client.get("/api/customers", headers=bearer_of(token))
    assert response.status_code == 401
    assert response.json()["detail"] == (
        "The access token has expired; request a new one from POST /api/auth/token."
    )
