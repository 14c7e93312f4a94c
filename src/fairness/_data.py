"""Checked input for the audit: scores, outcomes, flags and group membership.

Everything that can be wrong with a score file is caught here, once, with a
message naming the file, column, value and row, so that the metric code can
assume clean arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from earlywarning.data.schema import ETHNICITY_MAJOR_GROUP

from . import _messages as msg

NOT_RECORDED = "Not recorded"
"""Group given to rows whose group value is empty: shown, never dropped."""

INTERSECTION_SEPARATOR = " × "


@dataclass(frozen=True)
class AttributeInfo:
    """What the audit knows about one standard audit column.

    Parameters
    ----------
    label : str
        Plain-English name for the report.
    codes : tuple of str, optional
        Valid values (as text); ``None`` accepts any value.
    describe : dict, optional
        Plain-English label of a code, e.g. ``{"1": "1 (most deprived)"}``.
    """

    label: str
    codes: tuple[str, ...] | None = None
    describe: Mapping[str, str] = field(default_factory=dict)


STANDARD_ATTRIBUTES: dict[str, AttributeInfo] = {
    "audit_ethnicity": AttributeInfo(
        "Ethnicity (DfE major group)", tuple(dict.fromkeys(ETHNICITY_MAJOR_GROUP.values()))
    ),
    "audit_sex": AttributeInfo("Sex", ("F", "M", "U"),
                               {"F": "Female", "M": "Male", "U": "Unknown"}),
    "audit_age_band": AttributeInfo("Age band"),
    "audit_disability": AttributeInfo("Disability", ("Y", "N"),
                                      {"Y": "Disabled", "N": "Not disabled"}),
    "audit_imd_quintile": AttributeInfo(
        "Deprivation (IMD quintile)", ("1", "2", "3", "4", "5"),
        {"1": "1 (most deprived)", "5": "5 (least deprived)"},
    ),
    "audit_area": AttributeInfo("Area"),
}
"""The feature table's ``audit_*`` columns (COMMON.md contract 3)."""


def attribute_label(attribute: str) -> str:
    """Return a plain-English label for an attribute or an intersection.

    Parameters
    ----------
    attribute : str
        A column name, or two joined by ``" × "``.

    Returns
    -------
    str
        E.g. ``"Ethnicity (DfE major group) × Deprivation (IMD quintile)"``.
    """
    parts = attribute.split(INTERSECTION_SEPARATOR)
    return INTERSECTION_SEPARATOR.join(
        STANDARD_ATTRIBUTES[p].label if p in STANDARD_ATTRIBUTES
        else p.removeprefix("audit_").replace("_", " ").capitalize()
        for p in parts
    )


def group_label(attribute: str, group: object) -> str:
    """Return a group's plain-English name: ``"Y"`` of disability reads ``"Disabled"``.

    Codes are named by :data:`STANDARD_ATTRIBUTES` (``describe``); an
    intersection is named part by part, and other values are kept as they are.

    Examples
    --------
    >>> group_label("audit_disability × audit_sex", "Y × F")
    'Disabled × Female'
    >>> group_label("audit_imd_quintile", "3")
    '3'
    """
    attributes = attribute.split(INTERSECTION_SEPARATOR)
    parts = str(group).split(INTERSECTION_SEPARATOR)
    if len(parts) != len(attributes):
        return str(group)
    return INTERSECTION_SEPARATOR.join(
        STANDARD_ATTRIBUTES[a].describe.get(g, g) if a in STANDARD_ATTRIBUTES else g
        for a, g in zip(attributes, parts, strict=True))


@dataclass
class AuditData:
    """Clean arrays for the audit, one entry per scored row with an outcome.

    Attributes
    ----------
    score : ndarray of float64
        Calibrated probability (or any score where higher means more concern).
    label : ndarray of int8
        Observed outcome, 0 or 1.
    flagged : ndarray of bool
        Whether the row was flagged at the capacity threshold.
    groups : dict of str to pandas.Categorical
        Group membership per audited attribute (intersections included),
        as text categories in a stable order.
    source : str
        Where the rows came from (file name), used in messages.
    flag_rule : str
        How flags were chosen, in words.
    n_without_outcome : int
        Rows dropped because their outcome is not yet observed.
    single_group : dict of str to str
        Attributes where every row is in one group (cannot be assessed).
    clusters : ndarray of int64, optional
        Cluster (e.g. family) of each row; the bootstrap then resamples
        whole clusters, because one child's (or family's) rows at several
        as-of dates are not independent.
    """

    score: np.ndarray
    label: np.ndarray
    flagged: np.ndarray
    groups: dict[str, pd.Categorical]
    source: str
    flag_rule: str
    n_without_outcome: int = 0
    single_group: dict[str, str] = field(default_factory=dict)
    clusters: np.ndarray | None = None
    cluster_col: str | None = None

    @property
    def n(self) -> int:
        """Number of audited rows."""
        return len(self.score)


