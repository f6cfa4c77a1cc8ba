"""The customer endpoints, as an integrator sees them (SPEC §5)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.api.conftest import customer_body

WIRE_FIELDS = {
    "id",
    "name",
    "email",
    "phone",
    "address",
    "tenantId",
    "createdAt",
    "updatedAt",
    "version",
}


# -- create ---------------------------------------------------------------------------


def test_create_answers_201_with_location_etag_and_camelcase_fields(client, tenant, as_user):
    body = customer_body(address='Hauptstraße 5\n"Hinterhaus", 2. OG')
    response = client.post("/api/customers", json=body, headers=as_user(tenant.editor))

    assert response.status_code == 201
    created = response.json()
    assert set(created) == WIRE_FIELDS
    assert created["tenantId"] == tenant.id
    assert created["address"] == body["address"]
    assert created["version"] == 1
    assert datetime.fromisoformat(created["createdAt"]).tzinfo is not None
    assert response.headers["Location"].endswith(f"/api/customers/{created['id']}")
    assert response.headers["ETag"] == '"1"'
    assert client.get(response.headers["Location"], headers=as_user(tenant.viewer)).json() == (
        created
    )


def test_create_trims_fields_and_stores_empty_optionals_as_null(client, tenant, as_user):
    body = {"name": "  Ada Lovelace ", "email": " ada@example.com ", "phone": "", "address": "  "}
    created = client.post("/api/customers", json=body, headers=as_user(tenant.editor)).json()
    assert (created["name"], created["email"]) == ("Ada Lovelace", "ada@example.com")
    assert created["phone"] is None
    assert created["address"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"email": "a@example.com"}, "name", id="name-missing"),
        pytest.param({"name": "   ", "email": "a@example.com"}, "name", id="name-blank"),
        pytest.param({"name": "x" * 201, "email": "a@example.com"}, "name", id="name-too-long"),
        pytest.param({"name": "A"}, "email", id="email-missing"),
        pytest.param({"name": "A", "email": "not-an-email"}, "email", id="email-invalid"),
        pytest.param({"name": "A", "email": 42}, "email", id="email-not-text"),
        pytest.param(
            {"name": "A", "email": "a@example.com", "phone": "1" * 51}, "phone", id="phone"
        ),
        pytest.param(
            {"name": "A", "email": "a@example.com", "address": "x" * 501}, "address", id="address"
        ),
        pytest.param({"name": "A\x00B", "email": "a@example.com"}, "name", id="nul-character"),
        pytest.param(
            {"name": "A", "email": "a@example.com", "tenantId": "x"}, "tenantId", id="unknown-field"
        ),
        pytest.param(
            {"name": "A", "email": "a@example.com", "id": "x"}, "id", id="id-is-not-writable"
        ),
    ],
)
def test_invalid_customer_gets_422_naming_the_field_and_writes_nothing(
    client, tenant, as_user, body, field
):
    headers = as_user(tenant.editor)
    response = client.post("/api/customers", json=body, headers=headers)

    assert response.status_code == 422
    problem = response.json()
    assert set(problem["errors"]) == {field}
    assert problem["errors"][field].endswith(".")
    assert problem["detail"]
    assert client.get("/api/customers", headers=headers).headers["X-Total-Count"] == "0"


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        pytest.param(b"{not json", "application/json", 422, id="garbage-json"),
        pytest.param(b"", "application/json", 422, id="empty-body"),
        pytest.param(b"[1, 2]", "application/json", 422, id="array"),
        pytest.param(b"null", "application/json", 422, id="null"),
        pytest.param(b"\xff\xfe\x00garbage", "application/json", 422, id="not-utf8"),
        pytest.param(b"[" * 100_00 + b"]" * 100_00, "application/json", 422, id="deep-nesting"),
        pytest.param(b'{"name": 1' + b"0" * 5000 + b"}", "application/json", 422, id="huge-int"),
        pytest.param(b"name=a&email=b", "application/x-www-form-urlencoded", 415, id="form"),
        pytest.param(b'{"name": "A"}', "text/plain", 415, id="text-plain"),
    ],
)
def test_garbage_bodies_get_one_sentence_never_a_500(
    client, tenant, as_user, raw, content_type, status
):
    headers = as_user(tenant.editor) | {"Content-Type": content_type}
    response = client.post("/api/customers", content=raw, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert detail.endswith(".")
    assert "Traceback" not in detail


def test_duplicate_email_in_the_tenant_is_409_ignoring_case(client, tenant, as_user):
    headers = as_user(tenant.editor)
    first = client.post(
        "/api/customers", json=customer_body(email="Same@Example.com"), headers=headers
    )
    again = client.post(
        "/api/customers", json=customer_body(email="same@example.COM"), headers=headers
    )
    assert first.status_code == 201
    assert again.status_code == 409
    assert "email" in again.json()["errors"]
    assert client.get("/api/customers", headers=headers).headers["X-Total-Count"] == "1"


def test_two_tenants_may_hold_the_same_email(client, tenant, other_tenant, as_user):
    body = customer_body(email="shared@example.com")
    assert (
        client.post("/api/customers", json=body, headers=as_user(tenant.editor)).status_code == 201
    )
    mine = client.post("/api/customers", json=body, headers=as_user(other_tenant.editor))
    assert mine.status_code == 201
    assert mine.json()["tenantId"] == other_tenant.id


def test_oversized_body_is_413_with_a_json_sentence(client, tenant, as_user):
    body = customer_body(address="x" * 200_000)
    response = client.post("/api/customers", json=body, headers=as_user(tenant.editor))
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_oversized_body_without_content_length_is_413_too(client, tenant, as_user):
    def chunks():  # a streamed body: no Content-Length, counted as it arrives
        yield b'{"name": "A", "email": "a@example.com", "address": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    headers = as_user(tenant.editor) | {"Content-Type": "application/json"}
    response = client.post("/api/customers", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The request body is too large")


# -- read -----------------------------------------------------------------------------


def test_read_carries_the_version_as_etag(client, tenant, as_user, create_customer):
    created = create_customer(tenant)
    response = client.get(f"/api/customers/{created['id']}", headers=as_user(tenant.viewer))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert response.json() == created


@pytest.mark.parametrize(
    "customer_id",
    [
        pytest.param("00000000-0000-4000-8000-000000000000", id="missing-uuid"),
        pytest.param("not-a-uuid", id="not-a-uuid"),
        pytest.param("x" * 300, id="very-long"),
        pytest.param("%00", id="nul"),
        pytest.param("' OR 1=1 --", id="sql-text"),
    ],
)
def test_unknown_ids_are_404(client, tenant, as_user, customer_id):
    response = client.get(f"/api/customers/{customer_id}", headers=as_user(tenant.viewer))
    assert response.status_code == 404
    assert response.json()["detail"] == "The customer was not found."


# -- list -----------------------------------------------------------------------------


def test_list_pages_with_total_count_and_next_link(client, tenant, as_user, add_customers):
    add_customers(tenant, 5)
    headers = as_user(tenant.viewer)

    first = client.get("/api/customers", params={"limit": 2}, headers=headers)
    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == "5"
    assert len(first.json()) == 2
    assert 'rel="next"' in first.headers["Link"]

    seen = [c["id"] for c in first.json()]
    url = first.links["next"]["url"]
    while url:
        page = client.get(url, headers=headers)
        seen += [c["id"] for c in page.json()]
        url = page.links.get("next", {}).get("url")
    assert len(seen) == len(set(seen)) == 5
    assert 'rel="prev"' in page.headers["Link"]


def test_list_defaults_to_100_sorted_by_name(client, tenant, as_user, add_customers):
    add_customers(tenant, 105)
    response = client.get("/api/customers", headers=as_user(tenant.viewer))
    names = [c["name"] for c in response.json()]
    assert len(names) == 100
    assert response.headers["X-Total-Count"] == "105"
    assert names == sorted(names)


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        pytest.param("name", "name", False, id="name"),
        pytest.param("-name", "name", True, id="name-desc"),
        pytest.param("createdAt", "createdAt", False, id="createdAt"),
        pytest.param("-updatedAt", "updatedAt", True, id="updatedAt-desc"),
    ],
)
def test_list_sorts_by_a_field(client, tenant, as_user, add_customers, sort, key, reverse):
    add_customers(tenant, 6)
    rows = client.get("/api/customers", params={"sort": sort}, headers=as_user(tenant.viewer))
    values = [c[key] for c in rows.json()]
    assert values == sorted(values, reverse=reverse)


def test_search_finds_by_name_email_or_phone_ignoring_case(
    client, tenant, as_user, create_customer
):
    wanted = create_customer(tenant, name="Hiro Nakamura")
    create_customer(tenant, name="Anna Schmidt")
    response = client.get(
        "/api/customers", params={"search": "NAKAMURA"}, headers=as_user(tenant.viewer)
    )
    assert [c["id"] for c in response.json()] == [wanted["id"]]
    assert response.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"limit": 0}, "limit", id="limit-zero"),
        pytest.param({"limit": 1001}, "limit", id="limit-over-1000"),
        pytest.param({"limit": "ten"}, "limit", id="limit-not-a-number"),
        pytest.param({"offset": -1}, "offset", id="offset-negative"),
        pytest.param({"offset": 10**30}, "offset", id="offset-huge"),
        pytest.param({"sort": "password"}, "sort", id="sort-unknown"),
        pytest.param({"search": "x" * 201}, "search", id="search-too-long"),
        pytest.param({"search": "a\x00b"}, "search", id="search-nul"),
    ],
)
def test_bad_list_parameters_get_422_naming_the_parameter(client, tenant, as_user, params, field):
    response = client.get("/api/customers", params=params, headers=as_user(tenant.viewer))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize(
    "search",
    ["%", "_", "\\", '"', "'; DROP TABLE customers; --", "=cmd|' /C calc'!A0", "ab", "日本"],
)
def test_searches_with_special_characters_are_plain_text(client, tenant, as_user, search):
    response = client.get(
        "/api/customers", params={"search": search}, headers=as_user(tenant.viewer)
    )
    assert response.status_code == 200
    assert response.json() == []


# -- replace --------------------------------------------------------------------------


def test_put_replaces_all_fields_and_bumps_the_version(client, tenant, as_user, create_customer):
    created = create_customer(tenant)
    headers = as_user(tenant.editor)
    response = client.put(
        f"/api/customers/{created['id']}",
        json={"name": "New Name", "email": "new@example.com"},
        headers=headers,
    )
    assert response.status_code == 200
    updated = response.json()
    assert (updated["name"], updated["email"], updated["phone"], updated["address"]) == (
        "New Name",
        "new@example.com",
        None,
        None,
    )
    assert updated["version"] == 2
    assert updated["createdAt"] == created["createdAt"]
    assert response.headers["ETag"] == '"2"'


def test_put_with_current_if_match_succeeds(client, tenant, as_user, create_customer):
    created = create_customer(tenant)
    url = f"/api/customers/{created['id']}"
    etag = client.get(url, headers=as_user(tenant.editor)).headers["ETag"]
    response = client.put(
        url, json=customer_body(name="Fresh"), headers=as_user(tenant.editor) | {"If-Match": etag}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Fresh"


@pytest.mark.parametrize("method", ["put", "delete"])
def test_stale_if_match_is_412_and_changes_nothing(
    client, tenant, as_user, create_customer, method
):
    created = create_customer(tenant)
    url = f"/api/customers/{created['id']}"
    headers = as_user(tenant.editor)
    client.put(url, json=customer_body(name="Someone else's change"), headers=headers)

    stale = headers | {"If-Match": '"1"'}
    if method == "put":
        response = client.put(url, json=customer_body(name="Mine"), headers=stale)
    else:
        response = client.delete(url, headers=stale)

    assert response.status_code == 412
    assert response.headers["ETag"] == '"2"'
    current = client.get(url, headers=headers).json()
    assert current["name"] == "Someone else's change"
    assert current["version"] == 2


@pytest.mark.parametrize(
    "if_match",
    [
        pytest.param('W/"1"', id="weak-tag-never-matches"),
        pytest.param('"7"', id="other-version"),
        pytest.param("garbage", id="garbage"),
    ],
)
def test_if_match_that_names_no_current_version_is_412(
    client, tenant, as_user, create_customer, if_match
):
    created = create_customer(tenant)
    response = client.put(
        f"/api/customers/{created['id']}",
        json=customer_body(),
        headers=as_user(tenant.editor) | {"If-Match": if_match},
    )
    assert response.status_code == 412


@pytest.mark.parametrize("if_match", ['"1"', "1", '"5", "1"', "*"])
def test_if_match_accepts_the_current_version_in_any_usual_spelling(
    client, tenant, as_user, create_customer, if_match
):
    created = create_customer(tenant)
    response = client.put(
        f"/api/customers/{created['id']}",
        json=customer_body(),
        headers=as_user(tenant.editor) | {"If-Match": if_match},
    )
    assert response.status_code == 200


def test_put_to_an_email_another_customer_uses_is_409(client, tenant, as_user, create_customer):
    first = create_customer(tenant, email="first@example.com")
    second = create_customer(tenant, email="second@example.com")
    response = client.put(
        f"/api/customers/{second['id']}",
        json=customer_body(email="FIRST@example.com"),
        headers=as_user(tenant.editor),
    )
    assert response.status_code == 409
    assert first["email"] == "first@example.com"


def test_put_of_unknown_fields_is_422(client, tenant, as_user, create_customer):
    created = create_customer(tenant)
    response = client.put(
        f"/api/customers/{created['id']}",
        json=customer_body(version=7),
        headers=as_user(tenant.editor),
    )
    assert response.status_code == 422
    assert "version" in response.json()["errors"]


# -- delete ---------------------------------------------------------------------------


def test_delete_is_204_then_404(client, tenant, as_user, create_customer):
    created = create_customer(tenant)
    url = f"/api/customers/{created['id']}"
    headers = as_user(tenant.editor)
    response = client.delete(url, headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(url, headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404


def test_delete_with_current_if_match_succeeds(client, tenant, as_user, create_customer):
    created = create_customer(tenant)
    response = client.delete(
        f"/api/customers/{created['id']}", headers=as_user(tenant.editor) | {"If-Match": '"1"'}
    )
    assert response.status_code == 204


# -- the rest of HTTP -----------------------------------------------------------------


def test_unknown_path_and_method_are_json_errors(client, tenant, as_user):
    headers = as_user(tenant.editor)
    missing = client.get("/api/nothing-here", headers=headers)
    wrong_method = client.patch("/api/customers", json={}, headers=headers)
    assert missing.status_code == 404
    assert missing.json()["detail"].endswith(".")
    assert wrong_method.status_code == 405
    assert "PATCH" in wrong_method.json()["detail"]


def test_openapi_documents_every_route_with_examples(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    assert set(paths["/api/customers"]) >= {"get", "post"}
    assert set(paths["/api/customers/{customer_id}"]) >= {"get", "put", "delete"}
    assert "post" in paths["/api/auth/token"]
    components = json.dumps(schema["components"])
    assert "chloe.nakamura@example.com" in components
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert client.get("/docs").status_code == 200
