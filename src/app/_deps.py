"""Request dependencies: database session, web session, current user, roles, CSRF.

Routes declare what they need with the ``Annotated`` aliases below and read
like plain functions::

    @router.get("/flags")
    def flags(db: SessionDep, user: CaseWorker): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from earlywarning.app._models import User, WebSession
from earlywarning.app._security import csrf_matches
from earlywarning.app._settings import Settings
from earlywarning.app.services import _audit, _auth
from earlywarning.app.services._scope import CASE_ROLES
from fastapi import Depends, Request
from sqlalchemy.orm import Session

__all__ = [
    "NotSignedIn",
    "Forbidden",
    "CsrfFailed",
    "SessionDep",
    "SettingsDep",
    "WebSessionDep",
    "OptionalUser",
    "CurrentUser",
    "CaseWorker",
    "Lead",
    "EthicsBoard",
    "DataScientist",
    "Admin",
    "require_roles",
    "verify_csrf",
    "client_ip",
]


class NotSignedIn(Exception):
    """No live signed-in session: pages redirect to sign-in, the API answers 401."""


class Forbidden(Exception):
    """The signed-in user may not do this (already audited)."""


class CsrfFailed(Exception):
    """A form arrived without the session's CSRF token."""


def get_settings(request: Request) -> Settings:
    """Return the app's settings."""
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    """One database session per request, closed afterwards."""
    db = request.app.state.sessionmaker()
    try:
        yield db
    finally:
        db.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]


def client_ip(request: Request) -> str:
    """Return the client's address (the direct peer; no proxy headers are trusted)."""
    return request.client.host if request.client else "unknown"


def get_web_session(request: Request, db: SessionDep, settings: SettingsDep) -> WebSession | None:
    """Return the request's live server-side session, if any."""
    sid = request.state.session_id
    session = _auth.load_session(db, settings, sid) if sid else None
    request.state.web_session = session
    return session


WebSessionDep = Annotated[WebSession | None, Depends(get_web_session)]


def get_optional_user(db: SessionDep, web_session: WebSessionDep) -> User | None:
    """Return the signed-in user, or ``None``."""
    if web_session is None or web_session.user_id is None:
        return None
    user = db.get(User, web_session.user_id)
    return user if user is not None and user.active else None


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_current_user(request: Request, user: OptionalUser) -> User:
    """Return the signed-in user; raise :class:`NotSignedIn` otherwise."""
    if user is None:
        raise NotSignedIn()
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: str) -> Callable[..., User]:
    """Build a dependency that lets through users with one of ``roles`` and audits refusals."""

    def dependency(request: Request, db: SessionDep, user: CurrentUser) -> User:
        if user.role not in roles:
            _audit.record(db, "refused_access", user=user, target=request.url.path,
                          outcome="refused", ip=client_ip(request),
                          detail={"reason": "role", "method": request.method})
            raise Forbidden()
        return user

    return dependency


CaseWorker = Annotated[User, Depends(require_roles(*CASE_ROLES))]
Lead = Annotated[User, Depends(require_roles("early_help_lead"))]
EthicsBoard = Annotated[User, Depends(require_roles("ethics_board"))]
DataScientist = Annotated[User, Depends(require_roles("data_scientist", "ethics_board"))]
Admin = Annotated[User, Depends(require_roles("admin"))]


async def verify_csrf(request: Request, web_session: WebSessionDep) -> None:
    """Refuse a form whose ``csrf_token`` field does not match the session's token."""
    form = await request.form()
    token = form.get("csrf_token")
    if web_session is None or not csrf_matches(web_session.csrf_token, str(token or "")):
        raise CsrfFailed()

