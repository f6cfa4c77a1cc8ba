"""Hostile CSV files, fuzzed with hypothesis: the reader and the importer (SPEC §9).

Random bytes, and valid files mutated the ways files get damaged (bytes inserted,
deleted, replaced, lines cut or doubled, quotes, delimiters, NULs, BOMs, line ends of
another system), in every mode, all-or-nothing and partial.  The only exception that
may come out is ``ImportFailed`` (one sentence), and a file either writes exactly what
its summary says or nothing at all.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from data.errors import ImportFailed
from data.importing import import_file
from data.importing.read_csv import CsvReader
from data.sample import customers as sample_customers
from tests.faults.helpers import csv_bytes, tenant_state

FUZZ = settings(
    deadline=None,
    database=None,  # no example database written into the project
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TOKENS = [
    b'"', b'""', b",", b";", b"\t", b"\n", b"\r", b"\r\n", b"\x00", b"\xef\xbb\xbf",
    b"\xff\xfe", b"\xfe\xff", b"\xe9", b"\xc3", b"\x81", b"=cmd|' /C calc'!A0", b"@",
    b"'", b"\\", b"\xe2\x80\xae", b" " * 300, b"x" * 5000, b"name", b"email",
    b"Robert'); DROP TABLE customers;--", b"<script>alert(1)</script>",
]  # fmt: skip
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]


def one_sentence(message: str) -> bool:
    return bool(message) and "\n" not in message.strip() and "Traceback" not in message


def valid_file(rows: int, seed: int, encoding: str, delimiter: str, tag: str) -> bytes:
    records = [
        {**record, "email": f"{tag}.{i}.{record['email']}"}
        for i, record in enumerate(sample_customers(rows, seed=seed))
    ]
    return csv_bytes(records, delimiter=delimiter).decode("utf-8").encode(encoding, "replace")


@st.composite
def damaged_files(draw: Any) -> bytes:
    """A valid customer file, then a few of the ways files get damaged."""
    encoding = draw(st.sampled_from(ENCODINGS))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    data = bytearray(
        valid_file(
            draw(st.integers(1, 12)),
            draw(st.integers(0, 10**6)),
            encoding,
            delimiter,
            uuid.uuid4().hex[:6],
        )
    )
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "cut", "double", "ends"]))
        at = draw(st.integers(0, len(data)))
        if kind == "insert":
            data[at:at] = draw(
                st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=8))
            )
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "double":
            lines = bytes(data).split(b"\n")
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            data = bytearray(b"\n".join(lines))
        elif kind == "ends":
            data = bytearray(bytes(data).replace(b"\n", draw(st.sampled_from([b"\r", b"\r\n"]))))
    return bytes(data)


ANY_FILE = st.one_of(st.binary(max_size=600), damaged_files())
MODES = st.sampled_from(["create", "upsert", "skip"])


@settings(FUZZ, max_examples=1000)
@given(data=ANY_FILE)
def test_the_reader_gives_records_or_one_sentence(data):
    try:
        reader = CsvReader(io.BytesIO(data), filename="fuzz.csv")
        records = list(reader.records())
    except ImportFailed as exc:
        refusal = str(exc)
        assert one_sentence(refusal), refusal
        return
    assert reader.header
    assert all(record.line >= 2 for record in records)
    assert [r.line for r in records] == sorted({r.line for r in records})


@settings(FUZZ, max_examples=150)
@given(data=ANY_FILE, mode=MODES, partial=st.booleans())
def test_an_import_of_a_damaged_file_writes_all_it_reports_or_nothing(
    database, identity_of, tenant, data, mode, partial
):
    before = tenant_state(database, tenant.id)
    try:
        summary = import_file(
            database,
            identity_of(tenant.editor),
            io.BytesIO(data),
            filename="fuzz.csv",
            mode=mode,
            partial=partial,
        )
    except ImportFailed as exc:
        refusal = str(exc)
        event("file refused")
        assert one_sentence(refusal), refusal
        assert tenant_state(database, tenant.id) == before
        return
    after = tenant_state(database, tenant.id)
    for error in summary.errors:
        assert error.line >= 2
        assert one_sentence(error.message), error.message
    assert summary.written == (summary.invalid == 0 or partial)
    event("rows written" if summary.created + summary.updated else "nothing to write")
    event("some rows invalid" if summary.invalid else "all rows valid")
    if not summary.written:
        assert after == before
        return
    changed = summary.created + summary.updated
    assert after.count == (before.count or 0) + summary.created == len(after.customers)
    old = {row[0]: row for row in before.customers}
    touched = [row for row in after.customers if old.get(row[0]) != row]
    assert len(touched) == changed
    if changed:
        assert len(set(after.audit) - set(before.audit)) == 1  # one import event
