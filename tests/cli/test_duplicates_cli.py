"""``manage.py duplicates``, ``set-region`` and ``create-tenant --region`` (issue 16).

Run as the operator runs them (a subprocess); the pairs come out as CSV on stdout, the
exit codes are SPEC §6's: 0 done, 1 refused (an unknown tenant), 2 usage.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy import text

from manage import DUPLICATES_HEADER
from tests.cli.test_manage import assert_error, assert_ok, manage, unique

JURGEN = {"name": "Jürgen Groß", "email": "jgross@firma.de", "phone": "+49 151 1234567"}
JUERGEN = {"name": "Juergen Gross", "email": "j.gross@firma.de", "phone": "0151 1234567"}
FORMULA = {"name": "=HYPERLINK(1)", "email": "x@formula.example", "phone": "+49 30 1234567"}
FORMULA_TWIN = {"name": "@SUM(1)", "email": "y@other.example", "phone": "030 1234567"}


def rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def test_duplicates_prints_the_pairs_as_csv_best_first(
    test_database: Any, make_tenant: Any, customers_of: Any
) -> None:
    tenant = make_tenant()
    assert_ok(manage("set-region", "DE", "--tenant", tenant.id, url=test_database.url))
    with customers_of(tenant, write=True) as customers:
        first = customers.create(JURGEN)
        second = customers.create(JUERGEN)
        customers.create(FORMULA)
        customers.create(FORMULA_TWIN)
    result = manage("duplicates", "--tenant", tenant.name, url=test_database.url)
    lines = assert_ok(result)
    assert lines[0] == ",".join(DUPLICATES_HEADER)
    found = rows(result.stdout)
    assert [row["score"] for row in found] == ["95", "40"]
    best = found[0]
    assert best["reasons"] == "same_phone similar_name same_email_domain"
    assert {best["id_1"], best["id_2"]} == {first.id, second.id}
    assert {best["name_1"], best["name_2"]} == {JURGEN["name"], JUERGEN["name"]}
    # A spreadsheet must not run a name as a formula.
    assert {found[1]["name_1"], found[1]["name_2"]} == {"'=HYPERLINK(1)", "'@SUM(1)"}
    strong = manage("duplicates", "--tenant", tenant.id, "--min-score", "50", url=test_database.url)
    assert [row["score"] for row in rows(assert_ok(strong) and strong.stdout)] == ["95"]


def test_rebuild_says_what_it_found_on_stderr(
    test_database: Any, make_tenant: Any, seed_customers: Any
) -> None:
    tenant = make_tenant()
    seed_customers(tenant.id, [JURGEN, JURGEN | {"email": "other@firma.de"}])
    result = manage("duplicates", "--tenant", tenant.id, "--rebuild", url=test_database.url)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"Found 1 suspected pairs for the tenant in [0-9.]+ s\.\n", result.stderr
    ), result.stderr
    assert len(rows(result.stdout)) == 1


def test_set_region_computes_the_phone_keys_again(
    database: Any, test_database: Any, make_tenant: Any, customers_of: Any
) -> None:
    tenant = make_tenant()
    with customers_of(tenant, write=True) as customers:
        customers.create(JURGEN)
        customers.create(JUERGEN | {"name": "Someone Else", "email": "else@else.example"})
    before = manage("duplicates", "--tenant", tenant.id, url=test_database.url)
    assert rows(assert_ok(before) and before.stdout) == []  # 0151… is not +49151… yet
    result = manage("set-region", "de", "--tenant", tenant.name, url=test_database.url)
    [line] = assert_ok(result)
    assert line.startswith(f"The default phone region of {tenant.name} is now DE; the keys ")
    after = manage("duplicates", "--tenant", tenant.id, url=test_database.url)
    [pair] = rows(assert_ok(after) and after.stdout)
    assert pair["reasons"] == "same_phone"
    with database.transaction(tenant.id) as session:
        region = session.execute(
            text("SELECT phone_region FROM tenants WHERE id = :t"), {"t": tenant.id}
        ).scalar_one()
    assert region == "DE"


def test_create_tenant_takes_a_region(database: Any, test_database: Any) -> None:
    name = unique("regional")
    [tenant_id] = assert_ok(manage("create-tenant", name, "--region", "at", url=test_database.url))
    with database.transaction(tenant_id) as session:
        region = session.execute(
            text("SELECT phone_region FROM tenants WHERE id = :t"), {"t": tenant_id}
        ).scalar_one()
    assert region == "AT"


def test_an_unknown_tenant_is_refused_with_exit_1(test_database: Any) -> None:
    for command in (["duplicates"], ["set-region", "DE"]):
        assert_error(
            manage(*command, "--tenant", unique("nobody"), url=test_database.url),
            1,
            re.compile(r"The tenant '.*' was not found\.$"),
        )


def test_usage_errors_exit_2(test_database: Any, tenant: Any) -> None:
    url = test_database.url
    assert_error(
        manage("duplicates", "--tenant", tenant.id, "--min-score", "high", url=url),
        2,
        re.compile(r"'high' is not a score from 0 to 100"),
    )
    assert_error(
        manage("set-region", "Germany", "--tenant", tenant.id, url=url),
        2,
        re.compile(r"'GERMANY' is not a region code"),
    )
    assert_error(
        manage("create-tenant", unique("x"), "--region", "XX", url=url),
        2,
        re.compile(r"'XX' is not a region code"),
    )
