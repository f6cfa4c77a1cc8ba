"""One settings object for the dashboard, the API and the CLI.

Values come, in this order, from the environment, from ``.streamlit/secrets.toml``
and, for the generated secrets only (the two signing keys and the password of the
PostgreSQL runtime role), from ``var/secrets.toml``, which is generated with random
values on first use, readable by its owner only, and git-ignored.  A key that is a known
placeholder (the ``some_key`` of streamlit-authenticator's examples, ``changeme`` ...),
shorter than 32 bytes, or low in variety (``aaaa…``, ``abcabc…``) is refused: the process
stops with one sentence instead of running with a key that anyone can guess.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import math
import os
import secrets
import tempfile
import tomllib
from collections import Counter
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
MIN_SECRET_BITS = 64  # estimated from the characters' frequencies (see check_secret)
MIN_SECRET_SYMBOLS = 8  # different characters
SECRET_NAMES = ("JWT_SECRET", "COOKIE_KEY")
# Generated into var/secrets.toml when not given: the signing keys, and the password
# init-db gives the PostgreSQL runtime role it creates.
GENERATED_NAMES = (*SECRET_NAMES, "DATABASE_APP_PASSWORD")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(Exception):
    """The configuration cannot be used; the message is one sentence for the operator."""


@dataclass(frozen=True)
class Settings:
    database_url: str  # the owner's (init-db); on PostgreSQL the runtime's is derived
    jwt_secret: str
    cookie_key: str
    database_runtime_url: str | None = None  # given explicitly instead of derived
    database_app_role: str | None = None  # the runtime role init-db makes: <database>_app
    database_app_password: str = ""
    trusted_proxies: str = ""  # addresses or networks whose X-Forwarded-* are believed
    cookie_name: str = "inventory_pro_session"
    session_lifetime_hours: float = 12.0
    token_lifetime_minutes: int = 60
    bcrypt_rounds: int = 12
    max_upload_mb: int = 200
    sqlite_busy_timeout_ms: int = 5000
    # The phone region a new tenant gets unless one is named ("DE"); None: no region.
    default_phone_region: str | None = None

    @property
    def proxies(self) -> tuple[Network, ...]:
        """The trusted proxies, parsed (checked when the settings were read)."""
        return parse_proxies(self.trusted_proxies)


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
    missing = [name for name in GENERATED_NAMES if name not in existing]
    if not missing:
        return existing
    first_run = not GENERATED_SECRETS.exists()
    for name in missing:
        existing[name] = secrets.token_urlsafe(48)
    tmp: str | None = None
    try:
        make_private_dir(VAR_DIR)
        fd, tmp = tempfile.mkstemp(prefix=".secrets-", suffix=".tmp", dir=VAR_DIR)  # 0600
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# Generated on first run; keep private, never commit.\n")
            for name in GENERATED_NAMES:
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


def make_private_dir(folder: Path) -> None:
    """Create ``folder`` (and any missing parent) readable by its owner only.

    The database and the secrets live there.  ``mkdir(parents=True)`` would give missing
    parents the umask's mode; each is made 0700 here instead.
    """
    missing = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)  # mode is masked by the umask; say it exactly


def estimated_bits(value: str) -> float:
    """The information in ``value`` by the frequencies of its characters (Shannon).

    A lower bound of sorts for how hard it is to guess: ``aaaa…`` has none, a value
    repeating a short pattern has little, a random token about 6 bits a character.
    """
    if not value:
        return 0.0
    counts = Counter(value)
    size = len(value)
    per_char = -sum(n / size * math.log2(n / size) for n in counts.values())
    return per_char * size


def _repeats(value: str) -> bool:
    """True when ``value`` is one shorter piece said again and again (``abcabcabc``)."""
    return len(value) > 1 and value in (value + value)[1:-1]


def _runs(value: str) -> bool:
    """True when most neighbours are consecutive characters (``abcdef…``, ``123456…``)."""
    steps = [ord(b) - ord(a) for a, b in itertools.pairwise(value)]
    return bool(steps) and sum(1 for step in steps if step in (-1, 1)) > len(steps) / 2


def check_secret(name: str, value: str) -> str:
    if value.strip().lower() in PLACEHOLDER_SECRETS:
        raise ConfigError(f"{name} is a known placeholder value; set a random secret instead.")
    if len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_BYTES} bytes long.")
    predictable = (
        _repeats(value)
        or _runs(value)
        or len(set(value)) < MIN_SECRET_SYMBOLS
        or estimated_bits(value) < MIN_SECRET_BITS
    )
    if predictable:
        raise ConfigError(
            f"{name} is too predictable (few different characters, or a repeated or "
            'sequential pattern); generate one with: python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"'
        )
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
    for name in GENERATED_NAMES:
        values[name] = lookup(name)
    if any(values[name] is None for name in GENERATED_NAMES):
        generated = _generated_secrets()
        for name in GENERATED_NAMES:
            if values[name] is None:
                values[name] = generated[name]

    database_url = str(lookup("DATABASE_URL") or DEFAULT_DATABASE_URL)
    role = str(lookup("DATABASE_APP_ROLE") or "").strip() or None
    runtime_url = str(lookup("DATABASE_RUNTIME_URL") or "").strip() or None
    proxies = str(lookup("TRUSTED_PROXIES") or "")
    _check_proxies(proxies)
    return Settings(
        database_url=database_url,
        jwt_secret=check_secret("JWT_SECRET", str(values["JWT_SECRET"])),
        cookie_key=check_secret("COOKIE_KEY", str(values["COOKIE_KEY"])),
        database_runtime_url=runtime_url,
        database_app_role=role,
        database_app_password=str(values["DATABASE_APP_PASSWORD"]),
        trusted_proxies=proxies,
        session_lifetime_hours=_positive(
            "SESSION_LIFETIME_HOURS", lookup("SESSION_LIFETIME_HOURS") or 12.0
        ),
        token_lifetime_minutes=_int(
            "TOKEN_LIFETIME_MINUTES", lookup("TOKEN_LIFETIME_MINUTES") or 60, 1
        ),
        bcrypt_rounds=_int("BCRYPT_ROUNDS", lookup("BCRYPT_ROUNDS") or 12, 4, 31),
        max_upload_mb=_int("MAX_UPLOAD_MB", lookup("MAX_UPLOAD_MB") or 200, 1, 100_000),
        sqlite_busy_timeout_ms=_int(
            "SQLITE_BUSY_TIMEOUT_MS", lookup("SQLITE_BUSY_TIMEOUT_MS") or 5000, 0
        ),
        default_phone_region=_region(lookup("DEFAULT_PHONE_REGION")),
    )


def _region(raw: Any) -> str | None:
    """``DEFAULT_PHONE_REGION``: a two-letter region code phonenumbers knows, or empty."""
    from data.duplicates.keys import parse_region

    try:
        return parse_region(str(raw or ""))
    except ValueError as exc:
        raise ConfigError(f"DEFAULT_PHONE_REGION: {exc}") from None


def parse_proxies(text: str | None) -> tuple[Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16"`` → networks; ``ValueError`` names a bad entry."""
    networks = []
    for part in (text or "").replace(";", ",").split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def _check_proxies(text: str) -> None:
    try:
        parse_proxies(text)
    except ValueError as exc:
        raise ConfigError(f"TRUSTED_PROXIES: {exc}; list addresses or networks.") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
