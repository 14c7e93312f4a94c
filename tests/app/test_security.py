"""Security: CSRF, session fixation, URL guessing, SQL injection, XSS, throttling, logs."""

from __future__ import annotations

import logging

import pytest
from appkit import check_page, csrf_of, sign_in
from earlywarning.app._models import AuditEvent, Decision, Flag, Person, User
from earlywarning.app._sample_warehouse import XSS_NOTE
from earlywarning.app._security import SESSION_COOKIE
from earlywarning.app.services._auth import ERR_BAD_CREDENTIALS, ERR_THROTTLED
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError


def _flag(env, **where):
    with env.app.state.sessionmaker() as db:
        q = select(Flag)
        for k, v in where.items():
            q = q.where(getattr(Flag, k) == v if v is not None else getattr(Flag, k).is_(None))
        return db.scalar(q.order_by(Flag.rank))


def _user(env, username):
    with env.app.state.sessionmaker() as db:
        return db.scalar(select(User).where(User.username == username))


def test_decision_without_csrf_token_is_refused_and_not_stored(fresh_env):
    c = fresh_env.signed_in("lead")
    flag = _flag(fresh_env)
    r = c.post(f"/children/{flag.person_id}/decisions",
               data={"decision": "no_action", "agrees": "yes", "rationale": "x"})
    check_page(r, 400)
    r = c.post(f"/children/{flag.person_id}/decisions",
               data={"decision": "no_action", "agrees": "yes", "rationale": "x",
                     "csrf_token": "forged"})
    assert r.status_code == 400
    with fresh_env.app.state.sessionmaker() as db:
        assert db.scalar(select(Decision)) is None


def test_csrf_token_of_another_session_is_refused(fresh_env):
    attacker = fresh_env.signed_in("practitioner")
    victim = fresh_env.signed_in("lead")
    stolen = csrf_of(attacker.get("/accessibility").text)
    flag = _flag(fresh_env)
    r = victim.post(f"/children/{flag.person_id}/decisions",
                    data={"decision": "no_action", "agrees": "yes", "rationale": "x",
                          "csrf_token": stolen})
    assert r.status_code == 400


