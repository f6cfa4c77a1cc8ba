"""Duplicate keys and pairs kept current by every write path (issue 16), on both databases.

Every path that writes a customer — create, update, delete, restore, import (create and
upsert), an import's undo, merge and its undo — stores the keys ``data.duplicates.keys``
makes of the values with the tenant's phone region, and leaves the tenant's pairs as the
finder would find them now.  A dismissed pair stays dismissed whatever happens.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from data.duplicates.bulk import rebuild
from data.duplicates.records import Reason
from data.importing import undo_import
from tests.data.duplicate_fixtures import expected_keys, ids_of

JURGEN = {"name": "Jürgen Groß", "email": "jgross@firma.de", "phone": "+49 151 1234567"}
JUERGEN = {"name": "Juergen Gross", "email": "j.gross@firma.de", "phone": "0151 1234567"}
STRANGER = {"name": "Maria Lopez", "email": "maria@lopez.example", "phone": "030 7654321"}
HEADER = "name,email,phone,address\n"


def csv_rows(*records: dict[str, Any]) -> str:
    return HEADER + "".join(
        f"{r['name']},{r['email']},{r.get('phone') or ''},{r.get('address') or ''}\n"
        for r in records
    )


# --- keys on every write path ------------------------------------------------------------


def test_create_and_update_store_the_keys_with_the_tenants_region(
    de_tenant: Any, customers_of: Any, stored_keys: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        created = customers.create(JUERGEN)
    assert stored_keys(de_tenant, created.id) == expected_keys(JUERGEN, "DE")
    assert stored_keys(de_tenant, created.id)["phone_key"] == "+491511234567"
    changed = JUERGEN | {"phone": "(030) 12 34 56 7", "address": "Hauptstr. 1\n10115 Berlin"}
    with customers_of(de_tenant, write=True) as customers:
        customers.update(created.id, changed)
    assert stored_keys(de_tenant, created.id) == expected_keys(changed, "DE")
    assert stored_keys(de_tenant, created.id)["address_key"] == "1 10115 berlin hauptstr"


def test_the_customer_as_entered_is_never_changed_by_its_keys(
    de_tenant: Any, customers_of: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        created = customers.create(JUERGEN | {"email": "J.Gross+Shop@GoogleMail.com"})
    with customers_of(de_tenant) as customers:
        assert customers.get(created.id).fields() == JUERGEN | {
            "email": "J.Gross+Shop@GoogleMail.com",
            "address": None,
        }


def test_a_tenant_without_a_region_compares_national_numbers_by_their_digits(
    tenant: Any, customers_of: Any, stored_keys: Any
) -> None:
    with customers_of(tenant, write=True) as customers:
        national = customers.create(JUERGEN | {"phone": "0151 1234567"})
        international = customers.create(STRANGER | {"phone": "+49 151 1234567"})
    assert stored_keys(tenant, national.id)["phone_key"] == "01511234567"
    assert stored_keys(tenant, international.id)["phone_key"] == "+491511234567"


def test_restore_stores_the_keys_again(de_tenant: Any, customers_of: Any, stored_keys: Any) -> None:
    with customers_of(de_tenant, write=True) as customers:
        created = customers.create(JUERGEN)
        customers.delete(created.id)
    with customers_of(de_tenant, write=True) as customers:
        customers.restore(created.id)
    assert stored_keys(de_tenant, created.id) == expected_keys(JUERGEN, "DE")


def test_an_import_and_its_undo_store_the_keys(
    de_tenant: Any, customers_of: Any, stored_keys: Any, import_csv: Any, scope_of: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        existing = customers.create(JURGEN)
    changed = JURGEN | {"phone": "0170 7654321", "address": "Königstraße 3"}
    summary = import_csv(de_tenant, csv_rows(changed, STRANGER), mode="upsert")
    assert (summary.created, summary.updated) == (1, 1)
    assert stored_keys(de_tenant, existing.id) == expected_keys(changed, "DE")
    with customers_of(de_tenant) as customers:
        stranger = customers.find_by_email(STRANGER["email"])
    assert stranger is not None
    assert stored_keys(de_tenant, stranger.id) == expected_keys(STRANGER, "DE")
    with scope_of(de_tenant, write=True) as scope:
        undo_import(scope, summary.import_id)
    assert stored_keys(de_tenant, existing.id) == expected_keys(JURGEN, "DE")
    assert stored_keys(de_tenant, stranger.id) is None


def test_large_imports_compute_the_keys_in_the_validation_workers_with_the_region(
    de_tenant: Any, stored_keys: Any, import_csv: Any, customers_of: Any
) -> None:
    rows = [
        {"name": f"Kunde {i}", "email": f"k{i}@firma{i % 7}.de", "phone": f"0151 {1000000 + i}"}
        for i in range(300)
    ]
    summary = import_csv(de_tenant, csv_rows(*rows), parallel_min_bytes=1, batch_rows=50)
    assert summary.created == 300
    with customers_of(de_tenant) as customers:
        some = customers.find_by_email("k123@firma4.de")
    assert some is not None
    assert stored_keys(de_tenant, some.id) == expected_keys(rows[123], "DE")
    assert stored_keys(de_tenant, some.id)["phone_key"] == "+491511000123"


def test_set_region_and_a_rebuild_compute_the_phone_keys_again(
    tenant: Any, customers_of: Any, stored_keys: Any, set_region: Any, scope_of: Any
) -> None:
    with customers_of(tenant, write=True) as customers:
        created = customers.create(JUERGEN)
    assert stored_keys(tenant, created.id)["phone_key"] == "01511234567"
    set_region(tenant, "de")
    with scope_of(tenant, write=True) as scope:
        result = rebuild(scope, rekey_first=True)
    assert result.rekeyed == 1
    assert stored_keys(tenant, created.id) == expected_keys(JUERGEN, "DE")


# --- pairs after each write --------------------------------------------------------------


def test_the_issues_two_spellings_become_a_pair_when_the_second_is_added(
    de_tenant: Any, customers_of: Any, pairs_of: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        first = customers.create(JURGEN)
        customers.create(STRANGER)
    assert pairs_of(de_tenant) == []
    with customers_of(de_tenant, write=True) as customers:
        second = customers.create(JUERGEN)
    [pair] = pairs_of(de_tenant)
    assert {pair.first.id, pair.second.id} == {first.id, second.id}
    assert pair.reasons == (Reason.SAME_PHONE, Reason.SIMILAR_NAME, Reason.SAME_EMAIL_DOMAIN)
    assert pair.score == 95
    assert pair.differing() == ["name", "email", "phone"]


def test_an_update_that_ends_the_likeness_removes_the_pair_and_one_that_makes_it_adds_it(
    de_tenant: Any, customers_of: Any, pairs_of: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        first = customers.create(JURGEN)
        second = customers.create(JUERGEN)
    assert len(pairs_of(de_tenant)) == 1
    with customers_of(de_tenant, write=True) as customers:
        customers.update(second.id, STRANGER)
    assert pairs_of(de_tenant) == []
    with customers_of(de_tenant, write=True) as customers:
        customers.update(second.id, JUERGEN | {"phone": None})
    [pair] = pairs_of(de_tenant)
    assert {pair.first.id, pair.second.id} == {first.id, second.id}
    assert pair.reasons == (Reason.SIMILAR_NAME, Reason.SAME_EMAIL_DOMAIN)


def test_deleting_a_customer_removes_its_pairs_and_restoring_finds_them_again(
    de_tenant: Any, customers_of: Any, pairs_of: Any, database: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        customers.create(JURGEN)
        second = customers.create(JUERGEN)
        customers.delete(second.id)
    assert pairs_of(de_tenant) == []
    with database.transaction(de_tenant.id) as session:
        stored = session.execute(
            text("SELECT count(*) FROM duplicate_pairs WHERE tenant_id = :t"), {"t": de_tenant.id}
        ).scalar_one()
    assert stored == 0  # gone from the table, not only hidden from the queue
    with customers_of(de_tenant, write=True) as customers:
        customers.restore(second.id)
    assert len(pairs_of(de_tenant)) == 1


def test_a_dismissed_pair_stays_dismissed_through_edits_rebuilds_and_restores(
    de_tenant: Any, customers_of: Any, pairs_of: Any, scope_of: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        customers.create(JURGEN)
        second = customers.create(JUERGEN)
    [pair] = pairs_of(de_tenant)
    with scope_of(de_tenant, write=True) as scope:
        dismissed = scope.duplicates.dismiss(pair.id)
        assert dismissed.status == "dismissed"
        assert scope.duplicates.dismiss(pair.id).status == "dismissed"  # idempotent
    assert pairs_of(de_tenant) == []
    with customers_of(de_tenant, write=True) as customers:
        customers.update(second.id, JUERGEN | {"address": "Hauptstraße 1"})
        customers.delete(second.id)
    with customers_of(de_tenant, write=True) as customers:
        customers.restore(second.id)
    with scope_of(de_tenant, write=True) as scope:
        rebuild(scope, rekey_first=True)
        assert scope.duplicates.get(pair.id).status == "dismissed"
    assert pairs_of(de_tenant) == []


def test_an_import_finds_pairs_with_existing_customers_and_among_its_rows(
    de_tenant: Any, customers_of: Any, pairs_of: Any, import_csv: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        jurgen = customers.create(JURGEN)
        customers.create(STRANGER)
    ann = {"name": "Ann Lee", "email": "ann.lee@gmail.com"}
    ann_again = {"name": "A. Lee", "email": "annlee+shop@googlemail.com"}
    summary = import_csv(de_tenant, csv_rows(JUERGEN, ann, ann_again))
    assert summary.created == 3
    found = pairs_of(de_tenant)
    names = {frozenset((p.first.name, p.second.name)): p for p in found}
    assert set(names) == {
        frozenset(("Jürgen Groß", "Juergen Gross")),
        frozenset(("Ann Lee", "A. Lee")),
    }
    assert names[frozenset(("Ann Lee", "A. Lee"))].reasons == (Reason.SAME_EMAIL,)
    assert jurgen.id in {p.first.id for p in found} | {p.second.id for p in found}


def test_undoing_an_import_takes_its_pairs_with_it(
    de_tenant: Any, customers_of: Any, pairs_of: Any, import_csv: Any, scope_of: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        customers.create(JURGEN)
    summary = import_csv(de_tenant, csv_rows(JUERGEN))
    assert len(pairs_of(de_tenant)) == 1
    with scope_of(de_tenant, write=True) as scope:
        undo_import(scope, summary.import_id)
    assert pairs_of(de_tenant) == []


def test_an_import_into_an_empty_tenant_finds_its_pairs_with_a_rebuild(
    de_tenant: Any, pairs_of: Any, import_csv: Any
) -> None:
    summary = import_csv(de_tenant, csv_rows(JURGEN, JUERGEN, STRANGER))
    assert summary.created == 3
    assert len(pairs_of(de_tenant)) == 1


def test_seeding_finds_no_pairs_and_a_rebuild_finds_what_writes_would(
    de_tenant: Any, seed_customers: Any, pairs_of: Any, scope_of: Any, stored_keys: Any
) -> None:
    ids = seed_customers(de_tenant.id, [JURGEN, JUERGEN, STRANGER])
    assert stored_keys(de_tenant, ids[1]) == expected_keys(JUERGEN, "DE")
    assert pairs_of(de_tenant) == []
    with scope_of(de_tenant, write=True) as scope:
        result = rebuild(scope)
    assert result.pairs == 1
    assert result.chunked_groups == 0
    assert "Found 1 suspected pairs" in result.sentence()
    assert ids_of(pairs_of(de_tenant)) == {frozenset(ids[:2])}


def test_the_import_preview_flags_rows_that_look_like_an_existing_customer(
    de_tenant: Any, customers_of: Any, import_csv: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        customers.create(JURGEN)
        customers.create({"name": "Ann Lee", "email": "ann.lee@gmail.com"})
    file = csv_rows(
        JUERGEN,  # same phone, similar name, same company domain
        {"name": "Ann Lee", "email": "ann.lee@gmail.com", "phone": "0171 1111111"},  # email
        {"name": "A. Lee", "email": "annlee+news@googlemail.com"},  # the same mailbox
        STRANGER,
    )
    summary = import_csv(de_tenant, file, mode="upsert", dry_run=True, sample_rows=10)
    assert summary.actions == {2: "create", 3: "update", 4: "create", 5: "create"}
    flags = summary.likely_duplicates
    assert set(flags) == {2, 4}  # line 3 matches by its email alone: that is its update
    assert flags[2] == (
        "Looks like Jürgen Groß (same phone, similar name, same company email domain)"
    )
    assert flags[4].startswith("Looks like Ann Lee (same email")


def test_a_name_that_folds_to_nothing_still_pairs_by_phone(
    de_tenant: Any, customers_of: Any, pairs_of: Any
) -> None:
    with customers_of(de_tenant, write=True) as customers:
        customers.create({"name": "?!", "email": "x@one.example", "phone": "0151 7777777"})
        customers.create({"name": "Zed", "email": "z@two.example", "phone": "+49 151 7777777"})
    [pair] = pairs_of(de_tenant)
    assert pair.reasons == (Reason.SAME_PHONE,)


def test_in_a_large_group_a_write_compares_the_nearest_names(
    de_tenant: Any, seed_customers: Any, customers_of: Any, pairs_of: Any
) -> None:
    """A company domain of 300 customers: the new one pairs with its namesake there."""
    crowd = [
        {
            "name": f"Person {chr(65 + i % 26)}{chr(65 + i // 26 % 26)}x{i}",
            "email": f"p{i}@big.example",
        }
        for i in range(300)
    ]
    seed_customers(de_tenant.id, [*crowd, {"name": "Jürgen Groß", "email": "jg@big.example"}])
    with customers_of(de_tenant, write=True) as customers:
        created = customers.create({"name": "Juergen Gross", "email": "j.gross@big.example"})
    [pair] = pairs_of(de_tenant)
    assert created.id in (pair.first.id, pair.second.id)
    assert pair.reasons == (Reason.SIMILAR_NAME, Reason.SAME_EMAIL_DOMAIN)
