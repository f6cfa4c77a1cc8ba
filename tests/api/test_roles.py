"""Every API route × every role, and each of the two role checks on its own.

Roles (SPEC §4): a viewer reads and exports; an editor also creates, edits, deletes and
imports; an admin also manages users.  A write is refused twice over: by the route, from
the role the token was issued with, before the body is read (``api.deps.allowed_to``);
and by the data layer, from the user's role read in the write's own transaction
(``data.scope``).  Each check is proved here without the other:

* the matrix: every operation of ``/openapi.json`` × admin / editor / viewer gets its
  documented status, and a refused request changes nothing (a new route must be added
  to the table, or ``test_the_matrix_covers_every_documented_operation`` fails);
* the route alone: with the data layer's check switched off, a viewer's write is still
  403 and writes nothing, and a viewer's write with a broken body is 403, not 422;
* the data layer alone: a token issued to an editor (its role claim says editor) whose
  user was demoted behind the application's back (no revocation) gets 403 on every
  write, and nothing is written, not even an audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.main import create_app
from data.credentials import issue_token
from data.identity import Actor, Role
from data.models import User
from tests.api.conftest import customer_body
from tests.faults.helpers import tenant_state

ROLES = ["admin", "editor", "viewer"]


@dataclass
class Call:
    """What one request needs: a client, the caller's token and the things it aims at."""

    client: TestClient
    headers: dict[str, str]
    user: Any
    password: str
    customer: dict[str, Any]
    spare_token_id: str  # another token of the caller, for revocation
    twin: dict[str, Any]  # another customer with the same phone: a duplicate pair


def _pair_id(call: Call) -> str:
    return "~".join(sorted((call.customer["id"], call.twin["id"])))


def _merge(call: Call) -> Any:
    versions = f'"{call.customer["version"]}", "{call.twin["version"]}"'
    return call.client.post(
        "/api/customers/merge",
        json={"keep": call.customer["id"], "remove": call.twin["id"]},
        headers=call.headers | {"If-Match": versions},
    )


def _import(call: Call, content: bytes) -> Any:
    upload = {"file": ("c.csv", content, "text/csv")}
    return call.client.post("/api/customers/import", files=upload, headers=call.headers)


def _new_row() -> bytes:
    body = customer_body()
    return f"name,email\n{body['name']},{body['email']}\n".encode()


OPERATIONS: dict[str, Callable[[Call], Any]] = {
    "signIn": lambda c: c.client.post(
        "/api/auth/token", json={"username": c.user.username, "password": c.password}
    ),
    "listTokens": lambda c: c.client.get("/api/auth/tokens", headers=c.headers),
    "revokeToken": lambda c: c.client.delete(
        f"/api/auth/tokens/{c.spare_token_id}", headers=c.headers
    ),
    "importCustomers": lambda c: _import(c, _new_row()),
    "exportCustomers": lambda c: c.client.get("/api/customers/export", headers=c.headers),
    "listCustomers": lambda c: c.client.get("/api/customers", headers=c.headers),
    "createCustomer": lambda c: c.client.post(
        "/api/customers", json=customer_body(), headers=c.headers
    ),
    "getCustomer": lambda c: c.client.get(f"/api/customers/{c.customer['id']}", headers=c.headers),
    "replaceCustomer": lambda c: c.client.put(
        f"/api/customers/{c.customer['id']}", json=customer_body(), headers=c.headers
    ),
    "deleteCustomer": lambda c: c.client.delete(
        f"/api/customers/{c.customer['id']}", headers=c.headers
    ),
    "listDuplicates": lambda c: c.client.get("/api/customers/duplicates", headers=c.headers),
    "dismissDuplicate": lambda c: c.client.post(
        f"/api/customers/duplicates/{_pair_id(c)}/dismiss", headers=c.headers
    ),
    "mergeCustomers": _merge,
}

# Status by operation and role; the customer writes are the ones a viewer may not do.
EXPECTED: dict[str, dict[str, int]] = {
    "signIn": {"admin": 200, "editor": 200, "viewer": 200},
    "listTokens": {"admin": 200, "editor": 200, "viewer": 200},
    "revokeToken": {"admin": 204, "editor": 204, "viewer": 204},  # one's own token
    "importCustomers": {"admin": 200, "editor": 200, "viewer": 403},
    "exportCustomers": {"admin": 200, "editor": 200, "viewer": 200},
    "listCustomers": {"admin": 200, "editor": 200, "viewer": 200},
    "createCustomer": {"admin": 201, "editor": 201, "viewer": 403},
    "getCustomer": {"admin": 200, "editor": 200, "viewer": 200},
    "replaceCustomer": {"admin": 200, "editor": 200, "viewer": 403},
    "deleteCustomer": {"admin": 204, "editor": 204, "viewer": 403},
    "listDuplicates": {"admin": 200, "editor": 200, "viewer": 200},
    "dismissDuplicate": {"admin": 204, "editor": 204, "viewer": 403},
    "mergeCustomers": {"admin": 200, "editor": 200, "viewer": 403},
}
CUSTOMER_WRITES = [
    "importCustomers",
    "createCustomer",
    "replaceCustomer",
    "deleteCustomer",
    "dismissDuplicate",
    "mergeCustomers",
]
DENIED = {
    "importCustomers": "Your role (viewer) does not allow you to import customers.",
    "createCustomer": "Your role (viewer) does not allow you to change customers.",
    "replaceCustomer": "Your role (viewer) does not allow you to change customers.",
    "deleteCustomer": "Your role (viewer) does not allow you to change customers.",
    "dismissDuplicate": "Your role (viewer) does not allow you to change customers.",
    "mergeCustomers": "Your role (viewer) does not allow you to change customers.",
}


