"""CSV import and export over HTTP: the same engine as the dashboard and the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest

import api.main
from api.main import create_app
from config import get_settings
from tests.api.conftest import fake_client_address

CSV = (
    "Customer Name,E-mail,Telephone,Address\n"
    'Ada Lovelace,ada@example.com,+44 20 1234,"12 St James\'s Square\nLondon"\n'
    "Bob Builder,bob@example.com,,\n"
)
WITH_INVALID = CSV + "Nobody,not-an-email,,\n"


def upload(client, headers, content: str | bytes, **params):  # type: ignore[no-untyped-def]
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/api/customers/import",
        params=params,
        files={"file": ("customers.csv", data, "text/csv")},
        headers=headers,
    )


def listed(client, headers) -> dict[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    return {c["email"]: c for c in client.get("/api/customers", headers=headers).json()}


def test_import_creates_customers_and_answers_a_summary(client, tenant, as_user):
    headers = as_user(tenant.editor)
    response = upload(client, headers, CSV)

    assert response.status_code == 200
    result = response.json()
    assert (result["created"], result["invalid"], result["rows"]) == (2, 0, 2)
    assert result["written"] is True
    assert result["summary"] == "created=2 updated=0 skipped=0 invalid=0"
    assert result["mapping"]["E-mail"] == "email"
    assert result["importId"]
    customers = listed(client, headers)
    assert set(customers) == {"ada@example.com", "bob@example.com"}
    assert customers["ada@example.com"]["address"] == "12 St James's Square\nLondon"


def test_an_import_with_invalid_rows_writes_nothing_and_lists_the_errors(client, tenant, as_user):
    headers = as_user(tenant.editor)
    result = upload(client, headers, WITH_INVALID).json()

    assert result["written"] is False
    assert result["refused"] is True
    assert result["invalid"] == 1
    assert result["errors"] == [
        {"line": 5, "field": "email", "message": result["errors"][0]["message"]}
    ]
    assert "Email" in result["errors"][0]["message"]
    assert listed(client, headers) == {}


def test_a_partial_import_writes_the_valid_rows(client, tenant, as_user):
    headers = as_user(tenant.editor)
    result = upload(client, headers, WITH_INVALID, partial="true").json()
    assert (result["written"], result["created"], result["invalid"]) == (True, 2, 1)
    assert set(listed(client, headers)) == {"ada@example.com", "bob@example.com"}


def test_a_dry_run_reports_and_writes_nothing(client, tenant, as_user):
    headers = as_user(tenant.editor)
    result = upload(client, headers, CSV, dryRun="true").json()
    assert (result["dryRun"], result["written"], result["created"]) == (True, False, 0)
    assert result["would"]["create"] == 2  # what was written is 0; what would be, here
    assert result["summary"] == "would_create=2 would_update=0 would_skip=0 invalid=0"
    assert listed(client, headers) == {}


@pytest.mark.parametrize(
    ("mode", "created", "updated", "skipped", "bob_name"),
    [
        pytest.param("upsert", 1, 1, 0, "Robert Builder", id="upsert"),
        pytest.param("skip", 1, 0, 1, "Bob Builder", id="skip"),
    ],
)
def test_import_modes_for_existing_emails(
    client, tenant, as_user, mode, created, updated, skipped, bob_name
):
    headers = as_user(tenant.editor)
    upload(client, headers, "name,email\nBob Builder,BOB@example.com\n")
    result = upload(
        client,
        headers,
        "name,email\nRobert Builder,bob@example.com\nCarla,carla@example.com\n",
        mode=mode,
    ).json()
    assert (result["created"], result["updated"], result["skipped"]) == (
        created,
        updated,
        skipped,
    )
    assert (
        listed(client, headers)["BOB@example.com" if mode == "skip" else "bob@example.com"]["name"]
        == bob_name
    )


def test_create_mode_reports_existing_emails_as_errors(client, tenant, as_user):
    headers = as_user(tenant.editor)
    upload(client, headers, "name,email\nBob,bob@example.com\n")
    result = upload(client, headers, "name,email\nBobby,bob@example.com\n").json()
    assert result["written"] is False
    assert result["errors"][0]["line"] == 2


def test_an_upsert_never_touches_another_tenants_customer_with_that_email(
    client, tenant, other_tenant, as_user
):
    theirs = upload(client, as_user(other_tenant.editor), "name,email\nTheirs,x@example.com\n")
    assert theirs.json()["created"] == 1
    mine = upload(client, as_user(tenant.editor), "name,email\nMine,x@example.com\n", mode="upsert")
    assert (mine.json()["created"], mine.json()["updated"]) == (1, 0)
    assert listed(client, as_user(other_tenant.viewer))["x@example.com"]["name"] == "Theirs"
    assert listed(client, as_user(tenant.viewer))["x@example.com"]["name"] == "Mine"


@pytest.mark.parametrize(
    ("content", "status", "field"),
    [
        pytest.param(b"", 422, None, id="empty-file"),
        pytest.param(b"\x00\x01\x02\xff" * 100, 422, None, id="binary"),
        pytest.param(b'name,email\n"never closed,a@example.com\n', 422, None, id="open-quote"),
    ],
)
def test_unreadable_files_get_one_sentence(client, tenant, as_user, content, status, field):
    response = upload(client, as_user(tenant.editor), content)
    assert response.status_code == status
    assert response.json()["detail"].endswith(".")


def test_an_upload_without_the_file_field_is_422(client, tenant, as_user):
    response = client.post(
        "/api/customers/import", data={"other": "x"}, headers=as_user(tenant.editor)
    )
    assert response.status_code == 422
    assert "file" in response.json()["errors"]


def test_a_broken_multipart_body_is_400(client, tenant, as_user):
    headers = as_user(tenant.editor) | {"Content-Type": "multipart/form-data; boundary=zz"}
    response = client.post("/api/customers/import", content=b"not multipart", headers=headers)
    assert response.status_code == 400


def test_an_unknown_mode_is_422(client, tenant, as_user):
    response = upload(client, as_user(tenant.editor), CSV, mode="merge")
    assert response.status_code == 422
    assert "mode" in response.json()["errors"]


def test_an_upload_over_the_limit_is_413(database, tenant, as_user, monkeypatch):
    small = dataclasses.replace(get_settings(), max_upload_mb=1)
    monkeypatch.setattr(api.main, "get_settings", lambda: small)
    from fastapi.testclient import TestClient

    with TestClient(create_app(database), client=fake_client_address()) as client:
        big = "name,email\n" + "".join(f"N{i},n{i}@example.com\n" for i in range(60_000))
        response = upload(client, as_user(tenant.editor), big)
        assert response.status_code == 413
        assert "1 MiB" in response.json()["detail"]
        assert listed(client, as_user(tenant.viewer)) == {}


# -- export ---------------------------------------------------------------------------


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_streams_the_tenants_customers_as_csv(client, tenant, as_user, add_customers):
    created = add_customers(tenant, 7)
    response = client.get("/api/customers/export", headers=as_user(tenant.viewer))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = rows_of(response.text)
    assert list(rows[0]) == ["name", "email", "phone", "address", "created_at", "updated_at", "id"]
    assert {row["id"] for row in rows} == {c.id for c in created}


def test_export_of_a_search_and_with_bom(client, tenant, as_user, create_customer):
    wanted = create_customer(tenant, name="Hiro Nakamura")
    create_customer(tenant, name="Anna Schmidt")
    response = client.get(
        "/api/customers/export",
        params={"search": "nakamura", "bom": "true"},
        headers=as_user(tenant.viewer),
    )
    assert response.content.startswith("\ufeff".encode())
    assert [row["id"] for row in rows_of(response.content.decode("utf-8-sig"))] == [wanted["id"]]


def test_an_export_reimports_with_no_changes(client, tenant, as_user, add_customers):
    add_customers(tenant, 5)
    headers = as_user(tenant.editor)
    exported = client.get("/api/customers/export", headers=headers).content
    result = upload(client, headers, exported, mode="upsert").json()
    assert (result["unchanged"], result["created"], result["updated"], result["invalid"]) == (
        5,
        0,
        0,
        0,
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"search": "x" * 201}, "search", id="search-too-long"),
        pytest.param({"search": "a\x00b"}, "search", id="search-nul"),
        pytest.param({"bom": "perhaps"}, "bom", id="bom-not-boolean"),
    ],
)
def test_bad_export_parameters_are_422(client, tenant, as_user, params, field):
    response = client.get("/api/customers/export", params=params, headers=as_user(tenant.viewer))
    assert response.status_code == 422
    assert field in response.json()["errors"]
