"""Admin pages: the audit log and its CSV export."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from earlywarning.app._deps import Admin, SessionDep, client_ip
from earlywarning.app._templating import render
from earlywarning.app.services import _audit
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, db: SessionDep, user: Admin,
    action: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    """Show the audit log, newest first."""
    action = action if action in _audit.AUDIT_ACTIONS else None
    total = _audit.count_events(db, action)
    pages = max(1, -(-total // PAGE_SIZE))
    def page_url(n: int) -> str:
        return "/admin/audit?" + urlencode({**({"action": action} if action else {}), "page": n})

    return render(request, "pages/audit.html", {
        "page_url": page_url,
        "events": _audit.list_events(db, action=action, page=min(page, pages),
                                     page_size=PAGE_SIZE),
        "actions": [(a, a.replace("_", " ").capitalize())
                                          for a in _audit.AUDIT_ACTIONS],
        "action": action, "page": min(page, pages),
        "pages": pages, "total": total})


@router.get("/admin/audit.csv")
def audit_csv(request: Request, db: SessionDep, user: Admin,
              action: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """Export the audit log as CSV (the export itself is audited)."""
    action = action if action in _audit.AUDIT_ACTIONS else None
    _audit.record(db, "export_audit", user=user, ip=client_ip(request),
                  detail={"action": action})
    name = f"audit-{dt.date.today():%Y%m%d}.csv"
    # Built in full before the request's database session closes.
    content = "".join(_audit.export_csv(db, action))
    return Response(content, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})
