"""Sign-in with throttling, server-side sessions and session rotation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from earlywarning.app._models import ROLES, LoginAttempt, User, WebSession, utcnow
from earlywarning.app._security import hash_password, new_token, verify_password
from earlywarning.app._settings import Settings
from earlywarning.app.services import _audit
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

__all__ = [
    "SignInResult",
    "ERR_BAD_CREDENTIALS",
    "ERR_THROTTLED",
    "sign_in",
    "sign_out",
    "new_anonymous_session",
    "load_session",
    "create_user",
]

ERR_BAD_CREDENTIALS = "Enter a correct username and password"
ERR_THROTTLED = "Too many failed attempts. Wait 15 minutes, then try again"


@dataclass
class SignInResult:
    """The outcome of a sign-in attempt: a new session id, or an error message."""

    session: WebSession | None = None
    user: User | None = None
    error: str | None = None


IP_FAILURE_FACTOR = 10
"""An address may fail this many times more than one username (offices share addresses)."""


def _throttled(db: Session, settings: Settings, username: str, ip: str) -> bool:
    since = utcnow() - dt.timedelta(seconds=settings.login_window_seconds)
    recent = (select(func.count()).select_from(LoginAttempt)
              .where(LoginAttempt.at >= since, LoginAttempt.success.is_(False)))
    by_user = db.scalar(recent.where(LoginAttempt.username == username)) or 0
    by_ip = db.scalar(recent.where(LoginAttempt.ip == ip)) or 0
    return (by_user >= settings.login_max_failures
            or by_ip >= settings.login_max_failures * IP_FAILURE_FACTOR)


def sign_in(
    db: Session,
    settings: Settings,
    *,
    username: str,
    password: str,
    ip: str,
    old_session_id: str | None,
) -> SignInResult:
    """Check credentials and, on success, start a fresh session.

    The old (anonymous) session is deleted and a new id issued, so an id
    planted before sign-in is useless after it (no session fixation). After
    ``login_max_failures`` failures for the username (ten times as many for
    the address) within ``login_window_seconds`` every attempt is refused,
    right or wrong.
    """
    username = username.strip().lower()[:80]
    if _throttled(db, settings, username, ip):
        db.add(LoginAttempt(username=username, ip=ip, success=False))
        _audit.record(db, "sign_in_throttled", username=username, outcome="refused", ip=ip)
        return SignInResult(error=ERR_THROTTLED)
    user = db.scalar(select(User).where(User.username == username, User.active.is_(True)))
    ok = verify_password(user.password_hash if user else None, password)
    if not (ok and user):
        db.add(LoginAttempt(username=username, ip=ip, success=False))
        _audit.record(db, "sign_in_failed", username=username, outcome="refused", ip=ip)
        return SignInResult(error=ERR_BAD_CREDENTIALS)
    if old_session_id:
        db.execute(delete(WebSession).where(WebSession.id == old_session_id))
    session = WebSession(id=new_token(), user_id=user.id, csrf_token=new_token())
    db.add(session)
    db.add(LoginAttempt(username=username, ip=ip, success=True))
    _audit.record(db, "sign_in", user=user, ip=ip)
    return SignInResult(session=session, user=user)


def sign_out(db: Session, session_id: str, user: User | None, ip: str | None) -> None:
    """End the session on the server (the cookie is cleared by the caller)."""
    db.execute(delete(WebSession).where(WebSession.id == session_id))
    _audit.record(db, "sign_out", user=user, ip=ip)


def new_anonymous_session(db: Session) -> WebSession:
    """Start a session without a user, carrying the CSRF token of the sign-in form."""
    session = WebSession(id=new_token(), user_id=None, csrf_token=new_token())
    db.add(session)
    db.commit()
    return session


def load_session(db: Session, settings: Settings, session_id: str) -> WebSession | None:
    """Return the live session with ``session_id``; expired sessions are deleted."""
    session = db.get(WebSession, session_id)
    if session is None:
        return None
    now = utcnow()
    too_old = now - session.created_at > dt.timedelta(seconds=settings.session_max_age_seconds)
    idle = now - session.last_seen_at > dt.timedelta(seconds=settings.session_idle_seconds)
    if too_old or idle:
        db.delete(session)
        db.commit()
        return None
    if now - session.last_seen_at > dt.timedelta(seconds=60):
        session.last_seen_at = now
        db.commit()
    return session


def create_user(
    db: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    team_id: str | None = None,
    area_id: str | None = None,
) -> User:
    """Create a user with an argon2 hash of ``password``.

    Raises
    ------
    ValueError
        If the role is unknown or the username is taken.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {ROLES}")
    username = username.strip().lower()
    if db.scalar(select(User).where(User.username == username)):
        raise ValueError(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        team_id=team_id,
        area_id=area_id,
        password_hash=hash_password(password),
    )
    db.add(user)
    db.commit()
    return user
