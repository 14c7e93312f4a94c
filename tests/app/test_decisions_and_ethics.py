"""Decisions (versioned, overrides expected) and the ethics board pages (the approval gate)."""

from __future__ import annotations

import pytest
from appkit import BAD_RUN, GOOD_RUN, build_env, check_page, csrf_of, make_runs
from earlywarning.app._models import AuditEvent, Decision, Flag
from earlywarning.app.services._decisions import ERR_OVERRIDE, ERR_RATIONALE
from sqlalchemy import select


def _post_decision(client, person_id, **form):
    page = client.get(f"/children/{person_id}")
    return client.post(f"/children/{person_id}/decisions",
                       data={**form, "csrf_token": csrf_of(page.text)}, follow_redirects=False)


def test_decisions_are_versioned_and_never_overwritten(fresh_env):
    c = fresh_env.signed_in("lead")
    r1 = _post_decision(c, "P00001C", decision="offer_early_help", agrees="yes",
                        rationale="Mum asked for help with routines")
    r2 = _post_decision(c, "P00001C", decision="no_action", agrees="no",
                        override_reason="already_supported", rationale="School already helping")
    assert r1.status_code == r2.status_code == 303
    assert r2.headers["location"] == "/children/P00001C?decided=2#decisions"
    with fresh_env.app.state.sessionmaker() as db:
        ds = db.scalars(select(Decision).order_by(Decision.version)).all()
        audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "decision")).all()
    assert [(d.version, d.decision, d.agrees_with_flag) for d in ds] == [
        (1, "offer_early_help", True), (2, "no_action", False)]
    assert ds[0].rationale == "Mum asked for help with routines"
    assert len(audit) == 2
    page = c.get("/children/P00001C?decided=2")
    check_page(page)
    assert "Decision recorded (version 2)" in page.text
    assert page.text.index("School already helping") < page.text.index("Mum asked for help")


def test_override_needs_a_reason_and_rationale_but_is_never_blocked(fresh_env):
    c = fresh_env.signed_in("lead")
    r = _post_decision(c, "P00001C", decision="step_up", agrees="no", rationale="  ")
    check_page(r, 400, title="Error: ")
    assert ERR_OVERRIDE in r.text and ERR_RATIONALE in r.text
    assert 'href="#override_reason"' in r.text and 'id="override_reason"' in r.text
    r = _post_decision(c, "P00001C", decision="step_up", agrees="no",
                       override_reason="risk_higher", rationale="Worse than it looks")
    assert r.status_code == 303


def test_a_decision_moves_the_flag_to_decided_in_the_list(fresh_env):
    c = fresh_env.signed_in("lead")
    assert c.get("/api/flags", params={"status": "decided"}).json()["total"] == 0
    _post_decision(c, "P00001C", decision="offer_early_help", agrees="yes", rationale="Yes")
    decided = c.get("/api/flags", params={"status": "decided"}).json()
    assert [f["person_id"] for f in decided["flags"]] == ["P00001C"]
    reviewed = c.get("/api/flags", params={"status": "reviewed"}).json()
    assert reviewed["total"] == 0


def test_the_sources_table_says_how_much_of_each_source_is_linked(fresh_env):
    page = fresh_env.signed_in("lead").get("/children/P00001C")
    check_page(page)
    sources = page.text[page.text.index('id="sources"'):page.text.index('id="family"')]
    assert "100% linked" in sources and "75% linked" in sources and "Not linked" in sources
    assert "The council's own records" in sources  # children's social care: no coverage measure
    assert "Not known" not in sources


def test_opening_a_child_marks_the_flag_reviewed(fresh_env):
    c = fresh_env.signed_in("lead")
    c.get("/children/P00003C")
    flags = c.get("/api/flags", params={"status": "reviewed"}).json()["flags"]
    assert [f["person_id"] for f in flags] == ["P00003C"]


