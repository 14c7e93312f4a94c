"""The JSON API: the same sign-in and need-to-know as the pages.

Output schemas are separate from the stored models, so nothing is exposed
by accident: the API never returns names or contact details.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from earlywarning.app._deps import CaseWorker, SessionDep, SettingsDep, client_ip
from earlywarning.app.routes._cases import load_child
from earlywarning.app.services import _audit
from earlywarning.app.services._flags import SORT_KEYS, STATUSES, FlagFilters, list_flags
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

router = APIRouter(prefix="/api", tags=["flags"])


class ReasonOut(BaseModel):
    """A reason for or against a flag."""

    direction: Literal["risk", "protective", "missing_data"] | str
    agency: str | None
    feature: str | None
    text: str
    contribution: float | None


class ProvenanceOut(BaseModel):
    """A source the flag saw."""

    agency: str
    extract_date: dt.date | None
    coverage: float | None
    note: str | None


class FlagOut(BaseModel):
    """One flag as the list shows it."""

    flag_id: str
    person_id: str
    family_id: str | None
    as_of: dt.date
    risk: float
    band: str
    rank: int
    status: Literal["new", "reviewed", "decided"]
    team_id: str | None
    area_id: str | None
    data_as_of: dt.date | None
    top_reasons: list[str]


class FlagListOut(BaseModel):
    """A page of flags."""

    total: int
    page: int
    pages: int
    flags: list[FlagOut]


class DecisionOut(BaseModel):
    """One version of a decision."""

    version: int
    decision: str
    agrees_with_flag: bool
    override_reason: str | None
    created_at: dt.datetime


class ChildOut(BaseModel):
    """A child's current flag, explained (no names or contact details)."""

    person_id: str
    flag: FlagOut
    risk_in_words: str
    reasons_for: list[ReasonOut]
    reasons_against: list[ReasonOut]
    missing_data: list[ReasonOut]
    provenance: list[ProvenanceOut]
    model_limits: list[str]
    decisions: list[DecisionOut]


SortKey = Literal[tuple(SORT_KEYS)]  # type: ignore[valid-type]
Status = Literal[tuple(STATUSES)]  # type: ignore[valid-type]


def api_filters(
    team: Annotated[str | None, Query(max_length=64)] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
    band: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[Status | None, Query()] = None,
    sort: Annotated[SortKey, Query()] = "rank",
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> FlagFilters:
    """Validate the query parameters of ``GET /api/flags``."""
    return FlagFilters(team=team or None, area=area or None, band=band or None, status=status,
                       sort=sort, descending=order == "desc", page=page)


def _flag_out(flag, status: str, top: list[str]) -> FlagOut:  # noqa: ANN001
    return FlagOut(flag_id=flag.flag_id, person_id=flag.person_id, family_id=flag.family_id,
                   as_of=flag.as_of, risk=flag.risk, band=flag.band, rank=flag.rank,
                   status=status, team_id=flag.team_id, area_id=flag.area_id,
                   data_as_of=flag.data_as_of, top_reasons=top)


@router.get("/flags", response_model=FlagListOut,
            responses={401: {"description": "Not signed in"}, 403: {"description": "Forbidden"}})
def api_flags(db: SessionDep, settings: SettingsDep, user: CaseWorker,
              filters: Annotated[FlagFilters, Depends(api_filters)]) -> FlagListOut:
    """List the current flags the signed-in user may see, filtered, sorted and paged."""
    page = list_flags(db, user, filters, page_size=settings.page_size)
    return FlagListOut(total=page.total, page=page.page, pages=page.pages,
                       flags=[_flag_out(r.flag, r.status, r.top_reasons) for r in page.rows])


def _reason(r) -> ReasonOut:  # noqa: ANN001
    return ReasonOut(direction=r.direction, agency=r.agency, feature=r.feature, text=r.text,
                     contribution=r.contribution)


@router.get("/children/{person_id}", response_model=ChildOut,
            responses={401: {"description": "Not signed in"}, 403: {"description": "Forbidden"},
                       404: {"description": "Child not found"}})
def api_child(
    request: Request, db: SessionDep, user: CaseWorker,
    person_id: Annotated[str, Path(max_length=64)],
) -> ChildOut:
    """Return a child's current flag with its reasons, provenance and decisions."""
    view = load_child(request, db, user, person_id)
    _audit.record(db, "view_child", user=user, target=f"child:{person_id}",
                  ip=client_ip(request), detail={"flag_id": view.flag.flag_id, "via": "api"})
    top = [r.text for r in view.reasons_for[:3]]
    return ChildOut(
        person_id=person_id,
        flag=_flag_out(view.flag, view.status, top),
        risk_in_words=view.risk_words,
        reasons_for=[_reason(r) for r in view.reasons_for],
        reasons_against=[_reason(r) for r in view.reasons_against],
        missing_data=[_reason(r) for r in view.missing_data],
        provenance=[ProvenanceOut(agency=p.agency, extract_date=p.extract_date,
                                  coverage=p.coverage, note=p.note) for p in view.provenance],
        model_limits=view.model_limits,
        decisions=[DecisionOut(version=d.version, decision=d.decision,
                               agrees_with_flag=d.agrees_with_flag,
                               override_reason=d.override_reason, created_at=d.created_at)
                   for d in view.decisions],
    )
