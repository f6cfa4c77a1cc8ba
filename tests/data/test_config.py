"""Settings: placeholder, short and predictable secrets refused, generated secrets created
once (0600, in a 0700 folder) and reused, bad numbers refused with a sentence.  Paths
point into ``tmp_path``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import config
from config import ConfigError, check_secret, load_settings

GOOD_JWT = "Lw3bq9ZrT0vKx7NeJc2HpF5sUd8mYa4GiQ1oRt6WzXk"
GOOD_COOKIE = "pX4nVe9KqZ2rL7tB0cWj5sGm8dHy3aUf6iOo1NwRkTz"
OTHER_A = "Hq6Zt1Vc8Nb3Xm5Lk0Jp7Rs2Wd4Gf9Ye"  # 32 random characters each
OTHER_B = "mR3kT8vZ1pX6qW0nB5cY9sL2dF7gH4jK"


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point config's files at a temporary project: var/ and .streamlit/."""
    var = tmp_path / "var"
    monkeypatch.setattr(config, "VAR_DIR", var)
    monkeypatch.setattr(config, "GENERATED_SECRETS", var / "secrets.toml")
    monkeypatch.setattr(config, "STREAMLIT_SECRETS", tmp_path / ".streamlit" / "secrets.toml")
    return tmp_path


def settings(**env: str):  # type: ignore[no-untyped-def]
    return load_settings({"JWT_SECRET": GOOD_JWT, "COOKIE_KEY": GOOD_COOKIE} | env)


@pytest.mark.parametrize("name", ["JWT_SECRET", "COOKIE_KEY"])
@pytest.mark.parametrize("value", ["some_key", "SOME_KEY", " changeme ", "secret", "password"])
def test_placeholder_secrets_are_refused_with_a_sentence(paths, name, value):
    with pytest.raises(ConfigError) as caught:
        settings(**{name: value})
    assert str(caught.value) == f"{name} is a known placeholder value; set a random secret instead."


@pytest.mark.parametrize("name", ["JWT_SECRET", "COOKIE_KEY"])
@pytest.mark.parametrize("value", ["", "short", "x" * 31, "é" * 15 + "x"])
def test_short_secrets_are_refused_with_a_sentence(paths, name, value):
    with pytest.raises(ConfigError) as caught:
        settings(**{name: value})
    assert str(caught.value) == f"{name} must be at least 32 bytes long."


@pytest.mark.parametrize("value", [OTHER_A, "é" + OTHER_A[2:] + "ß"])
def test_random_secrets_of_32_bytes_are_accepted(value):
    assert check_secret("JWT_SECRET", value) == value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("x" * 32, id="one character"),
        pytest.param("é" * 16, id="one letter, two bytes"),
        pytest.param("abcd" * 12, id="a repeated pattern"),
        pytest.param("abcdefghijklmnopqrstuvwxyz012345", id="a run"),
        pytest.param("0123456789" * 4, id="digits over again"),
        pytest.param("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab1", id="few different"),
    ],
)
def test_predictable_secrets_are_refused_with_a_sentence(value):
    with pytest.raises(ConfigError, match=r"^JWT_SECRET is too predictable .*token_urlsafe"):
        check_secret("JWT_SECRET", value)


def test_a_placeholder_in_streamlit_secrets_is_refused(paths):
    secrets_file = paths / ".streamlit" / "secrets.toml"
    secrets_file.parent.mkdir()
    secrets_file.write_text(f'COOKIE_KEY = "some_key"\nJWT_SECRET = "{GOOD_JWT}"\n')
    with pytest.raises(ConfigError, match=r"^COOKIE_KEY is a known placeholder value"):
        load_settings({})