def test_flag_list_filters_sorts_and_pages(env):
    c = env.signed_in("lead")
    everything = c.get("/api/flags", params={"sort": "risk", "order": "desc"}).json()
    risks = [f["risk"] for f in everything["flags"]]
    assert risks == sorted(risks, reverse=True) and everything["total"] == 40
    assert everything["pages"] == 2 and len(everything["flags"]) == 25
    page2 = c.get("/api/flags", params={"page": 2}).json()
    assert len(page2["flags"]) == 15
    north = c.get("/api/flags", params={"area": "A-NORTH"}).json()
    assert north["total"] and all(f["area_id"] == "A-NORTH" for f in north["flags"])
    none = c.get("/api/flags", params={"team": "none"}).json()
    assert none["total"] and all(f["team_id"] is None for f in none["flags"])
    html = c.get("/flags", params={"team": "T-EH-S1", "page": 1})
    check_page(html)
    assert "Early Help South 1" in html.text
    assert 'href="/flags?team=T-EH-S1&amp;sort=risk&amp;order=asc"' in html.text
    again = c.get("/flags", params={"team": "T-EH-S1", "sort": "risk", "order": "asc"}).text
    assert 'aria-sort="ascending"' in again
    assert 'href="/flags?team=T-EH-S1&amp;sort=risk&amp;order=desc"' in again


def test_the_risk_level_filter_offers_levels_and_keeps_every_band_of_the_level(env):
    c = env.signed_in("lead")
    flags = [f for page in (1, 2)
             for f in c.get("/api/flags", params={"page": page}).json()["flags"]]
    bands = {f["band"] for f in flags}
    high = c.get("/api/flags", params={"band": "high"}).json()
    assert high["total"] == sum(f["band"].endswith("(high)") for f in flags) > 0
    assert all(f["band"].endswith("(high)") for f in high["flags"])
    assert c.get("/api/flags", params={"band": "hi%"}).json()["total"] == 0  # no wildcards
    page = c.get("/flags")
    check_page(page)
    assert '<option value="high">High</option>' in page.text
    assert not any(f'<option value="{b}"' in page.text for b in bands)


def test_practitioner_sees_only_their_team(env):
    c = env.signed_in("practitioner")
    with env.app.state.sessionmaker() as db:
        from earlywarning.app._models import User
        team = db.scalar(select(User).where(User.username == "practitioner")).team_id
        expected = db.query(Flag).filter(Flag.team_id == team).count()
    got = c.get("/api/flags").json()
    assert got["total"] == expected and {f["team_id"] for f in got["flags"]} == {team}


def test_area_lead_sees_only_their_area(env):
    c = env.signed_in("area_lead")
    got = c.get("/api/flags", params={"page": 1}).json()
    assert got["total"] and len({f["area_id"] for f in got["flags"]}) == 1


# --- ethics board --------------------------------------------------------------------------


def _review(client, key, **form):
    page = client.get(f"/ethics/runs/{key}")
    return client.post(f"/ethics/runs/{key}/review",
                       data={**form, "csrf_token": csrf_of(page.text)}, follow_redirects=False)


def test_ethics_run_page_shows_report_card_and_atrs_inline(env):
    c = env.signed_in("ethics")
    page = c.get(f"/ethics/runs/{GOOD_RUN}")
    check_page(page)
    assert f'src="/ethics/runs/{GOOD_RUN}/documents/ethics_report"' in page.text
    assert "Intended use: prompts for Early Help." in page.text
    assert "&lt;script&gt;x()&lt;/script&gt;" in page.text and "<script>x()" not in page.text
    assert "ATRS record" in page.text and "AUC 0.81 beats the rule" in page.text
    doc = c.get(f"/ethics/runs/{GOOD_RUN}/documents/ethics_report")
    policies = doc.headers.get_list("content-security-policy")
    assert doc.status_code == 200 and len(policies) == 1 and policies[0].startswith("sandbox;")


def test_path_tricks_in_run_keys_find_nothing(env):
    c = env.signed_in("ethics")
    for key in ("demo/..", "../etc/passwd", "demo/.hidden", "demo/%2e%2e"):
        assert c.get(f"/ethics/runs/{key}").status_code == 404


def test_refusal_goes_through_the_gate_and_leaves_the_queue(fresh_env):
    c = fresh_env.signed_in("ethics")
    assert GOOD_RUN in c.get("/ethics").text
    r = _review(c, GOOD_RUN, outcome="refuse", reasons="Calibration for Black children unclear")
    assert r.status_code == 303
    from earlywarning.fairness import read_approvals
    records = read_approvals(fresh_env.settings.runs_dir / "approvals.jsonl")
    assert [(x.decision, x.by, x.reason) for x in records] == [
        ("refuse", "ethics", "Calibration for Black children unclear")]
    home = c.get("/ethics")
    awaiting = home.text.split("Awaiting a decision")[1].split("Decided")[0]
    assert GOOD_RUN not in awaiting
    check_page(c.get(f"/ethics/runs/{GOOD_RUN}?reviewed=1"))