def _first_row(mask: np.ndarray) -> int:
    """Return the 1-based row number of the first true entry (header is row 0)."""
    return int(np.flatnonzero(mask)[0]) + 1


def _check_columns(frame: pd.DataFrame, needed: Sequence[str], source: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(msg.MISSING_COLUMNS.format(
            source=source, missing=missing, available=list(frame.columns)))


def _outcomes(frame: pd.DataFrame, column: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (label as int8 for rows with an outcome, mask of those rows)."""
    raw = frame[column]
    known = raw.notna().to_numpy()
    if not known.any():
        raise ValueError(msg.NO_OUTCOMES.format(source=source, column=column))
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = known & ~np.isin(values, (0.0, 1.0))
    if bad.any():
        shown = sorted({str(v) for v in raw[bad].head(5)})
        raise ValueError(msg.BAD_OUTCOME_VALUES.format(
            source=source, column=column, values=shown, row=_first_row(bad)))
    return values[known].astype("int8"), known


def _scores(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        row = _first_row(bad)
        raise ValueError(msg.BAD_SCORE_VALUES.format(
            source=source, column=column, value=str(frame[column].iloc[row - 1]), row=row))
    return values


def _flags(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    raw = frame[column]
    text = raw.astype("string").str.strip().str.lower()
    truthy = text.isin(["true", "1", "1.0", "y", "yes"]).to_numpy(dtype=bool, na_value=False)
    falsy = text.isin(["false", "0", "0.0", "n", "no"]).to_numpy(dtype=bool, na_value=False)
    bad = ~(truthy | falsy)
    if bad.any():
        shown = sorted({str(v) for v in raw[bad].head(5)})
        raise ValueError(msg.BAD_FLAG_VALUES.format(
            source=source, column=column, values=shown, row=_first_row(bad)))
    return truthy


def _group_values(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """Return group values as text, empty values as :data:`NOT_RECORDED`."""
    raw = frame[column]
    text = raw.astype("string").str.strip()
    # 1.0 -> "1" so that numeric IMD quintiles read the same from CSV and Parquet
    text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    text = text.mask(text.isna() | (text == ""), NOT_RECORDED)
    info = STANDARD_ATTRIBUTES.get(column)
    if info is not None and info.codes is not None:
        valid = (*info.codes, NOT_RECORDED)
        bad = ~text.isin(valid).to_numpy(dtype=bool)
        if bad.any():
            codes = sorted(set(text[bad].head(20)))
            raise ValueError(msg.UNSEEN_CODES.format(
                source=source, column=column, codes=codes, attribute=info.label,
                valid=list(info.codes), row=_first_row(bad)))
    return text.astype(object)


def _categorical(values: pd.Series, column: str) -> pd.Categorical:
    info = STANDARD_ATTRIBUTES.get(column)
    present = set(values.unique())
    if info is not None and info.codes is not None:
        order = [c for c in info.codes if c in present]
    else:
        order = sorted(present - {NOT_RECORDED})
    if NOT_RECORDED in present:
        order.append(NOT_RECORDED)
    return pd.Categorical(values, categories=order)


def flags_from_rule(
    score: np.ndarray,
    *,
    threshold: float | None = None,
    top_fraction: float | None = None,
    source: str = "scores",
) -> tuple[np.ndarray, str]:
    """Flag rows by a score threshold or by the top fraction of scores.

    Parameters
    ----------
    score : ndarray
        Scores, higher meaning more concern.
    threshold : float, optional
        Flag rows with ``score >= threshold``.
    top_fraction : float, optional
        Flag the highest-scoring ``top_fraction`` of rows (ties broken by
        row order, so exactly ``round(top_fraction * n)`` rows are flagged).
    source : str
        Used in the error message.

    Returns
    -------
    flagged : ndarray of bool
    rule : str
        The rule in words, for the report.
    """
    if threshold is not None:
        return score >= threshold, f"score at or above {threshold:g}"
    if top_fraction is not None:
        if not 0 < top_fraction < 1:
            raise ValueError(f"{source}: top fraction must be between 0 and 1; got {top_fraction}")
        k = int(round(top_fraction * len(score)))
        order = np.argsort(-score, kind="stable")
        flagged = np.zeros(len(score), dtype=bool)
        flagged[order[:k]] = True
        return flagged, f"the highest-scoring {top_fraction:.1%} of rows ({k:,} flags)"
    raise ValueError(msg.NO_FLAG_RULE.format(source=source))


def prepare_audit_data(
    frame: pd.DataFrame,
    *,
    group_cols: Sequence[str],
    intersections: Sequence[Sequence[str]] = (),
    score_col: str = "score",
    label_col: str = "label",
    flagged_col: str | None = "flagged",
    threshold: float | None = None,
    top_fraction: float | None = None,
    cluster_col: str | None = None,
    source: str = "scores",
) -> AuditData:
    """Check a score table and turn it into :class:`AuditData`.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per scored child (and as-of date).
    group_cols : sequence of str
        Columns holding group membership (e.g. ``audit_ethnicity``).
    intersections : sequence of pairs of str
        Pairs of ``group_cols`` audited jointly, e.g. ethnicity × deprivation.
    score_col, label_col : str
        Score (0-1) and observed outcome (0/1, empty when not yet known).
    flagged_col : str, optional
        Column saying which rows were flagged at capacity. When ``None`` (or
        absent from ``frame`` while a rule is given), flags come from
        ``threshold`` or ``top_fraction``.
    threshold, top_fraction : float, optional
        Flag rule used when there is no flagged column.
    cluster_col : str, optional
        Column whose rows belong together (``family_id``: siblings and the
        same child at several as-of dates); the bootstrap resamples clusters.
    source : str
        File name for messages.

    Returns
    -------
    AuditData

    Raises
    ------
    ValueError
        Missing columns, outcomes not 0/1 or all empty, scores outside 0-1,
        unknown group codes, an intersection naming an unaudited column, or no
        attribute with more than one group. Messages are in :mod:`._messages`.
    """
    if len(frame) == 0:
        raise ValueError(msg.NO_ROWS.format(source=source))
    use_flag_col = flagged_col is not None and (
        flagged_col in frame.columns or (threshold is None and top_fraction is None))
    needed = [score_col, label_col, *group_cols] + ([flagged_col] if use_flag_col else []) + (
        [cluster_col] if cluster_col else [])
    _check_columns(frame, needed, source)
    for pair in intersections:
        unknown = [c for c in pair if c not in group_cols]
        if unknown or len(pair) != 2:
            raise ValueError(msg.BAD_INTERSECTION.format(
                pair=list(pair), unknown=unknown, known=list(group_cols)))

    label, known = _outcomes(frame, label_col, source)
    n_without = int((~known).sum())
    rows = frame.loc[known].reset_index(drop=True) if n_without else frame.reset_index(drop=True)
    score = _scores(rows, score_col, source)
    if use_flag_col:
        flagged = _flags(rows, flagged_col, source)
        rule = f"the model's flags at capacity (column {flagged_col!r})"
    else:
        flagged, rule = flags_from_rule(
            score, threshold=threshold, top_fraction=top_fraction, source=source)

    values = {c: _group_values(rows, c, source) for c in group_cols}
    groups: dict[str, pd.Categorical] = {c: _categorical(values[c], c) for c in group_cols}
    for a, b in intersections:
        joint = values[a] + INTERSECTION_SEPARATOR + values[b]
        order = [f"{x}{INTERSECTION_SEPARATOR}{y}"
                 for x in groups[a].categories for y in groups[b].categories]
        present = set(joint.unique())
        groups[f"{a}{INTERSECTION_SEPARATOR}{b}"] = pd.Categorical(
            joint, categories=[g for g in order if g in present])

    single = {a: str(cat.categories[0]) for a, cat in groups.items() if len(cat.categories) == 1}
    if len(single) == len(groups):
        first = next(iter(single))
        raise ValueError(msg.ONE_GROUP_ONLY.format(
            attribute=attribute_label(first), group=single[first]))
    clusters = None
    if cluster_col:
        codes, uniques = pd.factorize(rows[cluster_col], use_na_sentinel=True)
        lone = codes < 0  # a row without a cluster id is a cluster of its own
        codes[lone] = len(uniques) + np.arange(int(lone.sum()))
        clusters = codes.astype("int64") if len(uniques) < len(codes) else None
    return AuditData(score=score, label=label, flagged=flagged, groups=groups, source=source,
                     clusters=clusters, cluster_col=cluster_col if clusters is not None else None,
                     flag_rule=rule, n_without_outcome=n_without, single_group=single)