def test_the_environment_wins_over_streamlit_secrets(paths):
    secrets_file = paths / ".streamlit" / "secrets.toml"
    secrets_file.parent.mkdir()
    secrets_file.write_text(
        f'COOKIE_KEY = "{OTHER_A}"\nJWT_SECRET = "{OTHER_B}"\nDATABASE_URL = "sqlite:///x.db"\n'
        'DATABASE_APP_PASSWORD = "given"\n'
    )
    loaded = load_settings({"JWT_SECRET": GOOD_JWT})
    assert (loaded.jwt_secret, loaded.cookie_key) == (GOOD_JWT, OTHER_A)
    assert loaded.database_url == "sqlite:///x.db"
    assert not (paths / "var").exists()  # nothing generated when every secret is given


def test_an_unreadable_streamlit_secrets_file_is_one_sentence(paths):
    secrets_file = paths / ".streamlit" / "secrets.toml"
    secrets_file.parent.mkdir()
    secrets_file.write_text("this is = = not toml")
    with pytest.raises(ConfigError, match=r"^Cannot read .*secrets\.toml: .*\.$"):
        load_settings({})


def test_missing_secrets_are_generated_once_private_and_reused(paths):
    first = load_settings({})
    generated = paths / "var" / "secrets.toml"
    assert generated.exists()
    assert stat.S_IMODE(generated.stat().st_mode) == 0o600
    assert stat.S_IMODE((paths / "var").stat().st_mode) == 0o700
    assert len(first.jwt_secret) >= 32
    assert len(first.cookie_key) >= 32
    assert len(first.database_app_password) >= 32
    assert len({first.jwt_secret, first.cookie_key, first.database_app_password}) == 3
    identity = (generated.stat().st_ino, generated.stat().st_mtime_ns, generated.read_text())

    second = load_settings({})
    assert (second.jwt_secret, second.cookie_key) == (first.jwt_secret, first.cookie_key)
    assert (
        generated.stat().st_ino,
        generated.stat().st_mtime_ns,
        generated.read_text(),
    ) == identity
    assert sorted(p.name for p in (paths / "var").iterdir()) == ["secrets.toml"]


def test_only_the_missing_secret_comes_from_the_generated_file(paths):
    loaded = load_settings({"JWT_SECRET": GOOD_JWT})
    generated = config._read_toml(paths / "var" / "secrets.toml")
    assert loaded.jwt_secret == GOOD_JWT
    assert loaded.cookie_key == generated["COOKIE_KEY"]


def test_a_generated_file_missing_a_key_is_completed_and_keeps_the_other(paths):
    var = paths / "var"
    var.mkdir()
    (var / "secrets.toml").write_text(f'JWT_SECRET = "{GOOD_JWT}"\n')
    loaded = load_settings({})
    assert loaded.jwt_secret == GOOD_JWT
    assert load_settings({}).cookie_key == loaded.cookie_key
    assert stat.S_IMODE((var / "secrets.toml").stat().st_mode) == 0o600


def test_two_processes_generating_at_once_end_with_the_same_keys(paths, monkeypatch):
    """Another process writes the file after we found it missing: we use its keys."""
    real = config.secrets.token_urlsafe
    competitor = {"JWT_SECRET": OTHER_A, "COOKIE_KEY": OTHER_B, "DATABASE_APP_PASSWORD": "pw"}

    def racing(n: int) -> str:
        generated = paths / "var" / "secrets.toml"
        if not generated.exists():
            generated.parent.mkdir(parents=True, exist_ok=True)
            generated.write_text("".join(f'{k} = "{v}"\n' for k, v in competitor.items()))
        return real(n)

    monkeypatch.setattr(config.secrets, "token_urlsafe", racing)
    loaded = load_settings({})
    assert (loaded.jwt_secret, loaded.cookie_key) == (
        competitor["JWT_SECRET"],
        competitor["COOKIE_KEY"],
    )
    assert sorted(p.name for p in (paths / "var").iterdir()) == ["secrets.toml"]


