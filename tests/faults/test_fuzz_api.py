"""Garbage bodies on every API route, fuzzed with hypothesis (SPEC §9: never a 500).

Every operation of ``/openapi.json`` gets arbitrary JSON (any shape, deep, huge numbers,
NaN, unknown fields, wrong types), JSON-looking bytes that are not JSON, and random
bytes, under any Content-Type, with a valid editor token.  The answer is never a 500:
either the work succeeds (and then stores exactly what the customer rules make of the
body) or it is refused with the API's JSON error and one sentence.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.main import create_app
from data.credentials import decode_token, issue_token
from data.errors import Invalid
from data.fields import FIELD_NAMES
from data.schemas import validate_customer
from tests.api.conftest import fake_client_address

FUZZ = settings(
    max_examples=75,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def operations() -> list[tuple[str, str]]:
    paths = create_app().openapi()["paths"]
    return [(method.upper(), path) for path, methods in paths.items() for method in methods]


FIELDS = ["name", "email", "phone", "address", "username", "password", "id", "tenantId"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "a@b.co", "x" * 300, "Robert'); DROP TABLE customers;--"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=15,
)
customer_like = st.fixed_dictionaries(
    {}, optional=dict.fromkeys(FIELDS[:6], json_values)
) | st.fixed_dictionaries(
    {"name": st.text(max_size=40), "email": st.emails() | st.text(max_size=40)},
    optional={"phone": scalars, "address": scalars, "extra": json_values},
)
credentials = st.fixed_dictionaries(
    {"username": st.text(max_size=200) | scalars, "password": st.text(max_size=100) | scalars}
)
RAW = [
    b"",
    b"{",
    b"[" * 5000 + b"]" * 5000,
    b'{"name": ' + b"9" * 5000 + b"}",
    b'{"name": 1e999999}',
    b'{"name": NaN, "email": Infinity}',
    b'{"name": "\\ud800", "email": "a@b.co"}',
    b'{"name": "a\\u0000b", "email": "a@b.co"}',
    b'{"name": "x", "name": "y", "email": "a@b.co"}',
    b"\xff\xfe{\x00}\x00",
    b"null",
]
bodies = (
    json_values.map(lambda v: json.dumps(v).encode())
    | customer_like.map(lambda v: json.dumps(v).encode())
    | credentials.map(lambda v: json.dumps(v).encode())
    | st.sampled_from(RAW)
    | st.binary(max_size=64)
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        None,
    ]
)


@pytest.fixture
def fuzz_client(database):  # type: ignore[no-untyped-def]
    with TestClient(
        create_app(database), client=fake_client_address(), raise_server_exceptions=False
    ) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda v: str(v).strip("/"))
def test_garbage_bodies_on_every_route_are_answered_without_a_500(
    fuzz_client, database, customers_of, tenant, method, path
):
    token, _ = issue_token(database, tenant.editor)

    @settings(FUZZ)
    @given(body=bodies, content_type=content_types)
    def call(body: bytes, content_type: str | None) -> None:
        target = path
        if "{customer_id}" in path:
            with customers_of(tenant, write=True) as repository:
                made = repository.create(
                    {"name": "Fuzz target", "email": f"fuzz-{uuid.uuid4().hex[:10]}@example.com"}
                )
            target = path.replace("{customer_id}", made.id)
        if "{credential_id}" in path:  # a spare token of the editor's, to be revoked
            spare, _ = issue_token(database, tenant.editor)
            target = path.replace("{credential_id}", decode_token(spare)[0].credential_id or "")
        headers = {"Authorization": f"Bearer {token}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = fuzz_client.request(method, target, content=body, headers=headers)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            problem = response.json()
            detail = problem["detail"]
            assert isinstance(detail, str)
            assert detail
            assert "\n" not in detail
            assert "Traceback" not in detail
            assert problem["requestId"] == response.headers["X-Request-ID"]
            return
        if method in ("POST", "PUT") and path in ("/api/customers", "/api/customers/{customer_id}"):
            assert_stored_as_the_rules_say(json.loads(body), response.json())

    call()


def assert_stored_as_the_rules_say(body: Any, answer: dict[str, Any]) -> None:
    try:
        clean = validate_customer(body)
    except Invalid as exc:  # pragma: no cover - the API accepted what the rules refuse
        pytest.fail(f"the API stored a body the rules refuse: {exc}")
    assert {f: answer[f] for f in FIELD_NAMES} == clean.fields()
