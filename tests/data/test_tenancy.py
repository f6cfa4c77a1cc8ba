"""Tenants: names, lookups by id or name, and what no database can store."""

from __future__ import annotations

import uuid

import pytest

from data.errors import Conflict, Invalid, NotFound
from data.tenancy import create_tenant, find_tenant, get_tenant


def new_name() -> str:
    return f"Tenant {uuid.uuid4().hex[:10]}"


def test_a_tenant_is_found_by_id_and_by_name_in_any_case(database):
    name = new_name()
    with database.transaction(None, write=True) as session:
        created = create_tenant(session, f"  {name} ")
    assert created.name == name
    with database.transaction(None) as session:
        assert find_tenant(session, created.id) == created
        assert find_tenant(session, name.upper()) == created
        assert find_tenant(session, "") is None
        assert find_tenant(session, str(uuid.uuid4())) is None


def test_a_taken_name_is_a_conflict_whatever_its_case(database):
    name = new_name()
    with database.transaction(None, write=True) as session:
        create_tenant(session, name)
    with database.transaction(None, write=True) as session, pytest.raises(Conflict) as caught:
        create_tenant(session, name.lower())
    assert caught.value.field == "name"


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("", "Tenant name is required."),
        (" \t", "Tenant name is required."),
        ("t" * 201, "Tenant name must be at most 200 characters."),
        ("Acme\x00", "Tenant name contains a NUL character, which cannot be stored."),
        ("Acme \udcff", "Tenant name contains invalid Unicode (a lone surrogate)."),
    ],
)
def test_bad_tenant_names_are_refused_with_a_sentence(database, name, sentence):
    with database.transaction(None, write=True) as session, pytest.raises(Invalid) as caught:
        create_tenant(session, name)
    assert caught.value.errors == {"name": sentence}


@pytest.mark.parametrize("key", ["Acme \udcff", "Acme\x00"])
def test_looking_up_an_unstorable_name_finds_nothing(database, key):
    with database.transaction(None) as session:
        assert find_tenant(session, key) is None
        with pytest.raises(NotFound):
            get_tenant(session, key)