def test_a_secrets_folder_that_cannot_be_created_is_one_sentence(paths, monkeypatch):
    blocker = paths / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setattr(config, "VAR_DIR", blocker / "var")
    monkeypatch.setattr(config, "GENERATED_SECRETS", blocker / "var" / "secrets.toml")
    with pytest.raises(ConfigError, match=r"^Cannot write the generated secrets file .*: .*\.$"):
        load_settings({})


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("BCRYPT_ROUNDS", "many", "BCRYPT_ROUNDS must be a whole number, not 'many'."),
        ("BCRYPT_ROUNDS", "3", "BCRYPT_ROUNDS must be between 4 and 31, not 3."),
        ("BCRYPT_ROUNDS", "32", "BCRYPT_ROUNDS must be between 4 and 31, not 32."),
        ("TOKEN_LIFETIME_MINUTES", "0", "TOKEN_LIFETIME_MINUTES must be at least 1, not 0."),
        (
            "TOKEN_LIFETIME_MINUTES",
            "1.5",
            "TOKEN_LIFETIME_MINUTES must be a whole number, not '1.5'.",
        ),
        ("MAX_UPLOAD_MB", "-1", "MAX_UPLOAD_MB must be between 1 and 100000, not -1."),
        ("SQLITE_BUSY_TIMEOUT_MS", "-5", "SQLITE_BUSY_TIMEOUT_MS must be at least 0, not -5."),
        ("MAX_UPLOAD_MB", "200000", "MAX_UPLOAD_MB must be between 1 and 100000, not 200000."),
        (
            "SESSION_LIFETIME_HOURS",
            "soon",
            "SESSION_LIFETIME_HOURS must be a number, not 'soon'.",
        ),
        (
            "SESSION_LIFETIME_HOURS",
            "0",
            "SESSION_LIFETIME_HOURS must be a number greater than 0, not '0'.",
        ),
        (
            "SESSION_LIFETIME_HOURS",
            "nan",
            "SESSION_LIFETIME_HOURS must be a number greater than 0, not 'nan'.",
        ),
        (
            "SESSION_LIFETIME_HOURS",
            "inf",
            "SESSION_LIFETIME_HOURS must be a number greater than 0, not 'inf'.",
        ),
    ],
)
def test_bad_numbers_are_refused_with_a_sentence(paths, name, value, sentence):
    with pytest.raises(ConfigError) as caught:
        settings(**{name: value})
    assert str(caught.value) == sentence


def test_numbers_and_defaults(paths):
    defaults = settings()
    assert (defaults.bcrypt_rounds, defaults.token_lifetime_minutes) == (12, 60)
    assert defaults.session_lifetime_hours == 12.0
    assert defaults.max_upload_mb == 200
    assert defaults.database_url == config.DEFAULT_DATABASE_URL
    assert (defaults.database_app_role, defaults.database_runtime_url) == (None, None)
    assert defaults.proxies == ()
    tuned = settings(
        BCRYPT_ROUNDS="4",
        SESSION_LIFETIME_HOURS="0.5",
        DATABASE_APP_ROLE="shop_runtime",
        DATABASE_RUNTIME_URL="postgresql://app@db/shop",
        TRUSTED_PROXIES="10.0.0.1, 192.168.0.0/16",
    )
    assert (tuned.bcrypt_rounds, tuned.session_lifetime_hours) == (4, 0.5)
    assert (tuned.database_app_role, tuned.database_runtime_url) == (
        "shop_runtime",
        "postgresql://app@db/shop",
    )
    assert [str(network) for network in tuned.proxies] == ["10.0.0.1/32", "192.168.0.0/16"]


def test_the_default_database_is_a_git_ignored_file_in_the_project():
    assert config.DEFAULT_DATABASE_URL.startswith("sqlite:///")
    assert config.DEFAULT_DATABASE_URL.endswith("/var/inventory.db")
    ignored = (config.PROJECT_DIR / ".gitignore").read_text().split()
    assert "var/" in ignored
    assert ".streamlit/secrets.toml" in ignored
