"""Sign-in, sign-out, the home redirect and the accessibility statement."""

from __future__ import annotations

from typing import Annotated

from earlywarning.app._deps import (
    OptionalUser,
    SessionDep,
    SettingsDep,
    WebSessionDep,
    client_ip,
    verify_csrf,
)
from earlywarning.app._templating import NAVIGATION, render
from earlywarning.app.services import _auth
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

router = APIRouter(include_in_schema=False)


def _home(role: str) -> str:
    return NAVIGATION[role][0][1]


@router.get("/")
def home(user: OptionalUser) -> RedirectResponse:
    """Send a signed-in user to their role's first page, anyone else to sign in."""
    return RedirectResponse(_home(user.role) if user else "/sign-in", status_code=302)


def _ensure_session(request: Request, db: SessionDep, web_session: WebSessionDep) -> None:
    if web_session is None:
        web_session = _auth.new_anonymous_session(db)
        request.state.new_session_id = web_session.id
        request.state.web_session = web_session


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(
    request: Request, db: SessionDep, web_session: WebSessionDep, user: OptionalUser
) -> HTMLResponse:
    """Show the sign-in form (already signed-in users go to their home page)."""
    if user is not None:
        return RedirectResponse(_home(user.role), status_code=302)
    _ensure_session(request, db, web_session)
    return render(request, "pages/sign_in.html", {"errors": {}, "username": ""})


@router.post("/sign-in", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
def sign_in(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    web_session: WebSessionDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse:
    """Check the credentials; on success rotate the session id and go home."""
    errors = {}
    if not username.strip():
        errors["username"] = "Enter your username"
    if not password:
        errors["password"] = "Enter your password"
    if not errors:
        result = _auth.sign_in(db, settings, username=username, password=password,
                               ip=client_ip(request),
                               old_session_id=web_session.id if web_session else None)
        if result.session is not None and result.user is not None:
            request.state.new_session_id = result.session.id
            return RedirectResponse(_home(result.user.role), status_code=303)
        errors["username"] = result.error
    return render(request, "pages/sign_in.html", {"errors": errors, "username": username[:80]},
                  status_code=429 if errors.get("username") == _auth.ERR_THROTTLED else 200)


@router.post("/sign-out", dependencies=[Depends(verify_csrf)])
def sign_out(
    request: Request, db: SessionDep, web_session: WebSessionDep, user: OptionalUser
) -> RedirectResponse:
    """End the session on the server and clear the cookie."""
    if web_session is not None:
        _auth.sign_out(db, web_session.id, user, client_ip(request))
    request.state.clear_session = True
    return RedirectResponse("/sign-in", status_code=303)


@router.get("/council-logo")
def council_logo(settings: SettingsDep) -> FileResponse:
    """Serve the council's logo named by ``EW_COUNCIL_LOGO_PATH``."""
    if settings.council_logo_path is None:
        raise HTTPException(status_code=404, detail="No logo configured")
    media = "image/svg+xml" if settings.council_logo_path.suffix.lower() == ".svg" else "image/png"
    return FileResponse(settings.council_logo_path, media_type=media,
                        headers={"content-security-policy": "default-src 'none'; "
                                 "style-src 'unsafe-inline'"})


@router.get("/accessibility", response_class=HTMLResponse)
def accessibility(request: Request, user: OptionalUser) -> HTMLResponse:
    """Show the accessibility statement."""
    return render(request, "pages/accessibility.html", user=user)
