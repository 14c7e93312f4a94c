"""Early Help pages: the flag list, the child page and decisions."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from earlywarning.app._deps import (
    CaseWorker,
    Forbidden,
    Lead,
    SessionDep,
    SettingsDep,
    client_ip,
    verify_csrf,
)
from earlywarning.app._models import Flag, ImportRecord, User
from earlywarning.app._templating import render
from earlywarning.app.services import _audit
from earlywarning.app.services._children import ChildNotFound, OutOfScope, child_view
from earlywarning.app.services._decisions import (
    DECISIONS,
    OVERRIDE_REASONS,
    DecisionForm,
    record_decision,
)
from earlywarning.app.services._flags import (
    SORT_KEYS,
    STATUSES,
    FlagFilters,
    filter_options,
    list_flags,
)
from earlywarning.app.services._runs import approved_models
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

router = APIRouter(include_in_schema=False)
PERSON_ID = r"^[A-Za-z0-9_.:-]{1,64}$"


def parse_filters(
    team: Annotated[str | None, Query(max_length=64)] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
    band: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    sort: Annotated[str, Query(max_length=16)] = "rank",
    order: Annotated[str, Query(max_length=4)] = "asc",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> FlagFilters:
    """Query parameters → :class:`FlagFilters` (unknown sort/status values are ignored)."""
    return FlagFilters(team=team or None, area=area or None, band=band or None,
                       status=status if status in STATUSES else None,
                       sort=sort if sort in SORT_KEYS else "rank",
                       descending=order == "desc", page=page)


Filters = Annotated[FlagFilters, Depends(parse_filters)]


def _latest_import(db: SessionDep) -> ImportRecord | None:
    return db.scalar(select(ImportRecord).order_by(ImportRecord.id.desc()).limit(1))


@router.get("/flags", response_class=HTMLResponse)
def flags_page(
    request: Request, db: SessionDep, settings: SettingsDep, user: CaseWorker, filters: Filters
) -> HTMLResponse:
    """List the current flags the user may see."""
    page = list_flags(db, user, filters, page_size=settings.page_size)
    latest = _latest_import(db)
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}

    def page_url(n: int) -> str:
        return "/flags?" + urlencode({**params, "page": n})

    def sort_url(key: str) -> str:
        again = filters.sort == key and not filters.descending
        rest = {k: v for k, v in params.items() if k not in ("sort", "order")}
        return "/flags?" + urlencode({**rest, "sort": key, "order": "desc" if again else "asc"})

    models = set(db.execute(select(Flag.model_name, Flag.model_version).distinct()
                            .where(Flag.current.is_(True))).tuples())
    unapproved = sorted(models - approved_models(settings.runs_dir))
    return render(request, "pages/flags.html", {
        "unapproved": unapproved,
        "page": page, "page_url": page_url, "sort_url": sort_url,
        "options": filter_options(db, user, latest.id if latest else None),
        "sort_keys": SORT_KEYS,
        "statuses": [(s, s.capitalize()) for s in STATUSES], "latest_import": latest,
    })


def load_child(request: Request, db: SessionDep, user: User, person_id: str,
               mark_viewed: bool = True):  # noqa: ANN201 - ChildView
    """Build the child's view for ``user``; 404 when unknown, 403 (audited) when out of scope."""
    try:
        return child_view(db, user, person_id, mark_viewed=mark_viewed)
    except ChildNotFound:
        raise HTTPException(status_code=404, detail="Child not found") from None
    except OutOfScope:
        _audit.record(db, "refused_access", user=user, target=f"child:{person_id}",
                      outcome="refused", ip=client_ip(request), detail={"reason": "scope"})
        raise Forbidden() from None


@router.get("/children/{person_id}", response_class=HTMLResponse)
def child_page(request: Request, db: SessionDep, settings: SettingsDep, user: CaseWorker,
               person_id: str) -> HTMLResponse:
    """Show a flag explained, with the family's story, services, contacts and voice."""
    view = load_child(request, db, user, person_id)
    _audit.record(db, "view_child", user=user, target=f"child:{person_id}",
                  ip=client_ip(request), detail={"flag_id": view.flag.flag_id})
    return render(request, "pages/child.html", _child_ctx(settings, view, DecisionForm(), {}))


def _child_ctx(settings, view, form: DecisionForm, errors: dict) -> dict:  # noqa: ANN001
    approved = (view.flag.model_name, view.flag.model_version) in approved_models(
        settings.runs_dir)
    return {"view": view, "form": form, "errors": errors, "decisions": DECISIONS,
            "override_reasons": OVERRIDE_REASONS, "model_approved": approved}


@router.post("/children/{person_id}/decisions", response_class=HTMLResponse,
             dependencies=[Depends(verify_csrf)])
def decide(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    user: Lead,
    person_id: str,
    decision: Annotated[str, Form(max_length=64)] = "",
    agrees: Annotated[str, Form(max_length=8)] = "",
    override_reason: Annotated[str, Form(max_length=64)] = "",
    rationale: Annotated[str, Form(max_length=20000)] = "",
) -> HTMLResponse:
    """Record a new version of the decision on the child's current flag."""
    view = load_child(request, db, user, person_id, mark_viewed=False)
    form = DecisionForm(decision, agrees, override_reason, rationale)
    stored, errors = record_decision(db, user, view.flag, form, ip=client_ip(request))
    if stored is None:
        return render(request, "pages/child.html",
                      _child_ctx(settings, view, form, errors.fields),
                      status_code=400)
    return RedirectResponse(f"/children/{person_id}?decided={stored.version}#decisions",
                            status_code=303)
