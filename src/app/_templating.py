"""Jinja2 templates (autoescaped) and the shared page context."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from earlywarning.app._models import ROLE_LABELS, User
from earlywarning.data.schema import AGENCIES
from earlywarning.wording import metric_label
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.responses import HTMLResponse

__all__ = ["templates", "render", "NAVIGATION"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.auto_reload = False  # templates ship with the package: no stat() per render
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")

NAVIGATION = {
    "early_help_lead": [("Flags", "/flags")],
    "practitioner": [("Flags", "/flags")],
    "ethics_board": [("Runs to review", "/ethics"), ("Override analysis", "/ethics/overrides"),
                     ("Model runs", "/runs")],
    "data_scientist": [("Model runs", "/runs")],
    "admin": [("Audit log", "/admin/audit")],
}


def _date(value: dt.date | dt.datetime | None, fmt: str = "%-d %B %Y") -> str:
    """GOV.UK date style: 5 January 2025."""
    return value.strftime(fmt) if value else "Not known"


def _datetime(value: dt.datetime | None) -> str:
    return value.strftime("%-d %B %Y at %H:%M UTC") if value else "Not known"


def _percent(value: float | None, digits: int = 0) -> str:
    return "Not known" if value is None else f"{100 * value:.{digits}f}%"


_MD_CLASSES = {
    "heading_open": "govuk-heading-s",
    "paragraph_open": "govuk-body",
    "bullet_list_open": "govuk-list govuk-list--bullet",
    "ordered_list_open": "govuk-list govuk-list--number",
    "table_open": "govuk-table",
    "tr_open": "govuk-table__row",
    "th_open": "govuk-table__header",
    "td_open": "govuk-table__cell",
    "link_open": "govuk-link",
}


def _markdown(text: str, shift: int = 2) -> Markup:
    """Render Markdown as HTML; raw HTML is escaped, headings move down ``shift`` levels.

    Shifting keeps the page's own ``<h1>`` the only one (``# Model card`` → ``<h3>``).
    """
    tokens = _MD.parse(text)
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + shift)}"
        if tok.type in _MD_CLASSES:
            tok.attrSet("class", _MD_CLASSES[tok.type])
    return Markup(_MD.renderer.render(tokens, _MD.options, {}))  # noqa: S704 - html is off


def _agency(code: str | None) -> str:
    return AGENCIES.get(code or "", (code or "Not known").replace("_", " ").capitalize())


def _error_list(errors: dict[str, str]) -> list[dict[str, str]]:
    """Errors as the GOV.UK error summary wants them; each links to its field."""
    return [{"text": msg, "href": f"#{field}"} for field, msg in errors.items() if msg]


def _options_items(pairs) -> list[dict[str, str]]:  # noqa: ANN001
    """``[(value, text)]`` → GOV.UK select items."""
    return [{"value": v, "text": t} for v, t in pairs]


templates.env.filters.update(date=_date, datetime=_datetime, percent=_percent,
                             markdown=_markdown, agency=_agency, metric_label=metric_label)
templates.env.globals.update(ROLE_LABELS=ROLE_LABELS, error_list=_error_list,
                             options_items=_options_items)


def render(
    request: Request, template: str, context: dict | None = None, status_code: int = 200,
    user: User | None = None,
) -> HTMLResponse:
    """Render ``template`` with the shared context (settings, user, CSRF token, navigation)."""
    settings = request.app.state.settings
    user = user or getattr(request.state, "user", None)
    web_session = getattr(request.state, "web_session", None)
    path = request.url.path
    nav = [
        {"text": text, "href": href, "current": path == href,
         "active": path != href and path.startswith(href + "/")}
        for text, href in (NAVIGATION.get(user.role, []) if user else [])
    ]
    ctx = {
        "settings": settings,
        "user": user,
        "csrf_token": web_session.csrf_token if web_session else "",
        "navigation": nav,
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)
