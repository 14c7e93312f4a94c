"""The ethics report: an HTML page a lay board member can read, and print.

Summary first (the pre-registered bars and the largest disparities in plain
words), then the tables and figures with their intervals, what the model
may not be used for, and who is less visible in the data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from ._audit import AuditResult
from ._data import INTERSECTION_SEPARATOR, AuditData, group_label
from ._metrics import METRIC_INFO
from ._plots import calibration_by_group, capacity_curve, metric_bars

TABLE_METRICS = ("selection_rate", "false_negative_rate", "false_positive_rate", "precision",
                 "auc", "base_rate", "calibration_gap")
BAR_METRICS = ("false_negative_rate", "false_positive_rate", "selection_rate", "calibration_gap")
PLAIN_METRICS = ("false_negative_rate", "false_positive_rate", "selection_rate", "precision",
                 "calibration_gap", "auc")

NOT_FOR = (
    "Deciding whether a family is investigated (section 47 enquiries) or whether a child "
    "comes into care: the flag suggests who might be offered Early Help support, nothing more.",
    "Deciding eligibility for any service or benefit, or withdrawing a service.",
    "Any decision without a practitioner who reviews the reasons and records their own "
    "judgement; flags are expected to be overridden.",
    "Sharing a flag or score with other agencies, or telling a family they are 'high risk'.",
    "Judging or comparing individual practitioners, schools or teams.",
    "Children and areas outside the data it was trained and audited on, or after the audit "
    "is out of date (re-audit when the data or the model change).",
)

MEANING = {
    ("false_negative_rate", 1): "children in this group who went on to escalate were missed "
                                "(not flagged) more often",
    ("false_negative_rate", -1): "children in this group who went on to escalate were missed "
                                 "less often",
    ("false_positive_rate", 1): "more children in this group were flagged without going on to "
                                "escalate (more families approached who may not need it)",
    ("false_positive_rate", -1): "fewer children in this group were flagged without going on "
                                 "to escalate",
    ("selection_rate", 1): "children in this group were flagged more often",
    ("selection_rate", -1): "children in this group were flagged less often",
    ("precision", 1): "flags for this group were more often borne out",
    ("precision", -1): "flags for this group were less often borne out",
    ("calibration_gap", 1): "the model over-states this group's risk compared with others",
    ("calibration_gap", -1): "the model under-states this group's risk compared with others",
    ("auc", 1): "the model ranks children in this group more accurately",
    ("auc", -1): "the model ranks children in this group less accurately",
}


def fmt_value(metric: str, v: float) -> str:
    """Format a metric value for people: rates as %, gaps as points, AUC as 0.xx."""
    if v is None or not np.isfinite(v):
        return "–"
    if metric == "auc":
        return f"{v:.2f}"
    if metric in ("calibration_gap", "ece"):
        return f"{v * 100:+.1f} pts" if metric == "calibration_gap" else f"{v * 100:.1f} pts"
    return f"{v:.1%}"


def fmt_diff(metric: str, v: float) -> str:
    """Format a difference: percentage points, or AUC units."""
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:+.2f}" if metric == "auc" else f"{v * 100:+.1f} pts"


def plain_disparities(result: AuditResult, top: int = 6) -> list[str]:
    """Describe the largest clear disparities in plain words.

    A disparity is clear when the 95% interval of the difference from the
    reference group excludes zero. The largest of each kind (miss rate,
    false alarms, flag rate, precision, calibration, AUC) comes first, so
    that a small but telling calibration gap is not crowded out by error-rate
    gaps that follow from different base rates; each is ranked by the
    smallest gap its interval still allows.

    Parameters
    ----------
    result : AuditResult
        The audit.
    top : int
        How many to describe.

    Returns
    -------
    list of str
        Sentences, largest first.
    """
    t = result.table
    t = t[t.disparity & t.metric.isin(PLAIN_METRICS)].copy()
    if t.empty:
        return []
    t["sure_gap"] = np.minimum(t.diff_ref_low.abs(), t.diff_ref_high.abs())
    t = t.sort_values("sure_gap", ascending=False)
    first = t.drop_duplicates("metric")
    t = pd.concat([first, t.drop(first.index)]).head(top)
    ref_values = result.table.set_index(["attribute", "group", "metric"])["value"]
    out = []
    for r in t.itertuples():
        ref_v = ref_values.get((r.attribute, r.reference_group, r.metric), np.nan)
        sign = 1 if r.diff_ref > 0 else -1
        out.append(
            f"{r.attribute_label}: {group_label(r.attribute, r.group)} — "
            f"{MEANING[(r.metric, sign)]}. "
            f"{METRIC_INFO[r.metric].label}: {fmt_value(r.metric, r.value)} against "
            f"{fmt_value(r.metric, ref_v)} for {group_label(r.attribute, r.reference_group)}; "
            "difference "
            f"{fmt_diff(r.metric, r.diff_ref)} (95% interval {fmt_diff(r.metric, r.diff_ref_low)}"
            f" to {fmt_diff(r.metric, r.diff_ref_high)}; {r.n:,} children)."
        )
    return out


@dataclass
class ReportInputs:
    """Everything the ethics report shows besides the audit itself.

    Attributes
    ----------
    title : str
        Page title.
    subject : str
        What was audited (model name and version, or the vendor file).
    pass_bar : dict, optional
        The run's performance pass bar (``passed``, ``headline``, ``checks``);
        ``None`` for scores from another tool.
    run_info : dict
        Provenance shown in the method section (pipeline, run id, hashes).
    curves : dict of str to pandas.DataFrame
        Capacity curves per attribute.
    options : dict of str to dict of str to pandas.DataFrame
        Per-group threshold options per attribute (``optimiser``, ``equal_miss``).
    coverage : pandas.DataFrame, optional
        Share of children each agency's data covers, by group.
    limitations : list of str
        Data limitations in plain words.
    intended_use : str
        What the model is for.
    """

    title: str
    subject: str
    pass_bar: dict[str, Any] | None = None
    run_info: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    options: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    coverage: pd.DataFrame | None = None
    limitations: list[str] = field(default_factory=list)
    intended_use: str = (
        "To help Early Help practitioners notice children and families who might benefit from "
        "an offer of early, voluntary support, by listing children whose records suggest a "
        "raised chance of a child protection plan or of coming into care within the next year, "
        "with the reasons. A practitioner always decides what, if anything, to do."
    )


def _attribute_sections(result: AuditResult, data: AuditData, inputs: ReportInputs) -> list:
    t = result.table
    overall = result.overall.set_index("metric")["value"]
    sections = []
    for a in dict.fromkeys(t.attribute):
        part = t[t.attribute == a]
        groups = list(dict.fromkeys(part.group))
        rows = []
        for g in groups:
            cells = part[part.group == g].set_index("metric")
            first = cells.iloc[0]
            row = {"group": g, "n": int(first.n), "reference": bool(first.is_reference),
                   "cells": []}
            for m in TABLE_METRICS:
                c = cells.loc[m]
                if c.status != "ok":
                    row["cells"].append({"text": c.status, "muted": True})
                    continue
                diff = "" if c.is_reference or not np.isfinite(c.diff_ref) else (
                    f"{fmt_diff(m, c.diff_ref)} [{fmt_diff(m, c.diff_ref_low)}, "
                    f"{fmt_diff(m, c.diff_ref_high)}]")
                row["cells"].append({
                    "text": fmt_value(m, c.value),
                    "ci": f"{fmt_value(m, c.ci_low)} – {fmt_value(m, c.ci_high)}",
                    "diff": diff, "flag": bool(c.disparity), "verdict": c.bar_verdict})
            rows.append(row)
        single = INTERSECTION_SEPARATOR not in a
        bars = list(BAR_METRICS) if single else ["false_negative_rate", "calibration_gap"]
        sections.append({
            "attribute": a, "label": part.attribute_label.iloc[0],
            "reference": part.reference_group.iloc[0], "rows": rows,
            "bars": metric_bars(t, a, bars, overall),
            "bar_labels": ", ".join(METRIC_INFO[m].label for m in bars),
            "calibration": calibration_by_group(
                data.score, data.label, data.groups[a],
                min_group_size=result.settings.min_group_size) if single else None,
            "curves": capacity_curve(inputs.curves[a], [("false_negative_rate", "Missed (FNR)"),
                                                        ("selection_rate", "Flag rate")],
                                     float(data.flagged.mean()))
            if a in inputs.curves else None,
            "options": {k: v.to_dict(orient="records")
                        for k, v in inputs.options.get(a, {}).items()},
        })
    return sections


def _coverage_tables(coverage: pd.DataFrame | None) -> list[dict]:
    """Pivot long coverage (attribute, group, agency, share) into one table per attribute."""
    if coverage is None or coverage.empty:
        return []
    out = []
    for _attribute, part in coverage.groupby("attribute", sort=False):
        wide = part.pivot_table(index="group", columns="agency", values="share", sort=False)
        out.append({"label": part["attribute_label"].iloc[0], "agencies": list(wide.columns),
                    "rows": [{"group": g, "values": [f"{v:.0%}" if np.isfinite(v) else "–"
                                                     for v in wide.loc[g]]}
                             for g in wide.index]})
    return out


def _named(frame: pd.DataFrame, attribute: str | None = None,
           columns: tuple[str, ...] = ("group", "reference_group")) -> pd.DataFrame:
    """Copy of ``frame`` with group codes in ``columns`` replaced by their plain names."""
    out = frame.copy()
    for c in columns:
        if c in out.columns and len(out):
            attrs = out["attribute"] if attribute is None else pd.Series(attribute, out.index)
            out[c] = [group_label(a, g) for a, g in zip(attrs, out[c], strict=True)]
    return out


def _readable(result: AuditResult, data: AuditData, inputs: ReportInputs
              ) -> tuple[AuditResult, AuditData, ReportInputs]:
    """Return the audit as the report shows it: each group by its plain name ("Disabled")."""
    groups = {a: cat.rename_categories([group_label(a, g) for g in cat.categories])
              for a, cat in data.groups.items()}
    return (
        replace(result, table=_named(result.table), groups=_named(result.groups)),
        replace(data, groups=groups),
        replace(inputs,
                curves={a: _named(c, a) for a, c in inputs.curves.items()},
                options={a: {k: _named(v, a) for k, v in o.items()}
                         for a, o in inputs.options.items()},
                coverage=None if inputs.coverage is None else _named(inputs.coverage)),
    )


def render_ethics_report(result: AuditResult, data: AuditData, inputs: ReportInputs) -> str:
    """Render the ethics report as one self-contained HTML page.

    Parameters
    ----------
    result : AuditResult
        The audit.
    data : AuditData
        The audited rows (for calibration and capacity figures).
    inputs : ReportInputs
        Everything else the report shows.

    Returns
    -------
    str
        HTML (figures embedded as base64 PNG; print stylesheet included).
    """
    env = Environment(loader=PackageLoader("earlywarning.fairness", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    disparities = plain_disparities(result)
    result, data, inputs = _readable(result, data, inputs)
    t = result.table
    breaches = t[t.bar_verdict == "breach"]
    possible = t[t.bar_verdict == "possible breach"]
    small = result.groups[result.groups.status != "ok"]
    overall = result.overall.assign(
        text=[fmt_value(m, v) for m, v in zip(result.overall.metric, result.overall.value,
                                              strict=True)],
        ci=[f"{fmt_value(m, lo)} – {fmt_value(m, hi)}" for m, lo, hi in
            zip(result.overall.metric, result.overall.ci_low, result.overall.ci_high,
                strict=True)])

    def describe(df: pd.DataFrame) -> list[str]:
        return [f"{r.attribute_label}: {r.group} — {r.metric_label} differs from "
                f"{r.reference_group} by {fmt_diff(r.metric, r.diff_ref)} (simultaneous "
                f"interval {fmt_diff(r.metric, r.bar_low)} to {fmt_diff(r.metric, r.bar_high)};"
                f" limit ±{fmt_diff(r.metric, result.settings.bar[r.metric]).lstrip('+')})"
                for r in df.itertuples()]

    return env.get_template("ethics_report.html.j2").render(
        inputs=inputs, result=result, settings=result.settings,
        generated=dt.datetime.now(dt.UTC).strftime("%d %B %Y %H:%M UTC"),
        disparities=disparities, breaches=describe(breaches),
        possible=describe(possible),
        small_groups=[(label, ", ".join(f"{g} ({n:,})" for g, n in zip(part.group, part.n,
                                                                          strict=True)))
                      for label, part in small.groupby("attribute_label", sort=False)],
        bar_text=", ".join(f"{METRIC_INFO[m].label} ±{fmt_diff(m, v).lstrip('+')}"
                           for m, v in result.settings.bar.items()),
        overall=overall.to_dict(orient="records"), not_for=NOT_FOR,
        sections=_attribute_sections(result, data, inputs), metric_info=METRIC_INFO,
        table_metrics=[METRIC_INFO[m] for m in TABLE_METRICS],
        coverage=_coverage_tables(inputs.coverage),
        flagged_share=float(data.flagged.mean()),
    )
