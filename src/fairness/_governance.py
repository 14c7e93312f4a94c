"""Governance artefacts generated per run: model card, ATRS record, datasheets, EqIA inputs.

Each is built from what the run actually recorded (metrics, configuration,
audit, warehouse metadata); anything the platform cannot know (who the
senior responsible owner is) is taken from the pipeline's ``audit.owner`` or
said to be not yet recorded, never invented.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from earlywarning.wording import metric_label, outcome_in_words

from ._audit import AuditResult
from ._report import NOT_FOR, fmt_value, plain_disparities

NOT_RECORDED_YET = "Not yet recorded: to be completed by the local authority"

PROTECTED_CHARACTERISTICS = {
    "age": "audit_age_band",
    "disability": "audit_disability",
    "gender reassignment": None,
    "marriage and civil partnership": None,
    "pregnancy and maternity": None,
    "race": "audit_ethnicity",
    "religion or belief": None,
    "sex": "audit_sex",
    "sexual orientation": None,
}
"""Equality Act 2010 protected characteristics and the audit column that covers each."""

LIMITS = (
    "The outcome is a recorded decision (child protection plan or care), not true need: "
    "differences in how agencies notice and decide are learnt as if they were risk.",
    "Families known to more agencies have more records; a family with little contact looks "
    "low-risk because nothing is recorded, not because nothing is happening.",
    "Scores are probabilities calibrated on past cohorts; they drift when services, "
    "thresholds or recording practice change, so the model must be re-audited.",
    "Small groups cannot be assessed (shown as 'too few to say'); absence of evidence of "
    "unfairness for them is not evidence of fairness.",
)

ETHICS = (
    "Being flagged must never count against a family: the flag is an invitation to consider "
    "offering voluntary support.",
    "Practitioners see the reasons for and against each flag and the data it did not see, and "
    "record their own decision; overrides are expected and monitored.",
    "Protected characteristics are used to audit the model, not to score children, unless the "
    "pipeline says so explicitly and the card states why.",
    "Families have a right to know how their data is used (privacy notice) and to challenge "
    "decisions made about them; the model makes none by itself.",
)


def _metric_line(models: Mapping[str, Any], candidate: str, key: str) -> str | None:
    m = (models.get(candidate) or {}).get(key)
    if not isinstance(m, Mapping) or m.get("value") is None:
        return None
    ci = ("" if m.get("ci_low") is None else
          f" (95% interval {m['ci_low']:.3f} to {m['ci_high']:.3f})")
    return f"{m['value']:.3f}{ci}"


_CARD_NOTES = {"pr_auc": " (no skill scores the base rate)"}
"""What the model card adds to a metric's name (:func:`earlywarning.wording.metric_label`)."""


def _count(n: object) -> str:
    return f"{n:,}" if isinstance(n, int | np.integer) else "?"


