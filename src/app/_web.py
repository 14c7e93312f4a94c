"""The FastAPI application: middleware, static files, error pages and routers."""

from __future__ import annotations

import importlib
import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from earlywarning.app._db import create_schema, make_engine, make_sessionmaker
from earlywarning.app._deps import CsrfFailed, Forbidden, NotSignedIn
from earlywarning.app._security import SESSION_COOKIE, sign_session_id, unsign_session_id
from earlywarning.app._settings import Settings, load_settings
from earlywarning.app._templating import render
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["create_app", "STATIC_DIR"]

STATIC_DIR = Path(__file__).parent / "static"
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1", "testserver"}
log = logging.getLogger("earlywarning.app")

_SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"font-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
     b"base-uri 'none'; object-src 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def _host_name(scope: Scope) -> str:
    """Return the request's host without the port: ``localhost:8000`` → ``localhost``."""
    for k, v in scope.get("headers", []):
        if k == b"host":
            host = v.decode("latin-1")
            if host.startswith("["):  # [::1]:8000
                return host.split("]", 1)[0] + "]"
            return host.rsplit(":", 1)[0]
    return ""


class SessionCookieMiddleware:
    """Carry the server-side session id in a signed cookie; add security headers.

    Reads the cookie into ``request.state.session_id``; writes a new one when
    a route sets ``request.state.new_session_id`` (sign-in, first visit) or
    clears it when a route sets ``request.state.clear_session``.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _cookie(self, scope: Scope, value: str | None) -> bytes:
        secure = self.settings.cookie_secure
        if secure is None:
            secure = _host_name(scope) not in _LOCAL_HOSTS
        parts = [f"{SESSION_COOKIE}={value or ''}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if value is None:
            parts += ["Max-Age=0"]
        else:
            parts += [f"Max-Age={self.settings.session_max_age_seconds}"]
        if secure:
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie_value = None
        for k, v in scope.get("headers", []):
            if k == b"cookie":
                for part in v.decode("latin-1").split(";"):
                    name, _, val = part.strip().partition("=")
                    if name == SESSION_COOKIE:
                        cookie_value = val
        state = scope.setdefault("state", {})
        state["session_id"] = unsign_session_id(self.settings.effective_secret_key, cookie_value)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                new_sid = state.get("new_session_id")
                if new_sid:
                    signed = sign_session_id(self.settings.effective_secret_key, new_sid)
                    headers.append((b"set-cookie", self._cookie(scope, signed)))
                elif state.get("clear_session"):
                    headers.append((b"set-cookie", self._cookie(scope, None)))
                # A route that sets its own policy (a sandboxed report) keeps it.
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
                if not scope["path"].startswith(("/static/", "/assets/")):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


@asynccontextmanager
async def _lifespan(app: FastAPI):  # noqa: ANN202 - an async context manager
    """Warm up the fairness package (the approval gate) in the background.

    It imports the fairness audit's scientific stack, which takes seconds;
    loading it at start-up keeps the first ethics page from waiting.
    """
    threading.Thread(target=importlib.import_module, args=("earlywarning.fairness",),
                     daemon=True).start()
    yield


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :func:`~earlywarning.app._settings.load_settings` (``EW_*``
        environment variables).
    """
    from earlywarning.app.routes import _admin, _api, _auth, _cases, _ethics

    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    create_schema(engine)
    app = FastAPI(
        lifespan=_lifespan,
        title=f"{settings.service_name} API",
        version="1",
        description="Flags and explained child records for signed-in Early Help staff. "
        "Authentication is the session cookie of the web sign-in; need-to-know applies.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.add_middleware(SessionCookieMiddleware, settings=settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    app.mount("/assets", StaticFiles(directory=STATIC_DIR / "govuk" / "assets", check_dir=False),
              name="assets")
    for router in (_auth.router, _cases.router, _ethics.router, _admin.router, _api.router):
        app.include_router(router)

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, exc: NotSignedIn):  # noqa: ANN202
        if _wants_json(request):
            return JSONResponse({"detail": "Not signed in"}, status_code=401)
        return RedirectResponse("/sign-in", status_code=302)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):  # noqa: ANN202
        if _wants_json(request):
            return JSONResponse({"detail": "Forbidden"}, status_code=403)
        return render(request, "pages/error.html", {
            "title": "You do not have access to this page",
            "message": "This page is outside what your role and team can see. The attempt "
            "has been recorded. If you need access, ask your Early Help lead."},
            status_code=403)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed):  # noqa: ANN202
        return render(request, "pages/error.html", {
            "title": "Your form could not be sent",
            "message": "The page was out of date or your session ended. Go back, reload the "
            "page and try again."}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):  # noqa: ANN202
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        title = "Page not found" if exc.status_code == 404 else "Sorry, there is a problem"
        return render(request, "pages/error.html", {"title": title, "message": str(exc.detail)
                      if exc.status_code != 404 else "If you typed the web address, check it "
                      "is correct."}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):  # noqa: ANN202
        if _wants_json(request):
            return JSONResponse({"detail": "Invalid request"}, status_code=422)
        return render(request, "pages/error.html", {
            "title": "Sorry, there is a problem",
            "message": "The address or form had a value this service does not understand."},
            status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):  # noqa: ANN202
        log.error("unhandled error on %s %s: %s", request.method, request.url.path,
                  type(exc).__name__)
        if _wants_json(request):
            return JSONResponse({"detail": "Internal error"}, status_code=500)
        return render(request, "pages/error.html", {
            "title": "Sorry, there is a problem with the service",
            "message": "Try again later."}, status_code=500)

    return app