def documented_operations() -> set[str]:
    paths = create_app().openapi()["paths"]
    return {
        operation["operationId"] for methods in paths.values() for operation in methods.values()
    }


def test_the_matrix_covers_every_documented_operation():
    assert set(OPERATIONS) == set(EXPECTED) == documented_operations()
    assert {op for op, by_role in EXPECTED.items() if by_role["viewer"] == 403} == set(
        CUSTOMER_WRITES
    )


@pytest.fixture
def call_as(client, database, tenant, as_user):  # type: ignore[no-untyped-def]
    def make(role: str, token: str | None = None) -> Call:
        user = getattr(tenant, role)
        token = token or issue_token(database, user)[0]
        spare, _ = issue_token(database, user)
        created = client.post("/api/customers", json=customer_body(), headers=as_user(tenant.admin))
        assert created.status_code == 201, created.text
        twin = client.post("/api/customers", json=customer_body(), headers=as_user(tenant.admin))
        assert twin.status_code == 201, twin.text
        return Call(
            client=client,
            headers={"Authorization": f"Bearer {token}"},
            user=user,
            password=tenant.passwords[user.username],
            customer=created.json(),
            spare_token_id=str(jwt.decode(spare, options={"verify_signature": False})["jti"]),
            twin=twin.json(),
        )

    return make


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(EXPECTED))
def test_every_route_answers_each_role_as_documented(database, tenant, call_as, operation, role):
    call = call_as(role)
    before = tenant_state(database, tenant.id)
    response = OPERATIONS[operation](call)
    status = EXPECTED[operation][role]
    assert response.status_code == status, response.text
    changed = tenant_state(database, tenant.id) != before
    if status == 403:
        assert response.json()["detail"] == DENIED[operation]
    # Exactly the allowed customer writes change the tenant; nothing else does.
    assert changed == (operation in CUSTOMER_WRITES and status < 400)


@pytest.fixture
def data_layer_allows_everything(monkeypatch, scope_of, tenant):  # type: ignore[no-untyped-def]
    """Switch off the data layer's role check, and show that it is off."""
    monkeypatch.setattr(Actor, "require", lambda self, permission: None)
    with scope_of(tenant, tenant.viewer, write=True) as scope:
        made = scope.customers.create(customer_body())  # a viewer writes, if nothing stops it
        scope.customers.delete(made.id)


@pytest.mark.parametrize("operation", CUSTOMER_WRITES)
def test_the_route_refuses_a_viewers_write_by_itself(
    database, tenant, call_as, data_layer_allows_everything, operation
):
    viewer = call_as("viewer")
    before = tenant_state(database, tenant.id)
    response = OPERATIONS[operation](viewer)
    assert response.status_code == 403
    assert response.json()["detail"] == DENIED[operation]
    assert tenant_state(database, tenant.id) == before
    # The same route lets an editor through (the switch did not break it).
    assert OPERATIONS[operation](call_as("editor")).status_code == EXPECTED[operation]["editor"]


@pytest.mark.parametrize(
    ("operation", "send"),
    [
        pytest.param(
            "createCustomer",
            lambda c: c.client.post("/api/customers", content=b"{not json", headers=c.headers),
            id="create-garbage",
        ),
        pytest.param(
            "replaceCustomer",
            lambda c: c.client.put(
                f"/api/customers/{c.customer['id']}", json={"name": ""}, headers=c.headers
            ),
            id="replace-invalid",
        ),
        pytest.param(
            "deleteCustomer",
            lambda c: c.client.delete("/api/customers/not-an-id", headers=c.headers),
            id="delete-unknown-id",
        ),
        pytest.param(
            "importCustomers",
            lambda c: c.client.post(
                "/api/customers/import", content=b"not multipart", headers=c.headers
            ),
            id="import-no-file",
        ),
    ],
)
def test_a_viewers_write_is_refused_before_its_body_or_target_is_looked_at(
    call_as, operation, send
):
    """403, not 422 / 404 / 400: the route refused before reading anything of the request."""
    viewer = call_as("viewer")
    response = send(viewer)
    assert response.status_code == 403
    assert response.json()["detail"] == DENIED[operation]
    # An editor sending the same gets the answer about the request itself.
    assert send(call_as("editor")).status_code in (400, 404, 422)


@pytest.fixture
def demoted_behind_its_back(database, tenant, owner_sql):  # type: ignore[no-untyped-def]
    """The editor's token, then the editor made a viewer by SQL (no token is revoked)."""
    token, _ = issue_token(database, tenant.editor)
    with owner_sql(tenant.id) as conn:
        demoted = conn.execute(
            update(User)
            .where(User.tenant_id == tenant.id, User.id == tenant.editor.id)
            .values(role=Role.VIEWER.value)
        ).rowcount
    assert demoted == 1
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "editor"
    return token


@pytest.mark.parametrize("operation", CUSTOMER_WRITES)
def test_the_data_layer_refuses_a_demoted_editors_write_whatever_the_token_says(
    database, tenant, call_as, demoted_behind_its_back, operation
):
    call = call_as("editor", token=demoted_behind_its_back)
    before = tenant_state(database, tenant.id)
    response = OPERATIONS[operation](call)
    assert response.status_code == 403
    assert response.json()["detail"] == DENIED[operation]
    assert tenant_state(database, tenant.id) == before  # no customer, no audit event
    # The token still stands: reads go on, as a viewer's do.
    assert OPERATIONS["getCustomer"](call).json() == call.customer
    assert OPERATIONS["exportCustomers"](call).status_code == 200
