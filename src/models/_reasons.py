"""Plain-English reasons from per-feature log-odds contributions.

A flag's reasons are built in three steps:

1. **Group** each model feature under its source agency, read from the feature
   dictionary (``feature_dictionary.json``). Context features that are not an
   agency's records (age, neighbourhood deprivation: dictionary ``group``
   ``context``) form one group of their own, ``context``.
2. **Sum** the features' SHAP contributions (log-odds) within each group. SHAP
   values are additive, so a group's sum is exactly what that agency's data
   moves the model's raw score by. A group whose sum is positive is a *risk*
   reason, negative a *protective* reason.
3. **Cite** the most telling feature values of each chosen group, using the
   feature's ``meaning`` template filled with the child's actual value, e.g.
   ``"Police recorded 3 domestic-abuse incidents involving a parent in the last
   12 months (raises risk)"``.

Missing data is stated as such: when a group has a coverage feature (direction
``coverage``) and the child's coverage is zero, the group is reported as a
``missing_data`` reason ("No housing data for this family: coverage 0%"), and
none of that agency's zero counts is read as "no risk". A coverage feature
counts the linked periods open at the as-of date, so any value of 1 or more is
full coverage; a fraction between 0 and 1 is read as partial coverage.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from earlywarning.data.schema import AGENCIES
from earlywarning.wording import fill_meaning

__all__ = [
    "CONTEXT_GROUP",
    "REASON_COLUMNS",
    "FeatureDictionary",
    "FeatureEntry",
    "ReasonSettings",
    "build_reasons",
    "format_value",
    "render_meaning",
]

CONTEXT_GROUP = "context"
"""Group key of features whose dictionary direction is ``context``."""

GROUP_LABELS = {**AGENCIES, CONTEXT_GROUP: "Context"}

REASON_COLUMNS = ("key", "direction", "agency", "feature", "text", "contribution", "order")
"""Columns of the reasons table returned by :func:`build_reasons`."""

DIRECTIONS = ("risk", "protective", "coverage", "context")
REQUIRED_KEYS = ("name", "meaning", "source_agency", "direction")

ERR_DICT_ENTRY = "{source}: entry {index} ({name!r}) has no {key!r}; every entry needs {keys}"
ERR_DICT_DIRECTION = (
    "{source}: entry {index} ({name!r}) has direction {value!r}; expected one of {valid}"
)
ERR_NOT_IN_DICT = (
    "{source}: the model uses features that the feature dictionary does not describe: "
    "{missing}. The model and the feature table come from different configs; rebuild "
    "the features or retrain."
)


@dataclass(frozen=True)
class FeatureEntry:
    """One feature as described by the feature dictionary.

    Parameters
    ----------
    name : str
        Feature column name, with its window (``police_da_parent_count_365d``).
    meaning : str
        Plain-English template with a ``{value}`` field.
    source_agency : str
        Agency code (``earlywarning.data.schema.AGENCIES``).
    direction : {"risk", "protective", "coverage", "context"}
        The signal by design; actual reasons follow the SHAP sign, not this.
    subject : str
        ``child``, ``household``, ``parents`` or ``siblings``.
    window_days : int or None
        Look-back window.
    table, aggregate : str
        Source table and aggregate, for provenance.
    spec_group : str
        The dictionary's ``group`` (``context`` puts the feature in the context group).
    if_no_record : float or None
        The declared value when the child has no matching record (0 for counts).
    """

    name: str
    meaning: str
    source_agency: str
    direction: str
    subject: str = "child"
    window_days: int | None = None
    table: str = ""
    aggregate: str = ""
    spec_group: str = ""
    if_no_record: float | None = None

    @property
    def group(self) -> str:
        """The reason group this feature is merged into.

        The agency, except for context features that are nobody's records
        (dictionary ``group`` ``context``; without a ``group`` key, any
        feature whose direction is ``context``).
        """
        if self.spec_group == CONTEXT_GROUP or (not self.spec_group
                                               and self.direction == "context"):
            return CONTEXT_GROUP
        return self.source_agency


@dataclass(frozen=True)
class FeatureDictionary:
    """The feature dictionary, indexed by feature name.

    Build it with :meth:`load` (a ``feature_dictionary.json`` path) or
    :meth:`from_records` (the parsed list).
    """

    entries: dict[str, FeatureEntry]
    source: str = "feature_dictionary.json"

    @classmethod
    def from_records(
        cls, records: list[dict[str, Any]], source: str = "feature_dictionary.json"
    ) -> FeatureDictionary:
        """Validate and index a list of dictionary records.

        Parameters
        ----------
        records : list of dict
            Records with at least ``name, meaning, source_agency, direction``.
        source : str
            Where the records came from, used in error messages.

        Returns
        -------
        FeatureDictionary
        """
        entries: dict[str, FeatureEntry] = {}
        for index, rec in enumerate(records):
            for key in REQUIRED_KEYS:
                if not rec.get(key):
                    raise ValueError(ERR_DICT_ENTRY.format(
                        source=source, index=index, name=rec.get("name"), key=key,
                        keys=", ".join(REQUIRED_KEYS)))
            if rec["direction"] not in DIRECTIONS:
                raise ValueError(ERR_DICT_DIRECTION.format(
                    source=source, index=index, name=rec["name"], value=rec["direction"],
                    valid=", ".join(DIRECTIONS)))
            entries[rec["name"]] = FeatureEntry(
                name=rec["name"], meaning=rec["meaning"], source_agency=rec["source_agency"],
                direction=rec["direction"], subject=rec.get("subject") or "child",
                window_days=rec.get("window_days"), table=rec.get("table") or "",
                aggregate=rec.get("aggregate") or "", spec_group=rec.get("group") or "",
                if_no_record=rec.get("if_no_record"))
        return cls(entries=entries, source=source)

    @classmethod
    def load(cls, path: str | Path) -> FeatureDictionary:
        """Read a ``feature_dictionary.json`` file.

        Parameters
        ----------
        path : str or Path
            The JSON file (a list of records).

        Returns
        -------
        FeatureDictionary
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: feature dictionary not found")
        return cls.from_records(json.loads(path.read_text(encoding="utf-8")), source=str(path))

    def require(self, names: list[str]) -> None:
        """Raise a clear error if any of ``names`` is not described."""
        missing = [n for n in names if n not in self.entries]
        if missing:
            raise ValueError(ERR_NOT_IN_DICT.format(source=self.source, missing=", ".join(missing)))

    def coverage_feature(self, group: str) -> str | None:
        """Name of the coverage feature of an agency group, or None."""
        for entry in self.entries.values():
            if entry.direction == "coverage" and entry.source_agency == group:
                return entry.name
        return None