def model_card(run: Mapping[str, Any], result: AuditResult, *, report_name: str) -> str:
    """Write the model card as Markdown.

    Parameters
    ----------
    run : mapping
        ``metrics`` (the run's metrics.json), ``config`` (resolved pipeline),
        ``model_name``, ``model_version`` and ``run_id`` (any may be missing).
    result : AuditResult
        The fairness audit of the run.
    report_name : str
        File name of the ethics report, linked from the card.

    Returns
    -------
    str
        Markdown.
    """
    metrics, cfg = run.get("metrics") or {}, run.get("config") or {}
    info = metrics.get("run", {})
    candidate = info.get("candidate", "")
    outcome, cohort, as_of = cfg.get("outcome", {}), cfg.get("cohort", {}), cfg.get("as_of", {})
    features = cfg.get("features", {})
    split = metrics.get("split", {})
    bar = metrics.get("pass_bar") or {}
    lines = [
        f"# Model card: {run.get('model_name', cfg.get('name', 'scores'))}",
        "",
        "## Model details",
        f"- Registered model: `{run.get('model_name', 'not registered')}` version "
        f"`{run.get('model_version') or 'none'}`; MLflow run `{run.get('run_id') or 'none'}`",
        f"- Algorithm chosen: {candidate or 'not recorded'}; pipeline `{cfg.get('name', '')}` "
        f"(config hash `{info.get('config_hash', '')}`, data fingerprint "
        f"`{info.get('warehouse_fingerprint', '')}`, code `{info.get('git_sha', '')}`)",
        f"- Trained: {info.get('created_at', 'not recorded')}",
        "",
        "## Intended use",
        "- **Early Help support only**: to help practitioners notice children and families who "
        "might benefit from an offer of early, voluntary support. A practitioner reviews the "
        "reasons and decides; nothing happens automatically.",
        "- Users: Early Help practitioners and team managers of the local authority.",
        "- **Not for** investigation, child protection decisions or eligibility:",
        *[f"  - {x}" for x in NOT_FOR],
        "",
        "## Data",
        f"- Cohort: {cohort.get('name', 'not recorded')} (children known to services within "
        f"{cohort.get('lookback_days', '?')} days)",
        f"- Outcome: {outcome_in_words(outcome.get('events'))} within "
        f"{outcome.get('horizon_days', '?')} days of each as-of date",
        f"- As-of dates: {as_of.get('start', '?')} to {as_of.get('end', '?')} "
        f"({as_of.get('frequency', '')})",
        f"- Training rows: {_count(split.get('n_train'))}; "
        f"test rows: {_count(split.get('n_test'))}; "
        f"test dates {', '.join(split.get('test_dates', [])[:3])}"
        f"{'…' if len(split.get('test_dates', [])) > 3 else ''}",
        "- Protected characteristics as features: " + (
            f"yes — {features.get('protected_justification')}"
            if features.get("protected_as_features") else "no (used only to audit)"),
        "",
        "## Metrics (held-out test period)",
        f"- Base rate: {metrics.get('base_rate', float('nan')):.3%}" if
        isinstance(metrics.get("base_rate"), float) else "- Base rate: not recorded",
    ]
    models = metrics.get("models", {})
    for key in ("roc_auc", "pr_auc", "precision_at_capacity_expected", "mean_risk_at_capacity",
                "recall_at_capacity_expected", "ece", "brier"):
        text = _metric_line(models, candidate, key)
        if text:
            lines.append(f"- {metric_label(key)}{_CARD_NOTES.get(key, '')}: {text}")
    lines += [f"- Pre-registered performance bar: {bar.get('headline', 'not recorded')}", "",
              "## Fairness",
              f"- Fairness bar: {'PASSED' if result.bar_passed else 'FAILED'} "
              f"(limits: {', '.join(f'{k} ±{v:g}' for k, v in result.settings.bar.items())})",
              f"- Full audit with intervals: [{report_name}]({report_name})"]
    lines += [f"- {d}" for d in plain_disparities(result, top=3)] or [
        "- No clear disparity from the reference groups at the 95% level."]
    lines += ["", "## Limits", *[f"- {x}" for x in LIMITS], "",
              "## Ethical considerations", *[f"- {x}" for x in ETHICS], ""]
    return "\n".join(lines)


