"""One settings object for the dashboard, the API and the CLI.

Values come, in this order, from the environment, from ``.streamlit/secrets.toml``
and, for the two signing keys only, from ``var/secrets.toml``, which is generated with
random keys on first use and is git-ignored.  A key that is a known placeholder (the
``some_key`` of streamlit-authenticator's examples, ``changeme`` ...) or shorter than 32
bytes is refused: the process stops with one sentence instead of running with a key that
anyone can guess.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent
VAR_DIR = PROJECT_DIR / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'inventory.db'}"
GENERATED_SECRETS = VAR_DIR / "secrets.toml"
STREAMLIT_SECRETS = PROJECT_DIR / ".streamlit" / "secrets.toml"

PLACEHOLDER_SECRETS = frozenset(
    {
        "some_key",
        "some_cookie_name",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "secret-key",
        "secret_key",
        "your-secret-key",
        "your_secret_key",
        "password",
        "xxx",
        "todo",
    }
)
MIN_SECRET_BYTES = 32
SECRET_NAMES = ("JWT_SECRET", "COOKIE_KEY")


class ConfigError(Exception):
    """The configuration cannot be used; the message is one sentence for the operator."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    jwt_secret: str
    cookie_key: str
    database_app_role: str | None = "inventory_app"
    cookie_name: str = "inventory_pro_session"
    cookie_expiry_days: float = 7.0
    token_lifetime_minutes: int = 60
    bcrypt_rounds: int = 12
    max_upload_mb: int = 1024
    sqlite_busy_timeout_ms: int = 5000


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.") from None


def _generated_secrets() -> dict[str, Any]:
    """Read ``var/secrets.toml``, creating it with fresh random keys the first time.

    Two processes starting at once (the dashboard and the API) must end up with the same
    keys: the file is written under a unique temporary name and linked into place only if
    no other process got there first; the loser reads the winner's file.
    """
    existing = _read_toml(GENERATED_SECRETS)
    missing = [name for name in SECRET_NAMES if name not in existing]
    if not missing:
        return existing
    first_run = not GENERATED_SECRETS.exists()
    for name in missing:
        existing[name] = secrets.token_urlsafe(48)
    tmp: str | None = None
    try:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".secrets-", suffix=".tmp", dir=VAR_DIR)  # 0600
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# Generated on first run; keep private, never commit.\n")
            for name in SECRET_NAMES:
                handle.write(f'{name} = "{existing[name]}"\n')
        if first_run:
            try:
                os.link(tmp, GENERATED_SECRETS)
            except FileExistsError:
                return _generated_secrets()  # another process won the race: use its keys
            except OSError:  # a file system without hard links
                os.replace(tmp, GENERATED_SECRETS)
                tmp = None
        else:
            os.replace(tmp, GENERATED_SECRETS)
            tmp = None
    except OSError as exc:
        raise ConfigError(
            f"Cannot write the generated secrets file {GENERATED_SECRETS}: {exc.strerror}."
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return existing


def check_secret(name: str, value: str) -> str:
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        raise ConfigError(f"{name} is a known placeholder value; set a random secret instead.")
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_BYTES} bytes long.")
    return value


def _int(name: str, raw: Any, low: int, high: int | None = None) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < low or (high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {limits}, not {value}.")
    return value


def _positive(name: str, raw: Any) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {raw!r}.") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a number greater than 0, not {raw!r}.")
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    file_values = _read_toml(STREAMLIT_SECRETS)

    def lookup(name: str) -> Any:
        if name in env:
            return env[name]
        return file_values.get(name)

    values: dict[str, Any] = {}
    for name in SECRET_NAMES:
        values[name] = lookup(name)
    if any(values[name] is None for name in SECRET_NAMES):
        generated = _generated_secrets()
        for name in SECRET_NAMES:
            if values[name] is None:
                values[name] = generated[name]

    role = lookup("DATABASE_APP_ROLE")
    return Settings(
        database_url=str(lookup("DATABASE_URL") or DEFAULT_DATABASE_URL),
        jwt_secret=check_secret("JWT_SECRET", str(values["JWT_SECRET"])),
        cookie_key=check_secret("COOKIE_KEY", str(values["COOKIE_KEY"])),
        database_app_role="inventory_app" if role is None else (str(role) or None),
        cookie_expiry_days=_positive("COOKIE_EXPIRY_DAYS", lookup("COOKIE_EXPIRY_DAYS") or 7.0),
        token_lifetime_minutes=_int(
            "TOKEN_LIFETIME_MINUTES", lookup("TOKEN_LIFETIME_MINUTES") or 60, 1
        ),
        bcrypt_rounds=_int("BCRYPT_ROUNDS", lookup("BCRYPT_ROUNDS") or 12, 4, 31),
        max_upload_mb=_int("MAX_UPLOAD_MB", lookup("MAX_UPLOAD_MB") or 1024, 1),
        sqlite_busy_timeout_ms=_int(
            "SQLITE_BUSY_TIMEOUT_MS", lookup("SQLITE_BUSY_TIMEOUT_MS") or 5000, 0
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
