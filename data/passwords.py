"""Passwords: the rules, bcrypt hashing, and a check that takes the same time for anyone."""

from __future__ import annotations

import functools
import secrets

import bcrypt

from data.errors import Invalid

MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer


def check_password_rules(password: str) -> None:
    """Raise ``Invalid`` (field ``password``) unless bcrypt can hold it and it is long enough."""
    if not isinstance(password, str):
        raise Invalid({"password": "Password must be text."})
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(
            {"password": "Password contains invalid Unicode (a lone surrogate)."}
        ) from None
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid(
            {"password": f"Password must be at least {MIN_PASSWORD_CHARS} characters long."}
        )
    size = len(password.encode("utf-8"))
    if size > MAX_PASSWORD_BYTES:
        raise Invalid(
            {
                "password": f"Password must be at most {MAX_PASSWORD_BYTES} bytes "
                f"(this one is {size} bytes in UTF-8); use a shorter one."
            }
        )


def _rounds() -> int:
    from config import get_settings

    return get_settings().bcrypt_rounds


def hash_password(password: str) -> str:
    check_password_rules(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(_rounds())).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        encoded = password.encode("utf-8") if isinstance(password, str) else b""
    except UnicodeEncodeError:
        encoded = b""  # a lone surrogate: no stored password can match
    if not encoded or len(encoded) > MAX_PASSWORD_BYTES:
        dummy_check()
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode("ascii"))
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"timing-equaliser", bcrypt.gensalt(_rounds()))


def dummy_check() -> None:
    """Spend the time of a real check, so unknown usernames cannot be told apart."""
    bcrypt.checkpw(b"not-the-password", _dummy_hash())


def generate_password() -> str:
    return secrets.token_urlsafe(12)