def test_gate_refuses_to_approve_a_run_that_failed_its_pass_bar(fresh_env):
    c = fresh_env.signed_in("ethics")
    r = _review(c, BAD_RUN, outcome="approve", reasons="Looks fine")
    check_page(r, 400, title="Error: ")
    assert "pass bar" in r.text.lower() or "performance" in r.text.lower()
    assert not (fresh_env.settings.runs_dir / "approvals.jsonl").exists()
    with fresh_env.app.state.sessionmaker() as db:
        ev = db.scalar(select(AuditEvent).where(AuditEvent.action == "run_review"))
    assert ev.outcome == "refused"


def test_review_needs_an_outcome_and_reasons(fresh_env):
    c = fresh_env.signed_in("ethics")
    r = _review(c, GOOD_RUN, outcome="", reasons="")
    check_page(r, 400, title="Error: ")
    assert "Select approve or refuse" in r.text and "Enter the reasons" in r.text


@pytest.mark.slow
def test_approval_moves_the_champion_alias_in_mlflow(tmp_path, sample_warehouse, template_env):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("earlywarning-demo")
    mv = client.create_model_version("earlywarning-demo", source=str(tmp_path))
    runs = make_runs(tmp_path / "runs", tracking_uri=uri, version=str(mv.version))
    env = build_env(tmp_path / "env", sample_warehouse, runs=runs, template=template_env)
    lead = env.signed_in("lead")
    warning = "which the ethics board has not approved"
    assert warning in lead.get("/flags").text
    assert "has not been approved by the ethics board" in lead.get("/children/P00000C").text
    c = env.signed_in("ethics")
    r = _review(c, GOOD_RUN, outcome="approve", reasons="Meets both bars; reviewed calibration")
    assert r.status_code == 303
    assert client.get_model_version_by_alias("earlywarning-demo", "champion").version == mv.version
    assert "Approved by ethics" in c.get(f"/ethics/runs/{GOOD_RUN}").text
    assert warning not in lead.get("/flags").text
    assert "has not been approved" not in lead.get("/children/P00000C").text


def test_override_analysis_by_group_and_reason_suppresses_small_groups(fresh_env):
    lead = fresh_env.signed_in("lead")
    for i in range(6):
        _post_decision(lead, f"P{i:05d}C", decision="no_action", agrees="no" if i < 4 else "yes",
                       override_reason="professional_knowledge" if i < 4 else "",
                       rationale="Known to us")
    c = fresh_env.signed_in("ethics")
    page = c.get("/ethics/overrides")
    check_page(page)
    assert "6 decisions, 4 overrides" in page.text
    assert "I know things about the family that the data does not show" in page.text
    from earlywarning.app.services._ethics import override_analysis
    with fresh_env.app.state.sessionmaker() as db:
        a = override_analysis(db)
    assert a["by_reason"] == [("I know things about the family that the data does not show", 4)]
    for rows in a["by_group"].values():
        for row in rows:
            assert (row["rate"] is None) == (row["n"] < 5)
    sex = {r["group"]: r for r in a["by_group"]["sex"]}
    assert sum(r["n"] for r in sex.values()) == 6


def test_runs_page_shows_metrics_pass_fail_and_mlflow_link(env):
    c = env.signed_in("scientist")
    page = c.get("/runs")
    check_page(page)
    assert "0.81 (0.79 to 0.83)" in page.text and "lightgbm (candidate)" in page.text
    assert page.text.count("Failed") >= 1 and page.text.count("Passed") >= 1
    assert env.settings.mlflow_ui_url in page.text
    assert ">ROC-AUC</th>" in page.text and ">roc auc</th>" not in page.text


def test_the_runs_page_lists_model_runs_only_with_counts_as_whole_numbers(fresh_env):
    import json

    from earlywarning.app.services._runs import discover_runs

    runs_dir = fresh_env.settings.runs_dir
    (runs_dir / "demo" / "scoring" / "2026-03-31").mkdir(parents=True)  # what scoring writes
    good = runs_dir / GOOD_RUN / "metrics.json"
    metrics = json.loads(good.read_text())
    metrics["models"]["lightgbm"]["flagged_at_top_10pct"] = {
        "value": 1558.0, "ci_low": 1531.0, "ci_high": 1590.0}
    good.write_text(json.dumps(metrics))
    assert "demo/scoring" not in {r.key for r in discover_runs(runs_dir)}
    page = fresh_env.signed_in("scientist").get("/runs")
    check_page(page)
    assert "demo/scoring" not in page.text
    assert "Flagged at top 10%" in page.text and "1,558 (1,531 to 1,590)" in page.text
