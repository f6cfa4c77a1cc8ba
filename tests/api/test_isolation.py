"""Tenant isolation over HTTP: every endpoint × own / other tenant / missing id × role.

A customer of another tenant must look exactly like one that does not exist (404, the
same body), nothing of it may be read or changed, and a viewer's write is 403 whatever
the id.  The tenant always comes from the token: nothing in a request can name another.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import customer_body

MISSING_ID = "00000000-0000-4000-8000-00000000dead"
ROLES = ["admin", "editor", "viewer", "no-token"]
TARGETS = ["own", "other", "missing"]

# Expected status per operation, for an own customer, by role.
OWN = {
    "get": {"admin": 200, "editor": 200, "viewer": 200},
    "put": {"admin": 200, "editor": 200, "viewer": 403},
    "delete": {"admin": 204, "editor": 204, "viewer": 403},
}


def expected_status(operation: str, target: str, role: str) -> int:
    if role == "no-token":
        return 401
    own = OWN[operation][role]
    if target == "own" or own == 403:
        return own  # a viewer's write is refused before any lookup: 403 for every id
    return 404


def headers_for(role: str, tenant, as_user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if role == "no-token":
        return {}
    return as_user(getattr(tenant, role))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("operation", ["get", "put", "delete"])
def test_customer_by_id(
    client, tenant, other_tenant, as_user, create_customer, operation, target, role
):
    mine = create_customer(tenant)
    theirs = create_customer(other_tenant)
    customer_id = {"own": mine["id"], "other": theirs["id"], "missing": MISSING_ID}[target]
    url = f"/api/customers/{customer_id}"
    headers = headers_for(role, tenant, as_user)

    if operation == "get":
        response = client.get(url, headers=headers)
    elif operation == "put":
        response = client.put(url, json=customer_body(name="Changed"), headers=headers)
    else:
        response = client.delete(url, headers=headers)

    status = expected_status(operation, target, role)
    assert response.status_code == status
    if status == 404:
        assert response.json()["detail"] == "The customer was not found."
    assert theirs["email"] not in response.text

    # The other tenant's customer is exactly as it was.
    reread = client.get(f"/api/customers/{theirs['id']}", headers=as_user(other_tenant.viewer))
    assert reread.json() == theirs
    # The own customer changed only if the request was allowed to change it.
    own_now = client.get(f"/api/customers/{mine['id']}", headers=as_user(tenant.viewer))
    if target == "own" and status == 204:
        assert own_now.status_code == 404
    elif target == "own" and status == 200 and operation == "put":
        assert own_now.json()["name"] == "Changed"
    else:
        assert own_now.json() == mine


@pytest.mark.parametrize("role", ROLES)
def test_list_shows_only_the_callers_tenant(
    client, tenant, other_tenant, as_user, create_customer, role
):
    mine = create_customer(tenant, name="Same Name")
    theirs = create_customer(other_tenant, name="Same Name")
    response = client.get(
        "/api/customers", params={"search": "Same"}, headers=headers_for(role, tenant, as_user)
    )
    if role == "no-token":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    assert [c["id"] for c in response.json()] == [mine["id"]]
    assert response.headers["X-Total-Count"] == "1"
    assert theirs["id"] not in response.text


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 201), ("editor", 201), ("viewer", 403), ("no-token", 401)]
)
def test_create_lands_in_the_callers_tenant_only(
    client, tenant, other_tenant, as_user, role, status
):
    headers = headers_for(role, tenant, as_user) | {"X-Tenant-ID": other_tenant.id}
    # A tenant named in the query is refused outright (an unknown query parameter) ...
    refused = client.post(
        "/api/customers",
        params={"tenantId": other_tenant.id, "tenant_id": other_tenant.id},
        json=customer_body(),
        headers=headers,
    )
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"tenantId", "tenant_id"}
    # ... and one named in a header is ignored: the token decides.
    response = client.post("/api/customers", json=customer_body(), headers=headers)
    assert response.status_code == status
    other_total = client.get("/api/customers", headers=as_user(other_tenant.viewer))
    assert other_total.headers["X-Total-Count"] == "0"
    if status == 201:
        assert response.json()["tenantId"] == tenant.id


def test_a_body_cannot_name_a_tenant(client, tenant, other_tenant, as_user):
    response = client.post(
        "/api/customers",
        json=customer_body(tenantId=other_tenant.id),
        headers=as_user(tenant.editor),
    )
    assert response.status_code == 422
    assert "tenantId" in response.json()["errors"]


def test_the_same_email_in_another_tenant_is_no_conflict_and_not_revealed(
    client, tenant, other_tenant, as_user, create_customer
):
    theirs = create_customer(other_tenant, email="taken@example.com")
    mine = create_customer(tenant)
    response = client.put(
        f"/api/customers/{mine['id']}",
        json=customer_body(email="taken@example.com"),
        headers=as_user(tenant.editor),
    )
    assert response.status_code == 200
    assert theirs["id"] not in response.text


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 200), ("editor", 200), ("viewer", 200), ("no-token", 401)]
)
def test_export_holds_only_the_callers_tenant(
    client, tenant, other_tenant, as_user, create_customer, role, status
):
    mine = create_customer(tenant)
    theirs = create_customer(other_tenant)
    response = client.get("/api/customers/export", headers=headers_for(role, tenant, as_user))
    assert response.status_code == status
    assert theirs["id"] not in response.text
    assert theirs["email"] not in response.text
    if status == 200:
        assert mine["id"] in response.text


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 200), ("editor", 200), ("viewer", 403), ("no-token", 401)]
)
def test_import_lands_in_the_callers_tenant_only(
    client, tenant, other_tenant, as_user, create_customer, role, status
):
    theirs = create_customer(other_tenant, email="both@example.com")
    upload = {"file": ("c.csv", b"name,email\nImported,both@example.com\n", "text/csv")}
    headers = headers_for(role, tenant, as_user) | {"X-Tenant-ID": other_tenant.id}
    refused = client.post(
        "/api/customers/import",
        params={"mode": "upsert", "tenantId": other_tenant.id},
        files=upload,
        headers=headers,
    )
    assert refused.status_code == 422
    response = client.post(
        "/api/customers/import", params={"mode": "upsert"}, files=upload, headers=headers
    )
    assert response.status_code == status
    untouched = client.get(f"/api/customers/{theirs['id']}", headers=as_user(other_tenant.viewer))
    assert untouched.json() == theirs
    mine = client.get("/api/customers", headers=as_user(tenant.viewer)).json()
    assert [c["name"] for c in mine] == (["Imported"] if status == 200 else [])


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/customers", {"serach": "x"}),
        ("/api/customers/export", {"tenant": "x"}),
        ("/api/customers/{id}", {"expand": "all"}),
    ],
    ids=["list-typo", "export-tenant", "get-extra"],
)
def test_an_unknown_query_parameter_is_named_in_a_422(
    client, tenant, as_user, create_customer, path, params
):
    mine = create_customer(tenant)
    response = client.get(path.format(id=mine["id"]), params=params, headers=as_user(tenant.viewer))
    assert response.status_code == 422
    (name,) = params
    assert response.json()["errors"] == {name: f"Unknown query parameter {name!r}."}
