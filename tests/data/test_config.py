"""Settings: placeholder and short secrets refused, generated secrets created once (0600)
and reused, bad numbers refused with a sentence.  Paths point into ``tmp_path``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import config
from config import ConfigError, check_secret, load_settings

GOOD_JWT = "j" * 48
GOOD_COOKIE = "c" * 48


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


@pytest.mark.parametrize("value", ["x" * 32, "é" * 16])
def test_secrets_of_32_bytes_are_accepted(value):
    assert check_secret("JWT_SECRET", value) == value


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
        f'COOKIE_KEY = "{"f" * 40}"\nJWT_SECRET = "{"g" * 40}"\nDATABASE_URL = "sqlite:///x.db"\n'
    )
    loaded = load_settings({"JWT_SECRET": GOOD_JWT})
    assert (loaded.jwt_secret, loaded.cookie_key) == (GOOD_JWT, "f" * 40)
    assert loaded.database_url == "sqlite:///x.db"
    assert not (paths / "var").exists()  # nothing generated when both keys are given


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
    assert len(first.jwt_secret) >= 32
    assert len(first.cookie_key) >= 32
    assert first.jwt_secret != first.cookie_key
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
    competitor = {"JWT_SECRET": "w" * 48, "COOKIE_KEY": "v" * 48}

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
        ("MAX_UPLOAD_MB", "-1", "MAX_UPLOAD_MB must be at least 1, not -1."),
        ("SQLITE_BUSY_TIMEOUT_MS", "-5", "SQLITE_BUSY_TIMEOUT_MS must be at least 0, not -5."),
        ("COOKIE_EXPIRY_DAYS", "soon", "COOKIE_EXPIRY_DAYS must be a number, not 'soon'."),
        ("COOKIE_EXPIRY_DAYS", "0", "COOKIE_EXPIRY_DAYS must be a number greater than 0, not '0'."),
        (
            "COOKIE_EXPIRY_DAYS",
            "nan",
            "COOKIE_EXPIRY_DAYS must be a number greater than 0, not 'nan'.",
        ),
        (
            "COOKIE_EXPIRY_DAYS",
            "inf",
            "COOKIE_EXPIRY_DAYS must be a number greater than 0, not 'inf'.",
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
    assert defaults.cookie_expiry_days == 7.0
    assert defaults.database_url == config.DEFAULT_DATABASE_URL
    assert defaults.database_app_role == "inventory_app"
    tuned = settings(BCRYPT_ROUNDS="4", COOKIE_EXPIRY_DAYS="0.5", DATABASE_APP_ROLE="")
    assert (tuned.bcrypt_rounds, tuned.cookie_expiry_days) == (4, 0.5)
    assert tuned.database_app_role is None


def test_the_default_database_is_a_git_ignored_file_in_the_project():
    assert config.DEFAULT_DATABASE_URL.startswith("sqlite:///")
    assert config.DEFAULT_DATABASE_URL.endswith("/var/inventory.db")
    ignored = (config.PROJECT_DIR / ".gitignore").read_text().split()
    assert "var/" in ignored
    assert ".streamlit/secrets.toml" in ignored
