"""Every route × every role → the expected status (200 / 403 / 302 / 303 / 401 / 404)."""

from __future__ import annotations

import pytest
from appkit import check_page, csrf_of, sign_in
from earlywarning.app._models import Flag, User
from sqlalchemy import select
from starlette.routing import Mount

USERS = ("anon", "lead", "area_lead", "practitioner", "ethics", "scientist", "admin")
CASE = {"lead", "area_lead", "practitioner"}
RUN = "demo/20250601T000000"


@pytest.fixture(scope="module")
def children(env):
    with env.app.state.sessionmaker() as db:
        prac = db.scalar(select(User).where(User.username == "practitioner"))
        area_lead = db.scalar(select(User).where(User.username == "area_lead"))
        mine = db.scalar(select(Flag).where(Flag.team_id == prac.team_id))
        other_area = db.scalar(select(Flag).where(Flag.area_id.is_not(None),
                                                  Flag.area_id != area_lead.area_id))
        unallocated = db.scalar(select(Flag).where(Flag.team_id.is_(None)))
    return {"mine": mine.person_id, "other_area": other_area.person_id,
            "unallocated": unallocated.person_id}


def expected(user: str, only: set[str], anon: int = 302, ok: int = 200) -> int:
    if user == "anon":
        return anon
    return ok if user in only else 403


def matrix(children) -> list[tuple[str, str, dict[str, int], dict | None]]:
    mine, other, unalloc = children["mine"], children["other_area"], children["unallocated"]
    decision = {"decision": "offer_early_help", "agrees": "yes", "rationale": "Agreed at panel"}
    review = {"outcome": "refuse", "reasons": "Needs more evidence"}
    rows = [
        ("GET", "/", {u: 302 for u in USERS}, None),
        ("GET", "/sign-in", {u: 200 if u == "anon" else 302 for u in USERS}, None),
        ("POST", "/sign-in", {u: 200 for u in USERS}, {"username": "x", "password": "y"}),
        ("GET", "/accessibility", {u: 200 for u in USERS}, None),
        ("GET", "/council-logo", {u: 404 for u in USERS}, None),
        ("GET", "/flags", {u: expected(u, CASE) for u in USERS}, None),
        ("GET", f"/children/{mine}", {u: expected(u, CASE) for u in USERS}, None),
        ("GET", f"/children/{other}", {u: expected(u, {"lead"}) for u in USERS}, None),
        ("GET", f"/children/{unalloc}", {u: expected(u, {"lead"}) for u in USERS}, None),
        ("GET", "/children/NOBODY", {u: expected(u, CASE, ok=404) for u in USERS}, None),
        ("POST", f"/children/{mine}/decisions",
         {u: expected(u, {"lead", "area_lead"}, ok=303) for u in USERS}, decision),
        ("POST", f"/children/{other}/decisions",
         {u: expected(u, {"lead"}, ok=303) for u in USERS}, decision),
        ("GET", "/ethics", {u: expected(u, {"ethics"}) for u in USERS}, None),
        ("GET", f"/ethics/runs/{RUN}", {u: expected(u, {"ethics"}) for u in USERS}, None),
        ("GET", f"/ethics/runs/{RUN}/documents/ethics_report",
         {u: expected(u, {"ethics", "scientist"}) for u in USERS}, None),
        ("GET", "/ethics/runs/demo/nope", {u: expected(u, {"ethics"}, ok=404) for u in USERS},
         None),
        ("POST", f"/ethics/runs/{RUN}/review", {u: expected(u, {"ethics"}, ok=303) for u in USERS},
         review),
        ("GET", "/ethics/overrides", {u: expected(u, {"ethics"}) for u in USERS}, None),
        ("GET", "/runs", {u: expected(u, {"ethics", "scientist"}) for u in USERS}, None),
        ("GET", "/admin/audit", {u: expected(u, {"admin"}) for u in USERS}, None),
        ("GET", "/admin/audit.csv", {u: expected(u, {"admin"}) for u in USERS}, None),
        ("GET", "/api/flags", {u: expected(u, CASE, anon=401) for u in USERS}, None),
        ("GET", f"/api/children/{mine}", {u: expected(u, CASE, anon=401) for u in USERS}, None),
        ("GET", f"/api/children/{other}", {u: expected(u, {"lead"}, anon=401) for u in USERS},
         None),
        ("GET", "/api/openapi.json", {u: 200 for u in USERS}, None),
        ("POST", "/sign-out", {u: 303 for u in USERS}, {}),
    ]
    return rows


ROUTE_TEMPLATES = {
    ("GET", "/"), ("GET", "/sign-in"), ("POST", "/sign-in"), ("POST", "/sign-out"),
    ("GET", "/accessibility"), ("GET", "/council-logo"), ("GET", "/flags"),
    ("GET", "/children/{person_id}"),
    ("POST", "/children/{person_id}/decisions"), ("GET", "/ethics"),
    ("GET", "/ethics/runs/{pipeline}/{ts}"),
    ("GET", "/ethics/runs/{pipeline}/{ts}/documents/{name}"),
    ("POST", "/ethics/runs/{pipeline}/{ts}/review"), ("GET", "/ethics/overrides"),
    ("GET", "/runs"), ("GET", "/admin/audit"), ("GET", "/admin/audit.csv"),
    ("GET", "/api/flags"), ("GET", "/api/children/{person_id}"), ("GET", "/api/openapi.json"),
}


def test_matrix_covers_every_route(env):
    from earlywarning.app.routes import _admin, _api, _auth, _cases, _ethics

    routers = [m.router for m in (_admin, _api, _auth, _cases, _ethics)]
    candidates = [*env.app.routes, *(r for router in routers for r in router.routes)]
    routes = {(m, r.path) for r in candidates if not isinstance(r, Mount)
              for m in (getattr(r, "methods", None) or ()) if m != "HEAD"}
    assert routes == ROUTE_TEMPLATES


def _client(env, user):
    c = env.client()
    if user == "anon":
        c.get("/sign-in")
    else:
        r = sign_in(c, user, env.passwords[user])
        assert r.status_code == 303
    return c


@pytest.mark.parametrize("user", USERS)
def test_every_route_for_role(env, children, user):
    c = _client(env, user)
    failures = []
    for method, path, expect, form in matrix(children):  # sign-out comes last
        if method == "GET":
            r = c.get(path, follow_redirects=False)
        else:
            token = csrf_of(c.get("/sign-in" if user == "anon" else "/accessibility").text)
            r = c.post(path, data={**form, "csrf_token": token}, follow_redirects=False)
        want = expect[user]
        if r.status_code != want:
            failures.append(f"{method} {path} as {user}: {r.status_code}, expected {want}")
        elif (r.headers.get("content-type", "").startswith("text/html")
              and want in (200, 403, 404) and "/documents/" not in path):
            try:
                check_page(r, want)
            except AssertionError as exc:
                failures.append(f"{method} {path} as {user}: {exc}")
    assert not failures, "\n".join(failures)