@dataclass(frozen=True)
class ReasonSettings:
    """How many reasons to give and when coverage counts as missing.

    Parameters
    ----------
    n_risk, n_protective : int
        Most risk and protective reasons per child.
    max_cited : int
        Most feature values cited in one agency's reason.
    min_contribution : float
        Groups whose summed contribution is smaller than this (log-odds) are
        not worth a reason.
    partial_coverage_below : float
        Coverage in ``(0, partial_coverage_below)`` adds a "partial data"
        reason; coverage 0 replaces the agency's reason with "no data".
    """

    n_risk: int = 3
    n_protective: int = 2
    max_cited: int = 3
    min_contribution: float = 0.01
    partial_coverage_below: float = 0.5


def format_value(value: float) -> str:
    """Format a feature value for a sentence: ``3``, ``0.96``, ``12.5``."""
    v = float(value)
    if v.is_integer():
        return str(int(v))
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("0", "-0") else f"{v:.2g}"


def render_meaning(entry: FeatureEntry, value: float) -> str:
    """Fill a feature's ``meaning`` template with the child's value.

    A template may carry its own format spec (``"Attended {value:.0%} of
    school sessions"``); otherwise :func:`format_value` formats the number.
    ``{singular|plural}`` choices agree with the value ("1 referral", "2 referrals"),
    and a count of zero reads "no referrals" (:func:`earlywarning.wording.fill_meaning`).
    """
    v = float(value)
    return fill_meaning(entry.meaning, int(v) if v.is_integer() else v, format_value)


def _group_label(group: str) -> str:
    return GROUP_LABELS.get(group, group.replace("_", " ").capitalize())


def _in_sentence(label: str) -> str:
    # "Housing" -> "housing", "Hospital (A&E)" -> "hospital (A&E)"; "GP" and
    # "Early Help" (a service's name) keep their capitals.
    words = label.split()
    proper = any(w[:1].isupper() for w in words[1:])
    if len(label) > 1 and label[1].islower() and not proper:
        return label[0].lower() + label[1:]
    return label


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Groups:
    """Feature-to-group layout shared by every row of one explanation call."""

    def __init__(self, feature_names: list[str], dictionary: FeatureDictionary) -> None:
        dictionary.require(feature_names)
        self.features = feature_names
        self.entries = [dictionary.entries[n] for n in feature_names]
        self.names = sorted({e.group for e in self.entries})
        index = {g: i for i, g in enumerate(self.names)}
        self.member = np.zeros((len(feature_names), len(self.names)))
        for j, e in enumerate(self.entries):
            self.member[j, index[e.group]] = 1.0
        # Features that can be cited (not coverage), per group, by column index.
        self.citable = {g: [j for j, e in enumerate(self.entries)
                            if e.group == g and e.direction != "coverage"] for g in self.names}
        self.coverage = {}
        for g in self.names:
            cov = dictionary.coverage_feature(g)
            if cov is not None and cov in feature_names:
                self.coverage[g] = feature_names.index(cov)


_WINDOW_SUFFIX = re.compile(r"_(\d+d|ever|now)$")


def _base_name(name: str) -> str:
    """Feature name without its window: ``asc_parent_count_1095d`` -> ``asc_parent_count``."""
    return _WINDOW_SUFFIX.sub("", name)


