"""The feature dictionary, generated from the specs (never written by hand).

One entry per feature column: its plain-English meaning as a template with
``{value}`` (explanations fill it in: "2 police domestic-abuse notifications
with a parent as victim in the last 12 months"), the source agency, window,
designed direction (risk, protective, coverage, context), subject, table,
aggregate and the declared value when there is no record.
"""

from __future__ import annotations

import json
from typing import Any

from earlywarning.data.schema import AGENCIES
from earlywarning.wording import agree_number, fill_meaning

from .specs import (
    CONTEXT_FEATURES,
    FeatureSpec,
    feature_column,
    window_phrase,
)

__all__ = ["coverage_spec", "dictionary_entries", "dictionary_markdown", "render_meaning"]


def coverage_spec(agency: str) -> FeatureSpec:
    """Spec of the indicator 'was ``agency`` linked for the child's family at the as-of date'."""
    from .specs import Condition

    name = AGENCIES[agency]
    return FeatureSpec(
        f"coverage_{agency}", "ext_source_coverage", "open",
        f"{{value}} linked {{period|periods}} of {name} records for the child's family now "
        f"(0 = not linked: no {name} record then says nothing about risk)",
        where=(Condition("cove_source", "eq", agency),), direction="coverage", agency=agency,
        group="coverage",
    )


def render_meaning(template: str, value: object) -> str:
    """Fill a dictionary meaning with a value, e.g. ``render_meaning(m, 2)``.

    See :func:`earlywarning.wording.fill_meaning` (number agreement, format specs).
    """
    return fill_meaning(template, value)


def dictionary_entries(specs: list[FeatureSpec]) -> list[dict[str, Any]]:
    """Build dictionary entries for ``specs`` (each window a column) and the context features.

    Returns
    -------
    list of dict
        Keys: ``name``, ``meaning``, ``source_agency``, ``window_days``,
        ``direction``, ``subject``, ``table``, ``aggregate``, ``group``,
        ``if_no_record``.
    """
    out = []
    for spec in specs:
        windows = (None,) if spec.aggregate == "open" else (spec.windows or (None,))
        for w in windows:
            out.append({
                "name": feature_column(spec, w),
                "meaning": spec.meaning.replace("{window}", window_phrase(w, spec.aggregate)),
                "source_agency": spec.agency,
                "window_days": w,
                "direction": spec.direction,
                "subject": spec.subject,
                "table": spec.table,
                "aggregate": spec.aggregate,
                "group": spec.group,
                "if_no_record": spec.empty,
            })
    for ctx in CONTEXT_FEATURES:
        out.append({
            "name": ctx.name, "meaning": ctx.meaning, "source_agency": ctx.agency,
            "window_days": None, "direction": ctx.direction, "subject": "child",
            "table": ctx.table, "aggregate": "value_at_as_of", "group": "context",
            "if_no_record": None,
        })
    return out


def dictionary_markdown(entries: list[dict[str, Any]], pipeline: str) -> str:
    """Render dictionary entries as a Markdown table."""
    lines = [
        f"# Feature dictionary: {pipeline}",
        "",
        "Generated from the feature specs. `{value}` is replaced by the child's value in "
        "explanations, and nouns agree with it (\"1 referral\", \"2 referrals\"; the plural is "
        "shown here); `{value:.0%}` shows it as a percentage and `{value:age}` as an age "
        "(\"9 months\", \"16 years\"). *If no record*: the declared value when the child has "
        "no matching "
        "record (blank = left missing).",
        "",
        "| feature | meaning | agency | window (days) | direction | subject | table | "
        "aggregate | if no record |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        window = "all history" if e["window_days"] is None and e["aggregate"] not in (
            "open", "value_at_as_of") else (e["window_days"] or "now")
        empty = "" if e["if_no_record"] is None else f"{e['if_no_record']:g}"
        lines.append(
            f"| `{e['name']}` | {agree_number(e['meaning'], 2)} | "
            f"{AGENCIES.get(e['source_agency'], '')} | "
            f"{window} | {e['direction']} | {e['subject']} | `{e['table']}` | "
            f"{e['aggregate']} | {empty} |"
        )
    return "\n".join(lines) + "\n"


def dictionary_json(entries: list[dict[str, Any]]) -> str:
    """Entries as indented JSON text."""
    return json.dumps(entries, indent=2)
