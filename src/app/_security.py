"""Password hashing, session ids, signed cookies and CSRF tokens."""

from __future__ import annotations

import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, Signer

__all__ = [
    "SESSION_COOKIE",
    "hash_password",
    "verify_password",
    "new_token",
    "sign_session_id",
    "unsign_session_id",
    "csrf_matches",
    "DUMMY_HASH",
]

SESSION_COOKIE = "ew_session"
_HASHER = PasswordHasher()
DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
"""Verified against when the username is unknown, so timing does not reveal it."""


def hash_password(password: str) -> str:
    """Hash ``password`` with argon2id."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password`` against ``password_hash`` (never raises on a mismatch).

    With no hash (unknown user) a dummy hash is verified and ``False``
    returned, so the time taken does not reveal whether the user exists.
    """
    if password_hash is None:
        try:
            _HASHER.verify(DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """Return a random URL-safe token with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def _signer(secret_key: str) -> Signer:
    return Signer(secret_key, salt="earlywarning.session")


def sign_session_id(secret_key: str, session_id: str) -> str:
    """Return the cookie value for ``session_id``."""
    return _signer(secret_key).sign(session_id).decode()


def unsign_session_id(secret_key: str, cookie_value: str | None) -> str | None:
    """Return the session id in a cookie value, or ``None`` if missing or tampered with."""
    if not cookie_value:
        return None
    try:
        return _signer(secret_key).unsign(cookie_value).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the submitted one."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