def _cite(groups: _Groups, g: str, values: np.ndarray, contrib: np.ndarray, sign: float,
          settings: ReasonSettings) -> tuple[str, str]:
    """Pick the most telling feature values of a group's reason and phrase them.

    Cited: features pushing the same way as the group, largest first, at least
    a quarter of the largest, one window per feature (the largest). A risk
    reason does not cite a feature at its no-record value ("0 suspensions
    (raises risk)" would mislead); when nothing else is left the reason says
    that the absence of records is what moved the estimate.
    """
    cands = [j for j in groups.citable[g]
             if sign * contrib[j] > 0 and not math.isnan(values[j])
             and not (sign > 0 and groups.entries[j].if_no_record is not None
                      and values[j] == groups.entries[j].if_no_record)]
    cands.sort(key=lambda j: -abs(contrib[j]))
    chosen: list[int] = []
    seen: set[str] = set()
    for j in cands:
        base = _base_name(groups.features[j])
        if base in seen or abs(contrib[j]) < 0.25 * abs(contrib[cands[0]]):
            continue
        seen.add(base)
        chosen.append(j)
        if len(chosen) == settings.max_cited:
            break
    if not chosen:
        return f"No {_in_sentence(_group_label(g))} records in the periods the model looks at", ""
    parts = [render_meaning(groups.entries[j], values[j]) for j in chosen]
    return "; ".join(parts), ",".join(groups.features[j] for j in chosen)


def build_reasons(
    keys: list[Any] | np.ndarray | pd.Index,
    values: pd.DataFrame,
    contributions: np.ndarray,
    dictionary: FeatureDictionary,
    settings: ReasonSettings | None = None,
) -> pd.DataFrame:
    """Build the reasons table for a set of children.

    Parameters
    ----------
    keys : sequence
        One key per row (e.g. ``person_id`` or ``flag_id``), copied to ``key``.
    values : DataFrame
        Feature values, columns in the model's feature order.
    contributions : ndarray of shape (n_rows, n_features)
        SHAP log-odds contributions, same order as ``values`` (no bias column).
    dictionary : FeatureDictionary
        Describes every feature of ``values``.
    settings : ReasonSettings, optional
        Counts and thresholds.

    Returns
    -------
    DataFrame
        Columns :data:`REASON_COLUMNS`. ``direction`` is ``risk``,
        ``protective`` or ``missing_data``; ``contribution`` is the agency's
        summed log-odds; ``feature`` lists the cited features (comma-separated);
        ``order`` numbers reasons within a key: risk first (largest first),
        then protective, then missing data.
    """
    settings = settings or ReasonSettings()
    names = list(values.columns)
    groups = _Groups(names, dictionary)
    vals = values.to_numpy(dtype=np.float64, na_value=np.nan)
    contrib = np.asarray(contributions, dtype=np.float64)
    if contrib.shape != vals.shape:
        raise ValueError(f"contributions have shape {contrib.shape}, values {vals.shape}")
    totals = contrib @ groups.member
    rows: list[tuple] = []
    for i, key in enumerate(keys):
        missing: list[tuple[str, str, str, float]] = []
        no_data: set[str] = set()
        for g, j in groups.coverage.items():
            cov = vals[i, j]
            cov = 0.0 if math.isnan(cov) else min(max(cov, 0.0), 1.0)
            # Coverage is recorded per family and source (ext_source_coverage).
            where = f"{_in_sentence(_group_label(g))} data for this family: coverage {cov:.0%}"
            if cov <= 0:
                no_data.add(g)
                total = totals[i, groups.names.index(g)]
                missing.append((g, groups.features[j], f"No {where}", total))
            elif cov < settings.partial_coverage_below:
                missing.append((g, groups.features[j], f"Partial {where}", contrib[i, j]))
        order = np.argsort(-totals[i])
        risk, protective = [], []
        for a in order:
            g = groups.names[a]
            t = totals[i, a]
            if g in no_data or abs(t) < settings.min_contribution:
                continue
            if t > 0 and len(risk) < settings.n_risk:
                risk.append((g, t))
        for a in order[::-1]:
            g = groups.names[a]
            t = totals[i, a]
            if g in no_data or abs(t) < settings.min_contribution:
                continue
            if t < 0 and len(protective) < settings.n_protective:
                protective.append((g, t))
        n = 0
        for direction, chosen, sign, tail in (("risk", risk, 1.0, " (raises risk)"),
                                              ("protective", protective, -1.0, " (lowers risk)")):
            for g, t in chosen:
                phrase, cited = _cite(groups, g, vals[i], contrib[i], sign, settings)
                n += 1
                rows.append((key, direction, g, cited, _capitalise(phrase) + tail, float(t), n))
        for g, feat, text, t in sorted(missing, key=lambda m: -abs(m[3])):
            n += 1
            rows.append((key, "missing_data", g, feat, text, float(t), n))
    out = pd.DataFrame(rows, columns=list(REASON_COLUMNS))
    return out.astype({"contribution": "float64", "order": "int64"})
