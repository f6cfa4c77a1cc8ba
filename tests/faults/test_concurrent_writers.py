"""Three front doors writing one tenant at once (SPEC §9: no lost update, no duplicate email).

Dashboard saves (``ui.grid.save_changes``, what the Save button calls, from threads), API
PUTs with ``If-Match`` against a real uvicorn server, and ``manage.py import-csv --mode
upsert`` in a subprocess all change the same customers and race to create the same new
emails, until every writer has its share of acknowledged writes and the imports are done.

Every write of a customer bumps its version by exactly one.  So each acknowledged
dashboard or API write *claims* the version it produced, and an import claims one version
of each customer it updated.  No lost update means: no two writers claim the same version,
the final version is 1 + all claims, and the customer holds the value of the write that
claimed its final version.  Each new email is created exactly once, whoever wins.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.main import create_app
from data.credentials import issue_token
from data.errors import Unavailable
from data.keys import normalise_email
from tests.api.conftest import LiveServer
from tests.faults.helpers import csv_bytes, manage, tenant_state
from ui.grid import Change, save_changes

HOT = 8  # customers every door writes
POOL = 6  # new emails every door tries to create
API_WRITERS = 3
UI_WRITERS = 2
WRITES_EACH = 8  # acknowledged writes each writer makes, at least
IMPORT_RUNS = 2
BULK_ROWS = 150  # new customers per import, so that each import holds the lock a while
MAX_ATTEMPTS = 300
CREATE_SHARE = 0.15  # share of a writer's turns spent trying to create a pool email
RACE = "Another change to the same customers happened during the import"

pytestmark = pytest.mark.timeout(600)


@dataclass(frozen=True)
class Claim:
    customer_id: str
    version: int
    address: str
    door: str


@dataclass
class Outcomes:
    claims: list[Claim] = field(default_factory=list)
    created: Counter[str] = field(default_factory=Counter)  # email key -> acknowledged creates
    statuses: Counter[str] = field(default_factory=Counter)  # "door status" -> times
    messages: list[str] = field(default_factory=list)  # every refusal a user saw
    failures: list[str] = field(default_factory=list)  # what no user may ever see
    imports: list[tuple[int, set[str], int]] = field(default_factory=list)  # run, hot ids, made
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **kwargs: Any) -> None:
        with self.lock:
            for name, value in kwargs.items():
                target = getattr(self, name)
                if isinstance(target, Counter):
                    target[value] += 1
                else:
                    target.append(value)


def mixed_case(email: str, rng: random.Random) -> str:
    return "".join(ch.upper() if rng.random() < 0.5 else ch for ch in email)


def test_dashboard_api_and_cli_writing_at_once_lose_no_update_and_duplicate_no_email(
    database, backend, tenant, tmp_path, customers_of, identity_of
):
    tag = uuid.uuid4().hex[:8]
    editor = tenant.editor
    with customers_of(tenant, editor, write=True) as repository:
        hot = [
            repository.create(
                {"name": f"Hot {i}", "email": f"hot{i}-{tag}@example.com", "address": "seed"}
            )
            for i in range(HOT)
        ]
    pool = [f"new{i}-{tag}@example.com" for i in range(POOL)]
    out = Outcomes()
    start = threading.Barrier(API_WRITERS + UI_WRITERS + 1)
    imports_done = threading.Event()

    def keep_writing(done: int, attempt: int) -> bool:
        return attempt < MAX_ATTEMPTS and (done < WRITES_EACH or not imports_done.is_set())

    def api_writer(server: LiveServer, number: int) -> None:
        rng = random.Random(f"{tag}-api-{number}")
        token, _ = issue_token(database, editor)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
            start.wait()
            done = attempt = 0
            while keep_writing(done, attempt):
                attempt += 1
                if rng.random() < CREATE_SHARE:
                    email = rng.choice(pool)
                    answer = http.post(
                        "/api/customers",
                        json={"name": f"API {number}", "email": mixed_case(email, rng)},
                    )
                    out.add(statuses=f"api POST {answer.status_code}")
                    if answer.status_code == 201:
                        out.add(created=email)
                    elif answer.status_code != 409:
                        out.add(failures=f"POST {answer.status_code}: {answer.text}")
                    else:
                        out.add(messages=answer.json()["detail"])
                    continue
                customer = rng.choice(hot)
                read = http.get(f"/api/customers/{customer.id}")
                if read.status_code != 200:
                    out.add(failures=f"GET {read.status_code}: {read.text}")
                    continue
                current = read.json()
                address = f"api{number}.{attempt}"
                body = {
                    "name": current["name"],
                    "email": current["email"],
                    "phone": current["phone"],
                    "address": address,
                }
                answer = http.put(
                    f"/api/customers/{customer.id}",
                    json=body,
                    headers={"If-Match": read.headers["ETag"]},
                )
                out.add(statuses=f"api PUT {answer.status_code}")
                if answer.status_code == 200:
                    out.add(claims=Claim(customer.id, answer.json()["version"], address, "api"))
                    done += 1
                elif answer.status_code == 412:
                    out.add(messages=answer.json()["detail"])
                else:
                    out.add(failures=f"PUT {answer.status_code}: {answer.text}")

    def ui_writer(number: int) -> None:
        rng = random.Random(f"{tag}-ui-{number}")
        signed_in = identity_of(editor)  # this browser's session
        start.wait()
        done = attempt = 0
        while keep_writing(done, attempt):
            attempt += 1
            creating = rng.random() < CREATE_SHARE
            if creating:
                email = rng.choice(pool)
                change = Change(
                    "new-row",
                    None,
                    None,
                    {
                        "name": f"UI {number}",
                        "email": mixed_case(email, rng),
                        "phone": None,
                        "address": None,
                    },
                )
            else:
                customer = rng.choice(hot)
                with database.scope(signed_in) as scope:
                    current = scope.customers.get(customer.id)
                address = f"ui{number}.{attempt}"
                change = Change(
                    customer.id,
                    customer.id,
                    current.version,
                    current.fields() | {"address": address},
                )
            try:
                result = save_changes(signed_in, [change])
            except Unavailable as exc:
                out.add(failures=f"dashboard: {exc} {exc.__context__!r}")
                continue
            out.add(statuses=f"dashboard {'create' if creating else 'save'} {result.written}")
            if result.written:
                if creating:
                    out.add(created=normalise_email(str(change.values["email"])))
                else:
                    out.add(claims=Claim(change.key, change.version + 1, address, "dashboard"))
                    done += 1
                continue
            problem = result.drafts[change.key].problem
            out.add(messages=problem)
            expected = "already uses the email" if creating else "Changed by someone else"
            if expected not in problem:
                out.add(failures=f"dashboard: {problem}")

    def importer() -> None:
        start.wait()
        try:
            for run in range(IMPORT_RUNS):
                touched = hot[run : run + HOT // 2]
                rows: list[dict[str, Any]] = [
                    {"name": c.name, "email": c.email, "address": f"cli{run}"} for c in touched
                ]
                rows += [{"name": f"CLI {run}", "email": e} for e in pool[run::IMPORT_RUNS]]
                rows += [
                    {"name": f"Bulk {run}.{i}", "email": f"bulk{run}.{i}-{tag}@example.com"}
                    for i in range(BULK_ROWS)
                ]
                path = tmp_path / f"upsert-{run}.csv"
                path.write_bytes(csv_bytes(rows))
                for _ in range(5):  # an operator retries an import refused by a race
                    result = manage(
                        database, "import-csv", str(path), "--tenant", tenant.id, "--mode", "upsert"
                    )
                    out.add(statuses=f"cli exit {result.returncode}")
                    if result.returncode == 0:
                        made = re.search(r"created=(\d+) updated=(\d+)", result.stdout)
                        assert made, result.stdout
                        out.add(imports=(run, {c.id for c in touched}, int(made.group(1))))
                        break
                    out.add(messages=result.stderr.strip())
                    if result.returncode != 1 or RACE not in result.stderr:
                        out.add(failures=f"cli exit {result.returncode}: {result.stderr}")
                        break
        finally:
            imports_done.set()

    errors: list[BaseException] = []

    def guarded(target: Any, *args: Any) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:  # re-raised below, in the test's thread
                errors.append(exc)
                imports_done.set()
                start.abort()

        return threading.Thread(target=run, daemon=True)

    with LiveServer(create_app(database)) as server:
        threads = [guarded(api_writer, server, n) for n in range(API_WRITERS)]
        threads += [guarded(ui_writer, n) for n in range(UI_WRITERS)]
        threads.append(guarded(importer))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert not any(thread.is_alive() for thread in threads), "a writer is stuck"
    if errors:
        raise errors[0]

    print(f"\n[{backend}] concurrent writers: {dict(sorted(out.statuses.items()))}")
    seen = "\n".join(out.messages + out.failures)
    assert "locked" not in seen.lower()
    assert "Traceback" not in seen
    assert not out.failures, out.failures
    assert len(out.imports) == IMPORT_RUNS, "an import never got through"
    assert sum(1 for c in out.claims if c.door == "api") >= API_WRITERS * WRITES_EACH
    assert sum(1 for c in out.claims if c.door == "dashboard") >= UI_WRITERS * WRITES_EACH

    state = tenant_state(database, tenant.id)
    customers = state.by_email()
    # One customer per email (case-insensitively), and the exact count agrees.
    keys = Counter(normalise_email(c["email"]) for c in customers.values())
    assert [k for k, n in keys.items() if n > 1] == []
    assert state.count == len(state.customers)

    # No lost update: each version of each hot customer was produced by one write.
    for customer in hot:
        final = customers[normalise_email(customer.email)]
        version = int(final["version"])
        claims = [c for c in out.claims if c.customer_id == customer.id]
        claimed = Counter(c.version for c in claims)
        twice = [v for v, n in claimed.items() if n > 1]
        assert twice == [], f"two writers won version {twice} of {customer.name}: {claims}"
        by_import = [run for run, ids, _ in out.imports if customer.id in ids]
        assert version == 1 + len(claims) + len(by_import), (customer.name, claims, by_import)
        last = [c for c in claims if c.version == version]
        if last:
            assert final["address"] == last[0].address
        else:
            assert by_import, f"version {version} of {customer.name} has no writer"
            assert final["address"] == f"cli{by_import[-1]}"

    # Each new email was created exactly once, by whichever door got there first.
    imported_pool = sum(made - BULK_ROWS for _, _, made in out.imports)
    assert sum(out.created.values()) + imported_pool == POOL
    assert all(normalise_email(email) in customers for email in pool)
    with database.transaction(tenant.id) as session:
        bulk = session.execute(
            text("SELECT COUNT(*) FROM customers WHERE tenant_id = :t AND name LIKE 'Bulk %'"),
            {"t": tenant.id},
        ).scalar_one()
    assert bulk == IMPORT_RUNS * BULK_ROWS
