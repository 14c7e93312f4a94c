"""Auditing a run folder or a vendor's score file: the report and governance artefacts."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from earlywarning.cli import app
from earlywarning.fairness import audit_run, simulate_scores
from earlywarning.fairness._digest import sha256_file
from mlflow import MlflowClient
from typer.testing import CliRunner

from .conftest import make_run

runner = CliRunner()


def test_report_hash_in_audit_json_is_the_reports(audited_run):
    audit = json.loads((audited_run / "fairness" / "audit.json").read_text())
    assert audit["report_sha256"] == sha256_file(audited_run / "fairness" / "ethics_report.html")
    assert audit["model_name"] == "earlywarning-demo" and audit["model_version"] == "1"


def test_ethics_report_puts_the_summary_first(audited_run):
    html = (audited_run / "fairness" / "ethics_report.html").read_text()
    summary, bar, misuse = (html.index('id="summary"'), html.index("Fairness bar"),
                            html.index('id="use"'))
    assert summary < bar < misuse < html.index('id="data"') < html.index('id="method"')
    assert "PASSED</span> PASSED the pre-registered bar" in html
    assert "@media print" in html and "data:image/png;base64," in html
    assert "too few to say" in html  # the demo config's min_group_size hides small groups


def test_model_card_states_intended_use_and_limits(audited_run):
    card = (audited_run / "fairness" / "model_card.md").read_text()
    for heading in ("## Intended use", "## Data", "## Metrics", "## Fairness", "## Limits",
                    "## Ethical considerations"):
        assert heading in card
    assert "**Early Help support only**" in card and "investigation" in card
    # read by an ethics board: the outcome and the metrics in words, not config keys
    assert "- Outcome: a child protection plan or coming into care within 365 days" in card
    assert "- ROC-AUC: 0.740 (95% interval 0.720 to 0.760)" in card
    assert "- Training rows: 10,000;" in card
    assert "['" not in card and "roc auc" not in card
    assert "<h2>Intended use</h2>" in (audited_run / "fairness" / "model_card.html").read_text()


def test_atrs_record_has_tier_1_and_the_five_tier_2_sections(audited_run):
    record = json.loads((audited_run / "fairness" / "atrs_record.json").read_text())
    assert record["metadata"]["atrs_version"] == "v3.0"
    assert set(record["tier_1"]) == {"1_name", "2_description", "3_website_url",
                                     "4_contact_email"}
    assert list(record["tier_2"]) == [
        "1_owner_and_responsibility", "2_description_and_rationale",
        "3_decision_making_process", "4_tool_specification",
        "5_risks_mitigations_and_impact_assessments"]
    assert record["tier_1"]["4_contact_email"].startswith("Not yet recorded")
    assert "## 1 owner and responsibility" in (
        audited_run / "fairness" / "atrs_record.md").read_text()


def test_equality_inputs_say_which_characteristics_the_data_cannot_show(audited_run):
    eq = json.loads((audited_run / "fairness" / "equality_impact.json").read_text())
    assert eq["characteristics"]["religion or belief"]["audited"] is False
    race = eq["characteristics"]["race"]
    assert race["audited"] is True and {g["group"] for g in race["groups"]} >= {"White", "Black"}


def test_run_audit_writes_datasheets_and_logs_to_mlflow(tmp_path, registered):
    uri, _, run_id = registered
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create table ext_source_metadata as select * from (values "
                "('S1', 'police', 'ext_police_event', date '2025-03-31', date '2019-04-01', "
                "date '2025-03-31', 'medium', 'Late recording of some notifications', "
                "'DSA-17', 'Public task')) t(meta_source_id, meta_agency, meta_table, "
                "meta_extract_date, meta_period_start, meta_period_end, meta_accessibility, "
                "meta_known_issues, meta_dsa_reference, meta_lawful_basis)")
    con.execute("create table _load_report as select * from (values ('ext_police_event', "
                "'required', 'poli_event_date', 7, 'event date is empty')) "
                "t(\"table\", rule, \"column\", n_rows, message)")
    con.execute("create table ext_police_event as select 1 as x from range(12)")
    con.close()
    run_dir = make_run(tmp_path, n=600, warehouse=warehouse, run_id=run_id, coverage=True)
    out = audit_run(run_dir, n_boot=100, tracking_uri=uri)
    sheet = (out.out_dir / "datasheets" / "ext_police_event.md").read_text()
    assert "in the warehouse: 12" in sheet and "DSA-17" in sheet and "Public task" in sheet
    assert "  - event date is empty" in sheet
    html = out.report.read_text()
    coverage = html[html.index('id="data"'):html.index('id="method"')]
    assert "Share of children with linked data from each agency" in coverage
    assert "Police" in coverage
    client = MlflowClient(tracking_uri=uri)
    tags = client.get_run(run_id).data.tags
    assert tags["fairness.report_sha256"] == out.report_sha256
    names = {a.path for a in client.list_artifacts(run_id, "fairness")}
    assert {"fairness/ethics_report.html", "fairness/model_card.md",
            "fairness/atrs_record.json"} <= names


@pytest.fixture
def vendor_csv(tmp_path):
    frame = simulate_scores(3000, seed=8).rename(columns={
        "score": "risk", "label": "outcome", "audit_ethnicity": "ethnic_group",
        "audit_imd_quintile": "imd"})
    path = tmp_path / "vendor.csv"
    frame[["risk", "outcome", "ethnic_group", "imd"]].to_csv(path, index=False)
    return path


def test_audit_scores_cli_audits_a_vendor_file(vendor_csv):
    result = runner.invoke(app, [
        "audit-scores", str(vendor_csv), "--score-col", "risk", "--label-col", "outcome",
        "--group-cols", "ethnic_group,imd", "--top-fraction", "0.05",
        "--intersection", "ethnic_group*imd", "--replicates", "100"])
    assert result.exit_code == 0, result.output
    out = vendor_csv.with_name("vendor_audit")
    html = (out / "ethics_report.html").read_text()
    assert "Scores from another tool (vendor.csv)" in html and "Not applicable" in html
    groups = pd.DataFrame(json.loads((out / "audit.json").read_text())["groups"])
    assert set(groups.attribute) == {"ethnic_group", "imd", "ethnic_group × imd"}


def test_audit_scores_cli_names_a_missing_group_column(vendor_csv):
    result = runner.invoke(app, [
        "audit-scores", str(vendor_csv), "--score-col", "risk", "--label-col", "outcome",
        "--group-cols", "ethnicity", "--threshold", "0.3", "--replicates", "100"])
    assert result.exit_code == 2
    assert "vendor.csv: missing column(s) ['ethnicity']" in " ".join(result.output.split())


def test_audit_scores_cli_refuses_a_file_without_outcomes(vendor_csv):
    frame = pd.read_csv(vendor_csv)
    frame["outcome"] = None
    frame.to_csv(vendor_csv, index=False)
    result = runner.invoke(app, [
        "audit-scores", str(vendor_csv), "--score-col", "risk", "--label-col", "outcome",
        "--group-cols", "ethnic_group", "--threshold", "0.3", "--replicates", "100"])
    assert result.exit_code == 2
    assert "cannot assess" in " ".join(result.output.split())


def test_the_ethics_report_names_groups_not_codes(audited_run):
    import re

    html = (audited_run / "fairness" / "ethics_report.html").read_text()
    cells = set(re.findall(r"<tr><td>([^<]+?)(?: <span|</td>)", html))
    assert {"Female", "Male", "Disabled", "Not disabled", "1 (most deprived)"} <= cells
    assert not cells & {"F", "M", "Y", "N", "1", "5"}
    assert "Reference group: <strong>Not disabled</strong>" in html


def test_group_names_follow_the_standard_attributes_part_by_part():
    from earlywarning.fairness._data import group_label

    assert group_label("audit_sex", "F") == "Female"
    assert group_label("audit_disability × audit_imd_quintile", "Y × 1") == (
        "Disabled × 1 (most deprived)")
    assert group_label("audit_ethnicity", "Mixed") == "Mixed"
    assert group_label("audit_sex", "Not recorded") == "Not recorded"
    assert group_label("audit_area", "North") == "North"
    assert group_label("audit_sex × audit_area", "F") == "F"  # not an intersection's value
