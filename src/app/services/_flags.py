"""The flag list: current flags within capacity, filtered, sorted and paged."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from earlywarning.app._models import Decision, Flag, FlagReason, Person, Team, User
from earlywarning.app.services._bands import split_band
from earlywarning.app.services._scope import flag_scope
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

__all__ = ["FlagFilters", "FlagRow", "FlagPage", "SORT_KEYS", "STATUSES", "list_flags",
           "filter_options", "flag_status"]

STATUSES = ("new", "reviewed", "decided")
SORT_KEYS = {
    "rank": "Rank (highest risk first)",
    "risk": "Risk",
    "team": "Team",
    "area": "Area",
    "status": "Status",
    "freshness": "Data freshness (oldest first)",
}


@dataclass(frozen=True)
class FlagFilters:
    """What the user asked for; every value is checked against a whitelist."""

    team: str | None = None
    area: str | None = None
    band: str | None = None
    status: str | None = None
    sort: str = "rank"
    descending: bool = False
    page: int = 1


@dataclass
class FlagRow:
    """One line of the flag list."""

    flag: Flag
    status: str
    team_name: str
    area_name: str
    top_reasons: list[str] = field(default_factory=list)
    child_name: str | None = None


@dataclass
class FlagPage:
    """A page of flags plus what the pagination needs."""

    rows: list[FlagRow]
    total: int
    page: int
    pages: int
    filters: FlagFilters


def _decided():  # noqa: ANN202 - an EXISTS clause
    return exists().where(Decision.flag_id == Flag.flag_id)


def _status_expr():  # noqa: ANN202 - a CASE expression
    return case(
        (_decided(), "decided"),
        (Flag.first_viewed_at.is_not(None), "reviewed"),
        else_="new",
    )


def flag_status(flag: Flag, decided: bool) -> str:
    """``decided`` once a decision exists, ``reviewed`` once opened, else ``new``."""
    if decided:
        return "decided"
    return "reviewed" if flag.first_viewed_at is not None else "new"


def list_flags(db: Session, user: User, filters: FlagFilters, page_size: int = 25) -> FlagPage:
    """List the current flags ``user`` may see, filtered, sorted and paged.

    Parameters
    ----------
    db : Session
    user : User
        Scope comes from :func:`~earlywarning.app.services._scope.flag_scope`.
    filters : FlagFilters
        Unknown sort keys fall back to rank; values are bound parameters,
        never pasted into SQL.
    page_size : int
    """
    status = _status_expr().label("status")
    conds = [Flag.current.is_(True), flag_scope(user)]
    if filters.team:
        conds.append(Flag.team_id.is_(None) if filters.team == "none"
                     else Flag.team_id == filters.team)
    if filters.area:
        conds.append(Flag.area_id.is_(None) if filters.area == "none"
                     else Flag.area_id == filters.area)
    if filters.band:  # a level ("high"), matched in bands such as "about 1 in 3 (high)"
        conds.append(or_(Flag.band == filters.band,
                         Flag.band.endswith(f"({filters.band})", autoescape=True)))
    if filters.status in STATUSES:
        conds.append(_status_expr() == filters.status)
    where = and_(*conds)
    total = db.scalar(select(func.count()).select_from(Flag).where(where)) or 0
    pages = max(1, math.ceil(total / page_size))
    page = min(max(filters.page, 1), pages)

    sort_cols = {
        "rank": Flag.rank,
        "risk": Flag.risk,
        "team": func.coalesce(Team.team_name, Flag.team_id, "~"),
        "area": func.coalesce(Team.area_name, Flag.area_id, "~"),
        "status": status,
        "freshness": Flag.data_as_of,
    }
    key = sort_cols.get(filters.sort, Flag.rank)
    order = [key.desc() if filters.descending else key.asc(), Flag.rank.asc()]
    q = (
        select(Flag, status, Team.team_name, Team.area_name, Person.forename, Person.surname)
        .outerjoin(Team, Team.team_id == Flag.team_id)
        .outerjoin(Person, Person.person_id == Flag.person_id)
        .where(where)
        .order_by(*order)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    result = db.execute(q).all()
    ids = [r[0].flag_id for r in result]
    reasons: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        rq = (
            select(FlagReason.flag_id, FlagReason.text)
            .where(FlagReason.flag_id.in_(ids), FlagReason.direction == "risk")
            .order_by(FlagReason.flag_id, FlagReason.order)
        )
        for fid, text in db.execute(rq):
            if len(reasons[fid]) < 3:
                reasons[fid].append(text)
    rows = [
        FlagRow(flag=f, status=s, team_name=tn or f.team_id or "Not allocated",
                area_name=an or f.area_id or "Not known", top_reasons=reasons[f.flag_id],
                child_name=" ".join(p for p in (fn, sn) if p) or None)
        for f, s, tn, an, fn, sn in result
    ]
    return FlagPage(rows=rows, total=total, page=page, pages=pages, filters=filters)


_OPTIONS_CACHE: dict[tuple, dict[str, list[tuple[str, str]]]] = {}


def filter_options(
    db: Session, user: User, import_id: int | None = None
) -> dict[str, list[tuple[str, str]]]:
    """List the teams, areas and bands present among the flags ``user`` may see.

    With ``import_id`` (the latest import) the answer is cached per scope
    until the next import: the options change only when flags are imported.
    """
    key = (import_id, user.role, user.team_id, user.area_id)
    if import_id is not None and key in _OPTIONS_CACHE:
        return _OPTIONS_CACHE[key]
    options = _filter_options(db, user)
    if import_id is not None:
        if len(_OPTIONS_CACHE) > 1000:
            _OPTIONS_CACHE.clear()
        _OPTIONS_CACHE[key] = options
    return options


def _levels(bands: list) -> list[tuple[str, str]]:
    """Risk levels present among ``(band, highest risk)`` rows, highest first.

    Bands read "about 1 in 3 (high)": the list offers "high", not each frequency.
    """
    best: dict[str, float] = {}
    for band, risk in bands:
        level = split_band(band or "", float(risk or 0))[1] or band
        if level:
            best[level] = max(best.get(level, 0.0), float(risk or 0))
    return [(lv, lv.capitalize()) for lv in sorted(best, key=lambda lv: -best[lv])]


def _filter_options(db: Session, user: User) -> dict[str, list[tuple[str, str]]]:
    base = and_(Flag.current.is_(True), flag_scope(user))
    teams = db.execute(
        select(Flag.team_id, Team.team_name).distinct()
        .outerjoin(Team, Team.team_id == Flag.team_id).where(base)
    ).all()
    areas = db.execute(
        select(Flag.area_id, func.max(Team.area_name))
        .outerjoin(Team, Team.area_id == Flag.area_id).where(base).group_by(Flag.area_id)
    ).all()
    bands = db.execute(
        select(Flag.band, func.max(Flag.risk)).where(base).group_by(Flag.band)
    ).all()
    return {
        "team": sorted((t or "none", n or t or "Not allocated") for t, n in teams),
        "area": sorted((a or "none", n or a or "Not known") for a, n in areas),
        "band": _levels(bands),
    }
