"""Workbooks over HTTP: .xlsx/.ods import (with ``sheet`` and ``mapping``), .xlsx export."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from python_calamine import CalamineWorkbook

from data.xlsx_export import XLSX_MEDIA_TYPE
from tests.data.spreadsheets import ods, sparse_xlsx, xlsx

BOOK = {
    "Cover": [["Customer list"]],
    "Kunden": [
        ["Exported 2026-01-05"],
        [],
        ["Kontakt", "E-Mail", "Handy", "Notiz"],
        ["Ann Lee", "ann@example.com", 4917155550100, "vip"],
        ["Bob", "bob(at)example.com", None, None],
    ],
}
XLSX_TYPE = XLSX_MEDIA_TYPE


def upload(client, headers, data: bytes, name: str, mapping=None, **params):  # type: ignore[no-untyped-def]
    form = {"mapping": json.dumps(mapping)} if mapping is not None else None
    return client.post(
        "/api/customers/import",
        params=params,
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers=headers,
    )


def emails(client, headers) -> dict[str, dict]:  # type: ignore[no-untyped-def, type-arg]
    return {c["email"]: c for c in client.get("/api/customers", headers=headers).json()}


@pytest.mark.parametrize("kind", ["xlsx", "ods"])
def test_a_workbook_imports_with_a_sheet_and_a_mapping(client, tenant, as_user, kind):
    maker = xlsx if kind == "xlsx" else ods
    headers = as_user(tenant.editor)
    response = upload(
        client,
        headers,
        maker(BOOK),
        f"kunden.{kind}",
        mapping={"Kontakt": "name", "Notiz": ""},
        sheet="Kunden",
        partial="true",
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["format"], result["sheet"], result["headerLine"]) == (kind, "Kunden", 3)
    assert (result["created"], result["invalid"], result["written"]) == (1, 1, True)
    assert result["errors"][0]["line"] == 5  # the sheet's row
    assert result["feeds"] == {"name": ["Kontakt"], "email": ["E-Mail"], "phone": ["Handy"]}
    assert emails(client, headers)["ann@example.com"]["phone"] == "4917155550100"


def test_a_refused_workbook_import_says_nothing_was_written(client, tenant, as_user):
    headers = as_user(tenant.editor)
    mapping = {"Kontakt": "name"}
    result = upload(client, headers, xlsx(BOOK), "k.xlsx", mapping, sheet="Kunden").json()
    assert result["summary"] == "created=0 updated=0 skipped=0 invalid=1 refused=1"
    assert (result["written"], result["refused"], result["created"]) == (False, True, 0)
    assert result["would"] == {"create": 1, "update": 0, "unchanged": 0, "skip": 0}


@pytest.mark.parametrize(
    ("mapping", "params", "field"),
    [
        pytest.param("not json", {}, "mapping", id="mapping-not-json"),
        pytest.param('["Handy"]', {}, "mapping", id="mapping-not-an-object"),
        pytest.param(json.dumps({"Handy": "phon"}), {}, None, id="unknown-field"),
        pytest.param(json.dumps({"Mobil": "phone"}), {}, None, id="unknown-column"),
        pytest.param(None, {"sheet": "Nope"}, None, id="unknown-sheet"),
    ],
)
def test_a_bad_mapping_or_sheet_is_422_with_one_sentence(
    client, tenant, as_user, mapping, params, field
):
    form = {"mapping": mapping} if mapping is not None else None
    response = client.post(
        "/api/customers/import",
        params=params,
        files={"file": ("k.xlsx", xlsx(BOOK), "application/octet-stream")},
        data=form,
        headers=as_user(tenant.editor),
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"].endswith(".")
    if field:
        assert field in body["errors"]
    assert emails(client, as_user(tenant.viewer)) == {}


def test_a_workbook_that_unpacks_into_gigabytes_is_422_and_the_server_goes_on(
    client, tenant, as_user
):
    response = upload(client, as_user(tenant.editor), sparse_xlsx(), "bomb.xlsx")
    assert response.status_code == 422
    assert "save it as CSV" in response.json()["detail"]
    assert client.get("/api/customers", headers=as_user(tenant.viewer)).status_code == 200


@pytest.mark.parametrize(
    ("params", "accept"),
    [({"format": "xlsx"}, None), ({}, XLSX_TYPE)],
    ids=["format-parameter", "accept-header"],
)
def test_export_as_a_workbook(client, tenant, as_user, add_customers, params, accept):
    created = add_customers(tenant, 6)
    headers = as_user(tenant.viewer) | ({"Accept": accept} if accept else {})
    response = client.get("/api/customers/export", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX_TYPE
    assert 'filename="customers.xlsx"' in response.headers["content-disposition"]
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    assert book.sheet_names == ["Customers"]
    rows = book.get_sheet_by_name("Customers").to_python()
    assert rows[0] == ["name", "email", "phone", "address", "created_at", "updated_at", "id"]
    assert {row[6] for row in rows[1:]} == {c.id for c in created}
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert 'state="frozen"' in archive.read("xl/worksheets/sheet1.xml").decode()


def test_an_exported_workbook_reimports_with_no_changes(client, tenant, as_user, add_customers):
    add_customers(tenant, 5)
    headers = as_user(tenant.editor)
    book = client.get("/api/customers/export", params={"format": "xlsx"}, headers=headers)
    result = upload(client, headers, book.content, "customers.xlsx", mode="upsert").json()
    assert (result["would"]["unchanged"], result["updated"], result["invalid"]) == (5, 0, 0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"format": "pdf"}, "format", id="unknown-format"),
        pytest.param({"format": "xlsx", "bom": "true"}, "bom", id="bom-with-xlsx"),
    ],
)
def test_bad_export_format_parameters_are_422(client, tenant, as_user, params, field):
    response = client.get("/api/customers/export", params=params, headers=as_user(tenant.viewer))
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_a_workbook_export_too_large_for_a_sheet_is_422_not_a_broken_file(
    client, tenant, as_user, add_customers, monkeypatch
):
    import data.xlsx_export

    add_customers(tenant, 3)
    monkeypatch.setattr(data.xlsx_export, "XLSX_MAX_ROWS", 2)
    response = client.get(
        "/api/customers/export", params={"format": "xlsx"}, headers=as_user(tenant.viewer)
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("3 customers do not fit in one Excel sheet")