def test_sign_in_rotates_the_session_id_and_kills_the_planted_one(fresh_env):
    c = fresh_env.client()
    page = c.get("/sign-in")
    planted = c.cookies.get(SESSION_COOKIE)
    assert planted
    r = c.post("/sign-in", data={"username": "lead", "password": fresh_env.passwords["lead"],
                                 "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    fresh = c.cookies.get(SESSION_COOKIE)
    assert fresh and fresh != planted
    attacker = fresh_env.client()
    attacker.cookies.set(SESSION_COOKIE, planted)
    assert attacker.get("/flags", follow_redirects=False).status_code == 302


def test_session_cookie_is_httponly_samesite_lax_and_secure_off_localhost(fresh_env):
    local = fresh_env.client().get("/sign-in").headers["set-cookie"]
    assert "HttpOnly" in local and "SameSite=Lax" in local and "Secure" not in local
    remote = fresh_env.client("https://ew.example.gov.uk").get("/sign-in").headers["set-cookie"]
    assert "Secure" in remote and "HttpOnly" in remote


def test_tampered_cookie_is_ignored(fresh_env):
    c = fresh_env.signed_in("lead")
    value = c.cookies.get(SESSION_COOKIE)
    c.cookies.set(SESSION_COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1])
    assert c.get("/flags", follow_redirects=False).status_code == 302


def test_sign_out_ends_the_session_on_the_server(fresh_env):
    c = fresh_env.signed_in("lead")
    cookie = c.cookies.get(SESSION_COOKIE)
    c.post("/sign-out", data={"csrf_token": csrf_of(c.get("/flags").text)})
    replay = fresh_env.client()
    replay.cookies.set(SESSION_COOKIE, cookie)
    assert replay.get("/flags", follow_redirects=False).status_code == 302


def test_guessing_a_child_url_outside_scope_is_403_and_audited(fresh_env):
    prac = _user(fresh_env, "practitioner")
    c = fresh_env.signed_in("practitioner")
    with fresh_env.app.state.sessionmaker() as db:
        other = db.scalar(select(Flag).where(Flag.team_id != prac.team_id))
    r = c.get(f"/children/{other.person_id}")
    check_page(r, 403)
    assert "Flag" not in r.text.split("<main", 1)[1][:200]
    r = c.get(f"/api/children/{other.person_id}")
    assert r.status_code == 403 and r.json() == {"detail": "Forbidden"}
    with fresh_env.app.state.sessionmaker() as db:
        refusals = db.scalars(select(AuditEvent).where(AuditEvent.action == "refused_access")).all()
    assert [e.target for e in refusals] == [f"child:{other.person_id}"] * 2
    assert all(e.username == "practitioner" and e.outcome == "refused" for e in refusals)


def test_out_of_scope_child_is_not_marked_reviewed(fresh_env):
    prac = _user(fresh_env, "practitioner")
    c = fresh_env.signed_in("practitioner")
    other = _flag(fresh_env, team_id=None)
    c.get(f"/children/{other.person_id}")
    assert _flag(fresh_env, flag_id=other.flag_id).first_viewed_at is None
    assert prac.team_id is not None


@pytest.mark.parametrize("payload", [
    "' OR 1=1 --", "T-EH-N1' OR '1'='1", "x\"; DROP TABLE flags; --", "%", "_", "' UNION SELECT "
    "username, password_hash FROM users --"])
@pytest.mark.parametrize("param", ["team", "area", "band", "status", "sort", "order"])
def test_sql_injection_in_filters_matches_nothing_and_breaks_nothing(env, payload, param):
    c = env.signed_in("practitioner") if param == "team" else env.signed_in("lead")
    r = c.get("/flags", params={param: payload})
    assert r.status_code in (200, 422)  # 422: longer than the field allows
    check_page(r, r.status_code)
    api = c.get("/api/flags", params={param: payload})
    assert api.status_code in (200, 422)
    if param in ("team", "area", "band") and api.status_code == 200:
        assert api.json()["total"] == 0
    with env.app.state.sessionmaker() as db:
        assert db.scalar(select(Flag).limit(1)) is not None
        assert "$argon2" not in r.text


def test_family_voice_note_markup_is_escaped(env):
    c = env.signed_in("lead")
    r = c.get("/children/P00000C")
    check_page(r)
    assert "&lt;script&gt;alert(&#34;voice&#34;)&lt;/script&gt;" in r.text
    assert XSS_NOTE not in r.text and "<b>now</b>" not in r.text
    assert "NOT CONSENTED NOTE" not in r.text


def test_login_is_throttled_after_repeated_failures(fresh_env):
    c = fresh_env.client()
    for _ in range(fresh_env.settings.login_max_failures):
        r = sign_in(c, "lead", "wrong-password")
        assert ERR_BAD_CREDENTIALS in r.text
    r = sign_in(c, "lead", fresh_env.passwords["lead"])
    assert r.status_code == 429 and ERR_THROTTLED in r.text
    check_page(r, 429, title="Error: ")
    with fresh_env.app.state.sessionmaker() as db:
        actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("sign_in_failed") == fresh_env.settings.login_max_failures
    assert actions[-1] == "sign_in_throttled"


def test_one_users_lockout_does_not_lock_out_colleagues_at_the_same_address(fresh_env):
    c = fresh_env.client()
    for _ in range(fresh_env.settings.login_max_failures + 1):
        sign_in(c, "lead", "wrong-password")
    assert sign_in(c, "admin", fresh_env.passwords["admin"]).status_code == 303


def test_many_failures_from_one_address_are_throttled_whatever_the_username(fresh_env):
    from earlywarning.app.services._auth import IP_FAILURE_FACTOR

    c = fresh_env.client()
    for i in range(fresh_env.settings.login_max_failures * IP_FAILURE_FACTOR):
        sign_in(c, f"guess{i}", "x")
    assert sign_in(c, "admin", fresh_env.passwords["admin"]).status_code == 429


def test_unknown_user_gets_the_same_message_as_a_wrong_password(fresh_env):
    c = fresh_env.client()
    assert ERR_BAD_CREDENTIALS in sign_in(c, "nobody", "x").text
    assert ERR_BAD_CREDENTIALS in sign_in(c, "lead", "x").text


def test_audit_log_and_decisions_refuse_update_and_delete_in_the_database(fresh_env):
    c = fresh_env.signed_in("lead")
    flag = _flag(fresh_env)
    page = c.get(f"/children/{flag.person_id}").text
    c.post(f"/children/{flag.person_id}/decisions",
           data={"decision": "no_action", "agrees": "yes", "rationale": "Fine",
                 "csrf_token": csrf_of(page)})
    engine = fresh_env.app.state.engine
    for stmt in ("UPDATE audit_events SET username = 'x'", "DELETE FROM audit_events",
                 "UPDATE decisions SET rationale = 'x'", "DELETE FROM decisions"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM decisions")).scalar() == 1


def test_no_names_or_contacts_in_logs_or_audit(fresh_env, caplog):
    caplog.set_level(logging.DEBUG)
    c = fresh_env.signed_in("lead")
    c.get("/flags")
    flag = _flag(fresh_env)
    page = c.get(f"/children/{flag.person_id}").text
    c.post(f"/children/{flag.person_id}/decisions",
           data={"decision": "offer_early_help", "agrees": "yes", "rationale": "Offer support",
                 "csrf_token": csrf_of(page)})
    c.get(f"/api/children/{flag.person_id}")
    admin = fresh_env.signed_in("admin")
    csv_text = admin.get("/admin/audit.csv").text
    with fresh_env.app.state.sessionmaker() as db:
        names = {n for p in db.scalars(select(Person)) for n in (p.forename, p.surname) if n}
        emails = {e for (e,) in db.execute(text("SELECT lead_email FROM service_involvements"))}
    logged = "\n".join(r.getMessage() for r in caplog.records) + csv_text
    assert names and emails
    leaked = [n for n in names | emails if n in logged]
    assert not leaked, f"names or contacts in logs/audit: {leaked[:5]}"
    assert flag.person_id in csv_text


def test_api_without_session_is_401_json(env):
    r = env.client().get("/api/flags")
    assert r.status_code == 401 and r.json() == {"detail": "Not signed in"}


def test_api_never_returns_names_or_contacts(env):
    c = env.signed_in("lead")
    body = c.get("/api/children/P00000C").text + c.get("/api/flags").text
    with env.app.state.sessionmaker() as db:
        p = db.get(Person, "P00000C")
    assert p.forename not in body and p.surname not in body and "@" not in body


def test_pages_send_security_headers(env):
    r = env.client().get("/sign-in")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