def atrs_record(run: Mapping[str, Any], result: AuditResult, owner: Mapping[str, str]
                ) -> dict[str, Any]:
    """Build an Algorithmic Transparency Recording Standard (v3.0) record.

    Field names and numbering follow ``ATRS.md`` (Tier 1 summary and Tier 2
    sections 1-5).

    Parameters
    ----------
    run : mapping
        As for :func:`model_card`.
    result : AuditResult
        The audit (summarised under model performance and risks).
    owner : mapping
        ``organisation``, ``team``, ``senior_responsible_owner``,
        ``contact_email``, ``website`` (missing ones are "not yet recorded").

    Returns
    -------
    dict
        JSON-ready record.
    """
    metrics, cfg = run.get("metrics") or {}, run.get("config") or {}
    info, split = metrics.get("run", {}), metrics.get("split", {})
    o = {k: owner.get(k) or NOT_RECORDED_YET for k in (
        "organisation", "team", "senior_responsible_owner", "contact_email", "website")}
    perf = {k: _metric_line(metrics.get("models", {}), info.get("candidate", ""), k)
            for k in ("roc_auc", "pr_auc", "precision_at_capacity_expected", "ece")}
    return {
        "metadata": {"atrs_version": "v3.0", "organisation": o["organisation"],
                     "organisation_type": "Local authority", "function": "Children's services",
                     "phase": "pre-deployment",
                     "date_generated": dt.date.today().isoformat()},
        "tier_1": {
            "1_name": f"Early Help early-warning flags ({cfg.get('name', 'pipeline')})",
            "2_description": (
                "A statistical model that reads linked records held by the council and its "
                "partners and lists children who may benefit from an offer of Early Help, with "
                "the reasons. Practitioners decide what to do; the list is never used to "
                "investigate families or decide eligibility."),
            "3_website_url": o["website"],
            "4_contact_email": o["contact_email"],
        },
        "tier_2": {
            "1_owner_and_responsibility": {
                "1.1_organisation_or_department": o["organisation"],
                "1.2_team": o["team"],
                "1.3_senior_responsible_owner": o["senior_responsible_owner"],
                "1.4_third_party_involvement": "No (open-source platform run by the council)",
            },
            "2_description_and_rationale": {
                "2.1_detailed_description": (
                    "Gradient-boosted trees or logistic regression (chosen by a pre-registered "
                    "pass bar) trained on point-in-time features of agency records, calibrated "
                    "to probabilities of a child protection plan or care within the horizon; "
                    "each flag is explained with its main risk and protective factors."),
                "2.2_scope": "Early Help support only. Not for investigation, child protection "
                             "decisions, eligibility or any automated decision.",
                "2.3_benefit": "Earlier, voluntary support for families; measured by precision "
                               "and recall at the service's capacity and by practitioner "
                               "feedback.",
                "2.4_previous_process": "Practitioners and partners identify families through "
                                        "referrals and local knowledge.",
                "2.5_alternatives_considered": "Simple rule-based lists (e.g. counts of "
                                               "domestic abuse notifications); the model must "
                                               "beat them to pass its bar.",
            },
            "3_decision_making_process": {
                "3.1_process_integration": "Monthly list reviewed by Early Help team managers.",
                "3.2_provided_information": "Risk band, calibrated probability, reasons for and "
                                            "against, data sources seen and their freshness.",
                "3.3_frequency_and_scale_of_usage":
                    f"Monthly; capacity {metrics.get('capacity', {}).get('flags_per_month', '?')}"
                    " flags a month.",
                "3.4_human_decisions_and_review": "Every flag is reviewed by a practitioner "
                                                  "who records a decision and rationale; "
                                                  "overrides are expected and analysed.",
                "3.5_required_training": "Reading risk and uncertainty; the model's limits; "
                                         "data protection.",
                "3.6_appeals_and_review": "Through the council's complaints and data-protection "
                                          "processes; families can ask what data was used.",
            },
            "4_tool_specification": {
                "4.1.1_system_architecture": "Data warehouse (DuckDB) → feature pipeline → "
                                             "model (MLflow registry) → fairness audit and "
                                             "ethics board approval → scoring → web app.",
                "4.1.2_phase": "pre-deployment",
                "4.1.3_maintenance": "Re-trained and re-audited when data or practice change; "
                                     "only an approved model is used.",
                "4.1.4_models": [{
                    "4.2.1_model_name": run.get("model_name", ""),
                    "4.2.2_model_version": run.get("model_version") or "",
                    "4.2.3_model_task": "Binary classification with calibrated probabilities",
                    "4.2.4_model_input": "Point-in-time counts and recency of agency records "
                                         "per child and household",
                    "4.2.5_model_output": "Probability of the outcome within the horizon, "
                                          "band, rank, reasons",
                    "4.2.6_model_architecture": info.get("candidate", ""),
                    "4.2.7_model_performance": {
                        **{k: v for k, v in perf.items() if v},
                        "fairness_bar": "passed" if result.bar_passed else "failed",
                        "largest_disparities": plain_disparities(result, top=3),
                    },
                    "4.2.8_datasets": "Linked local authority records (see datasheets)",
                    "4.2.9_dataset_purposes": f"training {_count(split.get('n_train'))} rows; "
                                              f"test {_count(split.get('n_test'))} rows",
                }],
                "4.3_data": {
                    "4.3.2_data_modality": "Tabular",
                    "4.3.5_sensitive_attributes": "Ethnicity, sex, age band, disability, "
                                                  "deprivation: used to audit, not to score.",
                    "4.3.6_data_completeness_and_representativeness":
                        "See the ethics report's data-limitations section.",
                    "4.3.11_data_access_and_storage": "Pseudonymised analytics store inside "
                                                      "the council's network.",
                },
            },
            "5_risks_mitigations_and_impact_assessments": {
                "5.1_impact_assessment": [
                    {"name": "Equality impact assessment", "description":
                     "Inputs generated from the audit (equality_impact.md)"},
                    {"name": "Data protection impact assessment",
                     "description": NOT_RECORDED_YET},
                ],
                "5.2_risks_and_mitigations": [
                    {"risk": r, "mitigation": m} for r, m in (
                        ("Bias from uneven recording between groups",
                         "Group audit with intervals; coverage by agency and group reported"),
                        ("Flags used beyond Early Help", "Intended-use statement on every flag; "
                                                         "approval limited to Early Help"),
                        ("Automation bias", "Reasons for and against; recorded human decision"),
                        ("Model drift", "Re-audit and re-approval before each new version"),
                    )],
            },
        },
    }


