"""Every command of ``manage.py``: a wrong argument exits 2 with one sentence (SPEC §6).

Run in this process (``manage.main``): argparse refuses before any command touches a
database, so these need none.
"""

from __future__ import annotations

import pytest

import manage

BAD_ARGUMENTS = {
    "unknown-command": ["frobnicate"],
    "init-db-unknown-option": ["init-db", "--force"],
    "create-tenant-no-name": ["create-tenant"],
    "create-tenant-extra": ["create-tenant", "a", "b"],
    "create-user-bad-role": ["create-user", "ann", "--tenant", "t", "--role", "emperor"],
    "create-user-no-tenant": ["create-user", "ann", "--role", "editor"],
    "reset-password-no-user": ["reset-password"],
    "demo-port-not-a-number": ["demo", "--port", "http"],
    "dashboard-port-out-of-range": ["dashboard", "--port", "0"],
    "api-port-out-of-range": ["api", "--port", "70000"],
    "api-workers-not-a-number": ["api", "--workers", "many"],
    "import-no-tenant": ["import-csv", "customers.csv"],
    "import-bad-mode": ["import-csv", "c.csv", "--tenant", "t", "--mode", "merge"],
    "import-alias-bad-mode": ["import", "c.csv", "--tenant", "t", "--mode", "merge"],
    "import-map-without-value": ["import-csv", "c.csv", "--tenant", "t", "--map"],
    "export-no-tenant": ["export-csv"],
    "export-bad-format": ["export-csv", "--tenant", "t", "--format", "pdf"],
    "export-alias-unknown-option": ["export", "--tenant", "t", "--gzip"],
    "duplicates-no-tenant": ["duplicates", "--min-score", "50"],
    "duplicates-score-out-of-range": ["duplicates", "--tenant", "t", "--min-score", "101"],
    "set-region-not-a-country": ["set-region", "Germany", "--tenant", "t"],
}


@pytest.mark.parametrize("argv", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_a_bad_argument_exits_2_with_one_sentence(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        manage.main(argv)
    assert done.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("manage.py")
    assert line.endswith("for usage.")
    assert "Traceback" not in line


def test_every_command_is_covered() -> None:
    import argparse

    [commands] = [
        action.choices
        for action in manage.build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    assert {argv[0] for argv in BAD_ARGUMENTS.values()} >= set(commands)


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (["import-csv", "/no/such/file.csv", "--tenant", "t"], "/no/such/file.csv is not a file."),
        (
            ["import-csv", __file__, "--tenant", "t", "--map", "x"],
            "--map 'x' is not COLUMN=FIELD",
        ),
    ],
    ids=["missing-file", "bad-map"],
)
def test_a_bad_value_found_by_the_command_exits_2_before_the_database(
    argv: list[str],
    sentence: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(manage, "database", lambda **_: pytest.fail("touched the database"))
    assert manage.main(argv) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert sentence in line
