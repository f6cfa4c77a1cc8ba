"""Tokens: signing in, and every way a token can be wrong → 401 + WWW-Authenticate."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from api.security import ALGORITHM, AUDIENCE, decode_token, issue_token
from config import get_settings
from data.models import Role
from data.users import MAX_FAILURES, UserDirectory
from tests.api.conftest import customer_body

SOME_ID = "00000000-0000-4000-8000-000000000000"

# (method, path) of every endpoint that needs a token.
ENDPOINTS = [
    pytest.param("GET", "/api/customers", id="list"),
    pytest.param("POST", "/api/customers", id="create"),
    pytest.param("GET", "/api/customers/{id}", id="get"),
    pytest.param("PUT", "/api/customers/{id}", id="put"),
    pytest.param("DELETE", "/api/customers/{id}", id="delete"),
    pytest.param("POST", "/api/customers/import", id="import"),
    pytest.param("GET", "/api/customers/export", id="export"),
]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(user, **changes):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    claims = {
        "sub": user.id,
        "tenant": user.tenant_id,
        "role": user.role.value,
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


def authorization(attack: str, tenant, other_tenant) -> str | None:  # type: ignore[no-untyped-def]
    user = tenant.editor
    good, _ = issue_token(user)
    return {
        "missing": None,
        "empty-bearer": "Bearer ",
        "malformed": "Bearer not-a-jwt",
        "garbage-segments": "Bearer a.b.c",
        "alg-none": "Bearer " + unsigned(claims_of(user)),
        "alg-none-uppercase": "Bearer "
        + b64(b'{"alg":"NONE"}')
        + "."
        + b64(json.dumps(claims_of(user)).encode())
        + ".",
        "other-key": "Bearer " + signed(claims_of(user), key=secrets.token_urlsafe(48)),
        "other-algorithm": "Bearer " + signed(claims_of(user), algorithm="HS512"),
        "expired": "Bearer " + signed(claims_of(user, exp=int(datetime.now(UTC).timestamp()) - 60)),
        "no-exp": "Bearer " + signed({k: v for k, v in claims_of(user).items() if k != "exp"}),
        "no-iat": "Bearer " + signed({k: v for k, v in claims_of(user).items() if k != "iat"}),
        "no-audience": "Bearer " + signed({k: v for k, v in claims_of(user).items() if k != "aud"}),
        "issued-in-future": "Bearer "
        + signed(claims_of(user, iat=datetime.now(UTC).timestamp() + 3600)),
        "edited-tenant": "Bearer " + edited(good, tenant=other_tenant.id),
        "edited-role": "Bearer " + edited(issue_token(tenant.viewer)[0], role="admin"),
        "edited-expiry": "Bearer " + edited(good, exp=int(datetime.now(UTC).timestamp()) + 10**6),
        "tenant-of-another-user": "Bearer " + signed(claims_of(user, tenant=other_tenant.id)),
        "unknown-user": "Bearer " + signed(claims_of(user, sub=SOME_ID)),
        "unknown-role": "Bearer " + signed(claims_of(user, role="root")),
        "role-not-text": "Bearer " + signed(claims_of(user, role=["admin"])),
        "dashboard-cookie": "Bearer "
        + jwt.encode(
            {"sub": user.id, "iat": datetime.now(UTC).timestamp(), "exp": 2**31},
            get_settings().cookie_key,
            algorithm="HS256",
        ),
        "basic-scheme": "Basic " + base64.b64encode(b"editor:password").decode(),
        "token-scheme": "Token " + good,
        "no-scheme": good,
    }[attack]


ATTACKS = [
    "missing",
    "empty-bearer",
    "malformed",
    "garbage-segments",
    "alg-none",
    "alg-none-uppercase",
    "other-key",
    "other-algorithm",
    "expired",
    "no-exp",
    "no-iat",
    "no-audience",
    "issued-in-future",
    "edited-tenant",
    "edited-role",
    "edited-expiry",
    "tenant-of-another-user",
    "unknown-user",
    "unknown-role",
    "role-not-text",
    "dashboard-cookie",
    "basic-scheme",
    "token-scheme",
    "no-scheme",
]


def attempt(client, method: str, path: str, target, header: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header is not None else {}
    url = path.format(id=target["id"])
    if url.endswith("/import"):
        csv_file = {"file": ("c.csv", b"name,email\nX,x@example.com\n", "text/csv")}
        return client.post(url, files=csv_file, headers=headers)
    body = customer_body() if method in ("POST", "PUT") else None
    return client.request(method, url, json=body, headers=headers)


def assert_refused_and_nothing_changed(client, response, tenant, target, as_user):  # type: ignore[no-untyped-def]
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    problem = response.json()
    assert set(problem) == {"detail", "requestId"}
    assert target["email"] not in response.text
    after = client.get("/api/customers", headers=as_user(tenant.viewer))
    assert after.headers["X-Total-Count"] == "1"
    assert after.json() == [target]


@pytest.mark.parametrize("attack", ATTACKS)
def test_bad_tokens_get_401_with_www_authenticate_and_no_data(
    client, tenant, other_tenant, as_user, create_customer, attack
):
    target = create_customer(tenant)
    header = authorization(attack, tenant, other_tenant)
    response = attempt(client, "PUT", "/api/customers/{id}", target, header)
    assert_refused_and_nothing_changed(client, response, tenant, target, as_user)


@pytest.mark.parametrize("attack", ["missing", "other-key", "expired", "alg-none"])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_refuses_bad_tokens(
    client, tenant, other_tenant, as_user, create_customer, attack, method, path
):
    target = create_customer(tenant)
    header = authorization(attack, tenant, other_tenant)
    response = attempt(client, method, path, target, header)
    assert_refused_and_nothing_changed(client, response, tenant, target, as_user)


def test_a_token_states_user_tenant_role_and_expiry(tenant):
    token, expires_in = issue_token(tenant.editor)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == tenant.editor.id
    assert claims["tenant"] == tenant.id
    assert claims["role"] == "editor"
    assert claims["exp"] > claims["iat"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert expires_in == pytest.approx(get_settings().token_lifetime_minutes * 60, abs=1)
    assert decode_token(token).tenant_id == tenant.id


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
    listed = client.get(
        "/api/customers", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert listed.status_code == 200


@pytest.mark.parametrize("who", ["wrong-password", "unknown-user"])
def test_sign_in_with_bad_credentials_is_401_with_the_same_sentence(client, tenant, who):
    username = (
        tenant.editor.username if who == "wrong-password" else "nobody-" + secrets.token_hex(4)
    )
    response = client.post(
        "/api/auth/token", json={"username": username, "password": "wrong-password-123"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
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


def test_repeated_failed_sign_ins_are_throttled_with_retry_after(client, tenant):
    user = tenant.viewer
    for _ in range(MAX_FAILURES - 1):
        response = client.post(
            "/api/auth/token", json={"username": user.username, "password": "not-it-at-all"}
        )
        assert response.status_code == 401
    locked = client.post(
        "/api/auth/token", json={"username": user.username, "password": "not-it-at-all"}
    )
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    # While locked, even the right password is refused.
    right = client.post(
        "/api/auth/token",
        json={"username": user.username, "password": tenant.passwords[user.username]},
    )
    assert right.status_code == 429


def test_a_token_stops_working_when_its_user_is_removed(client, database, tenant, as_user):
    headers = as_user(tenant.editor)
    assert client.get("/api/customers", headers=headers).status_code == 200
    with database.transaction(tenant.id, write=True) as session:
        UserDirectory(session, tenant.id, tenant.admin.actor).remove(tenant.editor.id)
    response = client.get("/api/customers", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_stops_working_when_its_user_changes_password(client, database, tenant, as_user):
    headers = as_user(tenant.editor)
    with database.transaction(tenant.id, write=True) as session:
        UserDirectory(session, tenant.id, tenant.admin.actor).reset_password(tenant.editor.id)
    response = client.get("/api/customers", headers=headers)
    assert response.status_code == 401
    assert "password" in response.json()["detail"]
    assert (
        client.get(
            "/api/customers", headers=as_user(_reloaded(database, tenant.editor))
        ).status_code
        == 200
    )


def _reloaded(database, user):  # type: ignore[no-untyped-def]
    with database.transaction(user.tenant_id) as session:
        return UserDirectory(session, user.tenant_id).get(user.id)


def test_a_demoted_user_loses_write_access_at_once(client, database, tenant, as_user):
    headers = as_user(tenant.editor)
    with database.transaction(tenant.id, write=True) as session:
        UserDirectory(session, tenant.id, tenant.admin.actor).change_role(
            tenant.editor.id, Role.VIEWER
        )
    response = client.post("/api/customers", json=customer_body(), headers=headers)
    assert response.status_code == 403
    assert client.get("/api/customers", headers=headers).status_code == 200


def test_a_promotion_does_not_widen_an_older_token(client, database, tenant, as_user):
    headers = as_user(tenant.viewer)
    with database.transaction(tenant.id, write=True) as session:
        UserDirectory(session, tenant.id, tenant.admin.actor).change_role(
            tenant.viewer.id, Role.EDITOR
        )
    assert client.post("/api/customers", json=customer_body(), headers=headers).status_code == 403
    fresh = as_user(_reloaded(database, tenant.viewer))
    assert client.post("/api/customers", json=customer_body(), headers=fresh).status_code == 201


def test_a_token_from_the_past_with_a_short_lifetime_has_expired(client, tenant):
    token, _ = issue_token(
        tenant.editor, now=datetime.now(UTC) - timedelta(hours=2), lifetime=timedelta(hours=1)
    )
    response = client.get("/api/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