def atrs_markdown(record: Mapping[str, Any]) -> str:
    """Render an ATRS record as Markdown, one heading per section."""

    def walk(obj: Any, depth: int) -> list[str]:
        out: list[str] = []
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                title = k.replace("_", " ", 1).replace("_", " ")
                if isinstance(v, Mapping | list):
                    out += [f"{'#' * min(depth, 6)} {title}", "", *walk(v, depth + 1)]
                else:
                    out += [f"- **{title}**: {v}"]
            out.append("")
        elif isinstance(obj, list):
            for item in obj:
                out += (walk(item, depth) if isinstance(item, Mapping | list)
                        else [f"- {item}"])
        return out

    return "\n".join(["# Algorithmic Transparency Record (ATRS v3.0)", "", *walk(record, 2)])


def datasheets(metadata: pd.DataFrame, load_report: pd.DataFrame, row_counts: Mapping[str, int]
               ) -> dict[str, str]:
    """Write one datasheet (Markdown) per data source.

    Parameters
    ----------
    metadata : pandas.DataFrame
        The warehouse's ``ext_source_metadata`` table.
    load_report : pandas.DataFrame
        The warehouse's ``_load_report`` (table, rule, column, n_rows, message).
    row_counts : mapping
        Rows loaded per table.

    Returns
    -------
    dict of str to str
        Markdown per table name.
    """
    from earlywarning.data.schema import AGENCIES, TABLES

    out = {}
    tables = list(dict.fromkeys([*metadata.get("meta_table", pd.Series(dtype=str)),
                                 *row_counts]))
    for name in tables:
        meta = metadata[metadata["meta_table"] == name] if len(metadata) else metadata
        rep = load_report[load_report["table"] == name] if len(load_report) else load_report
        table = TABLES.get(name)
        m = meta.iloc[-1] if len(meta) else pd.Series(dtype=object)

        def get(key: str, m: pd.Series = m) -> str:
            v = m.get(key)
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
                return NOT_RECORDED_YET
            return str(v.date()) if isinstance(v, pd.Timestamp | dt.datetime) else str(v)

        agency = AGENCIES.get(table.agency, table.agency) if table else get("meta_agency")
        restricted = bool(table and table.restricted)

        def count(rule: str, rep: pd.DataFrame = rep) -> str:
            hit = rep[rep["rule"] == rule]["n_rows"].dropna() if len(rep) else []
            return f"{int(hit.iloc[0]):,}" if len(hit) else "not recorded"

        lines = [
            f"# Datasheet: {name}", "",
            "## Motivation",
            f"- Supplied by: {agency}",
            f"- What one row is: {table.grain if table else 'not declared'}",
            "- Used for: point-in-time features and audit of the Early Help early-warning "
            "model; never for decisions about individuals by itself." + (
                " Restricted: read only by the web app for authorised users, never by "
                "analytics." if restricted else ""), "",
            "## Composition",
            f"- Rows read: {count('rows_read')}; accepted: {count('rows_accepted')}; "
            f"rejected: {count('rows_rejected')}; in the warehouse: {row_counts.get(name, 0):,}",
            f"- Period covered: {get('meta_period_start')} to {get('meta_period_end')}",
            f"- Columns: {len(table.columns) if table else '?'} "
            f"({sum(c.identifying for c in table.columns) if table else 0} identifying, "
            "never read by analytics)", "",
            "## Collection and lawful basis",
            f"- Extract date: {get('meta_extract_date')}",
            f"- Lawful basis: {get('meta_lawful_basis')}",
            f"- Data-sharing agreement: {get('meta_dsa_reference')}",
            f"- Accessibility of the source: {get('meta_accessibility')}", "",
            "## Quality and preprocessing",
            f"- Known issues: {get('meta_known_issues')}",
        ]
        summary_rules = {"rows_read", "rows_accepted", "rows_rejected", "reference_date",
                         "ignored_file"}
        for title, rules in (("Missing values", {"missing_values"}),
                             ("Date ranges", {"date_range"}),
                             ("Rows rejected, by rule", None)):
            if not len(rep):
                break
            part = rep[rep["rule"].isin(rules)] if rules else rep[
                ~rep["rule"].isin(summary_rules | {"missing_values", "date_range"})]
            if not len(part):
                continue
            lines.append(f"- {title}:")
            for r in part.itertuples():
                n = "" if pd.isna(r.n_rows) else f"{int(r.n_rows):,} rows"
                # a rejected row's value may identify someone in a restricted table
                if restricted and rules is None:
                    lines.append(f"  - {r.rule} on {r.column}" + (f": {n}" if n else ""))
                else:
                    lines.append(f"  - {r.message}")
        if not len(rep):
            lines.append("- Load report: not available.")
        out[name] = "\n".join(lines) + "\n"
    return out


