"""The approval gate: only an approval against the audited report moves 'champion'."""

from __future__ import annotations

import json

import pytest
from earlywarning.fairness import ApprovalError, approve, read_approvals, require_champion
from earlywarning.fairness import _messages as msg
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from .conftest import copy_run


def _champion(uri: str, name: str) -> str | None:
    try:
        return str(MlflowClient(tracking_uri=uri).get_model_version_by_alias(
            name, "champion").version)
    except MlflowException:
        return None


@pytest.fixture
def run(audited_run, tmp_path, registered):
    uri, name, run_id = registered
    run_dir = copy_run(audited_run, tmp_path, model_name=name, run_id=run_id,
                       registered_version="2")
    return run_dir, uri, name


def test_approve_moves_champion_and_records_who_when_why(run):
    run_dir, uri, name = run
    record = approve(run_dir, "approve", "Disparities discussed; Early Help only.", "Chair")
    assert _champion(uri, name) == "2"
    stored = read_approvals(run_dir.parents[1] / "approvals.jsonl")
    assert [r.decision for r in stored] == ["approve"]
    audit = json.loads((run_dir / "fairness" / "audit.json").read_text())
    assert stored[0].report_sha256 == audit["report_sha256"] == record.report_sha256
    assert stored[0].by == "Chair" and stored[0].reason.startswith("Disparities")
    tags = MlflowClient(tracking_uri=uri).get_model_version(name, "2").tags
    assert tags["earlywarning.approval.decision"] == "approve"
    assert require_champion(name, tracking_uri=uri) == "2"


def test_refuse_records_and_does_not_move_champion(run):
    run_dir, uri, name = run
    record = approve(run_dir, "refuse", "Calibration for small groups unclear.", "Chair")
    assert _champion(uri, name) is None
    assert record.alias_moved is False
    assert [r.decision for r in read_approvals(run_dir.parents[1] / "approvals.jsonl")] == [
        "refuse"]


def test_failed_pass_bar_cannot_be_approved(run):
    run_dir, uri, name = run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["pass_bar"].update(passed=False, headline="FAILED the pre-registered bar: AUC")
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(ApprovalError) as err:
        approve(run_dir, "approve", "Looks fine", "Chair")
    assert str(err.value) == msg.FAILED_PASS_BAR.format(
        run_dir=run_dir, why="performance: FAILED the pre-registered bar: AUC")
    assert _champion(uri, name) is None
    assert not (run_dir.parents[1] / "approvals.jsonl").exists()


def test_changed_report_cannot_be_decided_on(run):
    run_dir, uri, name = run
    report = run_dir / "fairness" / "ethics_report.html"
    report.write_text(report.read_text().replace("Summary", "Summery"))
    with pytest.raises(ApprovalError, match="the ethics report changed since it was audited"):
        approve(run_dir, "approve", "Looks fine", "Chair")
    assert _champion(uri, name) is None


def test_scoring_refuses_a_champion_set_without_approval(run):
    _, uri, name = run
    with pytest.raises(ApprovalError) as err:
        require_champion(name, tracking_uri=uri)
    assert str(err.value) == msg.NOT_APPROVED.format(model_name=name)
    MlflowClient(tracking_uri=uri).set_registered_model_alias(name, "champion", "2")
    with pytest.raises(ApprovalError, match="has no approval record"):
        require_champion(name, tracking_uri=uri)


def test_a_later_refusal_withdraws_approval_for_scoring(run):
    run_dir, uri, name = run
    approve(run_dir, "approve", "ok", "Chair")
    approve(run_dir, "refuse", "New evidence of harm", "Chair")
    assert _champion(uri, name) == "2"  # refusing moves nothing...
    with pytest.raises(ApprovalError, match="has no approval record"):
        require_champion(name, tracking_uri=uri)  # ...but scoring stops


def test_edited_store_is_detected(run):
    run_dir, uri, name = run
    approve(run_dir, "refuse", "first", "Chair")
    approve(run_dir, "refuse", "second", "Chair")
    store = run_dir.parents[1] / "approvals.jsonl"
    lines = store.read_text().splitlines()
    store.write_text(lines[0].replace("first", "FIRST") + "\n" + lines[1] + "\n")
    with pytest.raises(ApprovalError, match="line 2 breaks the chain"):
        read_approvals(store)


@pytest.mark.parametrize(("decision", "reason", "who", "expected"), [
    ("maybe", "r", "w", msg.BAD_DECISION.format(decision="maybe")),
    ("approve", "  ", "w", msg.EMPTY_REASON),
    ("approve", "r", "", msg.EMPTY_APPROVER),
])
def test_bad_decisions_are_refused_with_their_reason(audited_run, tmp_path, decision, reason,
                                                     who, expected):
    run_dir = copy_run(audited_run, tmp_path)
    with pytest.raises(ApprovalError) as err:
        approve(run_dir, decision, reason, who)
    assert str(err.value) == expected


def test_unaudited_run_cannot_be_decided_on(tmp_path):
    from .conftest import make_run

    run_dir = make_run(tmp_path, n=300)
    with pytest.raises(ApprovalError) as err:
        approve(run_dir, "approve", "ok", "Chair")
    assert str(err.value) == msg.NO_REPORT.format(
        run_dir=run_dir, path=run_dir / "fairness" / "ethics_report.html")


def test_approve_cli_records_a_refusal_and_explains_a_blocked_approval(audited_run, tmp_path,
                                                                        registered):
    from earlywarning.cli import app
    from typer.testing import CliRunner

    uri, name, run_id = registered
    run_dir = copy_run(audited_run, tmp_path, model_name=name, run_id=run_id,
                       registered_version="2")
    runner = CliRunner()
    ok = runner.invoke(app, ["approve", str(run_dir), "--decision", "refuse",
                             "--reason", "Needs a second look", "--by", "Board"])
    assert ok.exit_code == 0, ok.output
    assert "Recorded decision #1: refuse by Board" in " ".join(ok.output.split())
    (run_dir / "fairness" / "ethics_report.html").write_text("tampered")
    blocked = runner.invoke(app, ["approve", str(run_dir), "--decision", "approve",
                                  "--reason", "ok", "--by", "Board"])
    assert blocked.exit_code == 2
    assert "the ethics report changed since it was audited" in " ".join(blocked.output.split())
    assert _champion(uri, name) is None
