"""Duplicates over HTTP (issue 16): the queue, dismissal and merge, on both databases.

``GET /api/customers/duplicates`` (viewers may read), ``POST .../duplicates/{pair}/dismiss``
and ``POST /api/customers/merge`` with ``If-Match: "<kept>", "<removed>"``: 412 when one
changed, 428 without the header, 404 for another tenant's ids (the same as a missing
one), 403 for viewers before anything is looked up.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

MISSING = "00000000-0000-4000-8000-00000000dead"
OLDER = {"name": "Jürgen Groß", "email": "jgross@firma.de", "phone": "+49 151 1234567"}
NEWER = {"name": "Juergen Gross", "email": "j.gross@firma.de", "phone": "+491511234567"}


@pytest.fixture
def pair(tenant: Any, customers_of: Any) -> tuple[Any, Any]:
    with customers_of(tenant, write=True) as customers:
        older = customers.create(OLDER)
    with customers_of(tenant, write=True) as customers:
        newer = customers.create(NEWER)
    return older, newer


def queue(client: Any, headers: dict[str, str], **params: Any) -> Any:
    return client.get("/api/customers/duplicates", headers=headers, params=params)


def merge(client: Any, headers: dict[str, str], keep: Any, remove: Any, **body: Any) -> Any:
    if_match = body.pop("if_match", f'"{keep.version}", "{remove.version}"')
    extra = {"If-Match": if_match} if if_match is not None else {}
    return client.post(
        "/api/customers/merge",
        headers=headers | extra,
        json={"keep": keep.id, "remove": remove.id, **body},
    )


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_everyone_reads_the_queue_best_first_with_reasons_and_scores(
    client: Any, as_user: Any, tenant: Any, pair: Any, role: str
) -> None:
    older, newer = pair
    response = queue(client, as_user(getattr(tenant, role)))
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    [item] = response.json()
    assert item["score"] == 95
    assert item["reasons"] == ["same_phone", "similar_name", "same_email_domain"]
    assert item["id"] == "~".join(sorted((older.id, newer.id)))
    assert {c["id"] for c in item["customers"]} == {older.id, newer.id}
    assert {c["name"] for c in item["customers"]} == {OLDER["name"], NEWER["name"]}
    assert set(item["customers"][0]) >= {"id", "name", "email", "tenantId", "version"}


def test_the_queue_is_paged_and_filtered_by_score(
    client: Any, as_user: Any, tenant: Any, customers_of: Any
) -> None:
    with customers_of(tenant, write=True) as customers:
        for i in range(3):  # three pairs sharing a phone: 40 each, and one strong pair
            customers.create(
                {"name": f"Alpha {i}", "email": f"a{i}@a{i}.example", "phone": f"+4930123456{i}"}
            )
            customers.create(
                {"name": f"Omega {i}", "email": f"o{i}@o{i}.example", "phone": f"+4930123456{i}"}
            )
    headers = as_user(tenant.viewer)
    first = queue(client, headers, limit=2)
    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == "3"
    assert len(first.json()) == 2
    assert 'rel="next"' in first.headers["Link"]
    rest = queue(client, headers, limit=2, offset=2)
    assert len(rest.json()) == 1
    assert queue(client, headers, minScore=50).json() == []
    assert queue(client, headers, minScore=101).status_code == 422
    assert queue(client, headers, minimum=3).status_code == 422  # unknown parameter


def test_an_editor_merges_with_the_versions_of_both_and_gets_the_kept_customer(
    client: Any, as_user: Any, tenant: Any, pair: Any, customers_of: Any
) -> None:
    older, newer = pair
    response = merge(
        client, as_user(tenant.editor), older, newer, fields={"name": "keep", "email": "remove"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer"]["id"] == older.id
    assert body["customer"]["name"] == OLDER["name"]
    assert body["customer"]["email"] == NEWER["email"]
    assert body["removedId"] == newer.id
    assert body["chosen"] == {
        "name": "keep",
        "email": "remove",
        "phone": "remove",
        "address": "keep",
    }
    assert response.headers["ETag"] == f'"{older.version + 1}"'
    assert body["mergeId"]
    headers = as_user(tenant.viewer)
    assert client.get(f"/api/customers/{newer.id}", headers=headers).status_code == 404
    assert queue(client, headers).json() == []


@pytest.mark.parametrize("stale", ["keep", "remove"])
def test_a_stale_version_of_either_customer_is_412_and_nothing_is_merged(
    client: Any, as_user: Any, tenant: Any, pair: Any, customers_of: Any, stale: str
) -> None:
    older, newer = pair
    changed = older if stale == "keep" else newer
    with customers_of(tenant, write=True) as customers:
        customers.update(changed.id, changed.fields() | {"address": "Neue Straße 1"})
    response = merge(client, as_user(tenant.editor), older, newer)
    assert response.status_code == 412
    assert response.headers["ETag"] == f'"{changed.version + 1}"'
    assert "changed by someone else" in response.json()["detail"]
    viewer = as_user(tenant.viewer)
    assert client.get(f"/api/customers/{newer.id}", headers=viewer).status_code == 200
    assert len(queue(client, viewer).json()) == 1


@pytest.mark.parametrize(
    ("if_match", "status"),
    [(None, 428), ('"1"', 422), ('W/"1", W/"1"', 422), ("one, two", 422)],
    ids=["missing", "one tag", "weak tags", "not versions"],
)
def test_a_merge_needs_if_match_with_two_versions(
    client: Any, as_user: Any, tenant: Any, pair: Any, if_match: str | None, status: int
) -> None:
    older, newer = pair
    response = merge(client, as_user(tenant.editor), older, newer, if_match=if_match)
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [{"fields": {"colour": "keep"}}, {"fields": {"name": "both"}}, {"extra": 1}],
    ids=["unknown field", "unknown side", "unknown property"],
)
def test_an_invalid_merge_body_is_422(
    client: Any, as_user: Any, tenant: Any, pair: Any, body: dict[str, Any]
) -> None:
    older, newer = pair
    response = merge(client, as_user(tenant.editor), older, newer, **body)
    assert response.status_code == 422
    assert response.json()["errors"]


def test_an_editor_dismisses_a_pair_for_good(
    client: Any, as_user: Any, tenant: Any, pair: Any
) -> None:
    editor = as_user(tenant.editor)
    [item] = queue(client, editor).json()
    response = client.post(f"/api/customers/duplicates/{item['id']}/dismiss", headers=editor)
    assert response.status_code == 204
    assert queue(client, editor).json() == []
    again = client.post(f"/api/customers/duplicates/{item['id']}/dismiss", headers=editor)
    assert again.status_code == 204


def test_viewers_are_refused_merge_and_dismiss_with_403(
    client: Any, as_user: Any, tenant: Any, pair: Any
) -> None:
    older, newer = pair
    viewer = as_user(tenant.viewer)
    assert merge(client, viewer, older, newer).status_code == 403
    [item] = queue(client, viewer).json()
    dismissed = client.post(f"/api/customers/duplicates/{item['id']}/dismiss", headers=viewer)
    assert dismissed.status_code == 403
    assert len(queue(client, viewer).json()) == 1


def test_without_a_token_every_duplicates_path_is_401(client: Any, pair: Any) -> None:
    older, newer = pair
    assert queue(client, {}).status_code == 401
    assert merge(client, {}, older, newer).status_code == 401
    pair_id = "~".join(sorted((older.id, newer.id)))
    assert client.post(f"/api/customers/duplicates/{pair_id}/dismiss").status_code == 401


@pytest.mark.parametrize("target", ["other", "missing"])
@pytest.mark.parametrize("operation", ["dismiss", "merge keep", "merge remove", "merge both"])
def test_another_tenants_ids_look_missing(
    client: Any,
    as_user: Any,
    tenant: Any,
    other_tenant: Any,
    pair: Any,
    customers_of: Any,
    operation: str,
    target: str,
) -> None:
    older, newer = pair
    with customers_of(other_tenant, write=True) as customers:
        their_older = customers.create(OLDER)
    with customers_of(other_tenant, write=True) as customers:
        their_newer = customers.create(NEWER)
    if target == "missing":
        their_older = replace(their_older, id=MISSING)
    editor = as_user(tenant.editor)
    if operation == "dismiss":
        pair_id = "~".join(sorted((their_older.id, their_newer.id)))
        response = client.post(f"/api/customers/duplicates/{pair_id}/dismiss", headers=editor)
    elif operation == "merge keep":
        response = merge(client, editor, their_older, newer)
    elif operation == "merge remove":
        response = merge(client, editor, older, their_older)
    else:
        response = merge(client, editor, their_older, their_newer)
    assert response.status_code == 404
    assert response.json()["detail"] in (
        "The customer was not found.",
        "The duplicate pair was not found.",
    )
    theirs = as_user(other_tenant.viewer)
    assert len(queue(client, theirs).json()) == 1
    assert len(queue(client, as_user(tenant.viewer)).json()) == 1


def test_the_routes_are_documented(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    merge_doc = paths["/api/customers/merge"]["post"]
    assert {"200", "403", "404", "412", "428"} <= set(merge_doc["responses"])
    assert any(p["name"] == "if-match" for p in merge_doc["parameters"])
    assert "get" in paths["/api/customers/duplicates"]
    assert "post" in paths["/api/customers/duplicates/{pair_id}/dismiss"]