def equality_impact_inputs(result: AuditResult) -> dict[str, Any]:
    """Collect inputs for the council's equality impact assessment.

    For each Equality Act 2010 protected characteristic: whether the data
    holds it, group sizes, share flagged against share of children, clear
    disparities, and groups too small to assess; plus deprivation (the
    socio-economic duty).

    Parameters
    ----------
    result : AuditResult
        The audit.

    Returns
    -------
    dict
        JSON-ready inputs.
    """
    t, groups = result.table, result.groups
    out: dict[str, Any] = {"characteristics": {}, "fairness_bar_passed": result.bar_passed}
    items = {**PROTECTED_CHARACTERISTICS, "socio-economic disadvantage": "audit_imd_quintile"}
    for name, column in items.items():
        if column is None or column not in set(groups.attribute):
            out["characteristics"][name] = {
                "audited": False,
                "why_not": "not held in the linked data" if column is None
                else "not audited in this pipeline or only one group present"}
            continue
        g = groups[groups.attribute == column]
        sel = t[(t.attribute == column) & (t.metric == "selection_rate")].set_index("group")
        rows = []
        for r in g.itertuples():
            rate = sel.loc[r.group, "value"] if r.group in sel.index else np.nan
            rows.append({"group": r.group, "children": r.n, "share_of_children": r.share,
                         "flag_rate": None if not np.isfinite(rate) else float(rate),
                         "flag_rate_text": fmt_value("selection_rate", rate),
                         "status": r.status})
        clear = t[(t.attribute == column) & t.disparity]
        out["characteristics"][name] = {
            "audited": True, "column": column, "groups": rows,
            "clear_disparities": [
                f"{r.group}: {r.metric_label} {fmt_value(r.metric, r.value)} vs "
                f"{r.reference_group} (difference {r.diff_ref:+.3f}, 95% interval "
                f"{r.diff_ref_low:+.3f} to {r.diff_ref_high:+.3f})" for r in clear.itertuples()],
            "too_few_to_say": [r.group for r in g.itertuples() if r.status != "ok"],
        }
    return out


def equality_impact_markdown(inputs: Mapping[str, Any]) -> str:
    """Render equality impact inputs as Markdown."""
    lines = ["# Equality impact assessment: inputs from the fairness audit", "",
             "These are evidence for the council's assessment, not the assessment itself.", "",
             f"Fairness bar: {'passed' if inputs['fairness_bar_passed'] else 'failed'}.", ""]
    for name, c in inputs["characteristics"].items():
        lines.append(f"## {name.capitalize()}")
        if not c["audited"]:
            lines += [f"Not audited: {c['why_not']}. The board should consider how the model "
                      "could affect this group without evidence.", ""]
            continue
        lines += ["| Group | Children | Share | Flag rate | Status |", "|---|---|---|---|---|"]
        lines += [f"| {g['group']} | {g['children']:,} | {g['share_of_children']:.1%} | "
                  f"{g['flag_rate_text']} | {g['status']} |" for g in c["groups"]]
        lines += ["", "Clear disparities:" if c["clear_disparities"] else
                  "No clear disparity at the 95% level."]
        lines += [f"- {d}" for d in c["clear_disparities"]] + [""]
    return "\n".join(lines)


def to_json(obj: Any) -> str:
    """Serialise with numpy values made plain."""
    return json.dumps(obj, indent=2, default=lambda v: v.item() if hasattr(v, "item") else str(v))
