"""Ethics board and data scientist pages: runs, reports, reviews, override analysis."""

from __future__ import annotations

import json
from typing import Annotated

from earlywarning.app._deps import (
    DataScientist,
    EthicsBoard,
    SessionDep,
    SettingsDep,
    client_ip,
    verify_csrf,
)
from earlywarning.app._templating import render
from earlywarning.app.services._ethics import (
    GROUPINGS,
    override_analysis,
    submit_review,
)
from earlywarning.app.services._runs import (
    DOCUMENTS,
    RunInfo,
    approvals_by_run,
    discover_runs,
    find_run,
    read_document,
)
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

router = APIRouter(include_in_schema=False)


def _run(settings, pipeline: str, ts: str) -> RunInfo:  # noqa: ANN001
    run = find_run(settings.runs_dir, f"{pipeline}/{ts}")
    if run is None:
        raise HTTPException(status_code=404, detail="Run not found")
    return run


@router.get("/ethics", response_class=HTMLResponse)
def ethics_home(request: Request, settings: SettingsDep,
                user: EthicsBoard) -> HTMLResponse:
    """List runs with an ethics report: awaiting a decision first, then decided."""
    decisions, store_error = approvals_by_run(settings.runs_dir)
    runs = [r for r in discover_runs(settings.runs_dir) if r.has_reports]
    return render(request, "pages/ethics.html", {
        "awaiting": [r for r in runs if r.key not in decisions],
        "decided": [(r, decisions[r.key][-1]) for r in runs if r.key in decisions],
        "store_error": store_error})


def _run_ctx(settings, run: RunInfo, errors: dict, outcome: str = "",  # noqa: ANN001
             reasons: str = "") -> dict:
    docs = []
    for name, (label, _) in DOCUMENTS.items():
        doc = read_document(run, name)
        if doc is not None and doc[0] == "json":
            try:
                doc = ("json", json.dumps(json.loads(doc[1]), indent=2))
            except ValueError:
                pass
        docs.append((name, label, doc))
    decisions, store_error = approvals_by_run(settings.runs_dir)
    return {"run": run, "docs": docs, "errors": errors, "outcome": outcome, "reasons": reasons,
            "decisions": decisions.get(run.key, []), "store_error": store_error}


@router.get("/ethics/runs/{pipeline}/{ts}", response_class=HTMLResponse)
def ethics_run(request: Request, settings: SettingsDep, user: EthicsBoard,
               pipeline: str, ts: str) -> HTMLResponse:
    """One run's ethics report, model card and ATRS record, and the review form."""
    return render(request, "pages/ethics_run.html",
                  _run_ctx(settings, _run(settings, pipeline, ts), {}))


@router.get("/ethics/runs/{pipeline}/{ts}/documents/{name}")
def ethics_document(settings: SettingsDep, user: DataScientist, pipeline: str, ts: str,
                    name: str) -> Response:
    """Serve an HTML report as its own document, for the sandboxed frame on the run page."""
    run = _run(settings, pipeline, ts)
    doc = read_document(run, name) if name in DOCUMENTS else None
    if doc is None or doc[0] != "html":
        raise HTTPException(status_code=404, detail="Document not found")
    return Response(doc[1], media_type="text/html",
                    headers={"content-security-policy": "sandbox; default-src 'none'; "
                             "img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"})


@router.post("/ethics/runs/{pipeline}/{ts}/review", response_class=HTMLResponse,
             dependencies=[Depends(verify_csrf)])
def ethics_review(
    request: Request, db: SessionDep, settings: SettingsDep, user: EthicsBoard,
    pipeline: str, ts: str,
    outcome: Annotated[str, Form(max_length=16)] = "",
    reasons: Annotated[str, Form(max_length=20000)] = "",
) -> HTMLResponse:
    """Approve or refuse the run through the approval gate."""
    run = _run(settings, pipeline, ts)
    result = submit_review(db, user, run, outcome, reasons, ip=client_ip(request))
    if result.review is None:
        return render(request, "pages/ethics_run.html",
                      _run_ctx(settings, run, result.errors, outcome, reasons), status_code=400)
    return RedirectResponse(f"/ethics/runs/{run.key}?reviewed=1", status_code=303)


@router.get("/ethics/overrides", response_class=HTMLResponse)
def overrides(request: Request, db: SessionDep, user: EthicsBoard) -> HTMLResponse:
    """How often practitioners override flags, by group and by reason."""
    return render(request, "pages/overrides.html",
                  {"analysis": override_analysis(db), "groupings": GROUPINGS})


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, settings: SettingsDep,
              user: DataScientist) -> HTMLResponse:
    """Every model run with its metrics, pass/fail and a link to MLflow."""
    decisions, store_error = approvals_by_run(settings.runs_dir)
    return render(request, "pages/runs.html", {
        "runs": discover_runs(settings.runs_dir), "decisions": decisions,
        "store_error": store_error})
