"""Explanations of a model's risk in plain English: reasons for and against.

The model is usually a calibrated wrapper (isotonic or Platt) around a LightGBM
booster. Explanations use the **booster's log-odds contributions** from
LightGBM's ``pred_contrib=True`` (the exact TreeSHAP values, the same numbers
as ``shap.TreeExplainer`` on the raw margin). The calibrator maps the raw
score to a probability with a monotone (non-decreasing) function, so a
contribution that raises the raw score never lowers the calibrated risk: the
direction of every reason carries over to the risk shown to practitioners,
only the size on the probability scale is not additive.

When a wrapper holds several boosters (for instance ``CalibratedClassifierCV``
with ``ensemble=True``), the contributions are averaged: the mean raw score is
explained exactly, and each member's calibrator is monotone in its own score.

Public functions
----------------
- :func:`underlying_boosters` finds the LightGBM booster(s) inside a model.
- :func:`model_feature_names` lists the features the model needs, in order.
- :func:`predict_risk` gives the calibrated probability.
- :func:`shap_contributions` gives per-feature log-odds contributions.
- :func:`explain` gives contributions and the reasons table together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from earlywarning.models._reasons import (
    REASON_COLUMNS,
    FeatureDictionary,
    FeatureEntry,
    ReasonSettings,
    build_reasons,
    render_meaning,
)

__all__ = [
    "BIAS_COLUMN",
    "REASON_COLUMNS",
    "Explanation",
    "FeatureDictionary",
    "FeatureEntry",
    "ReasonSettings",
    "explain",
    "model_feature_names",
    "predict_risk",
    "raw_scores",
    "render_meaning",
    "shap_contributions",
    "underlying_boosters",
]

BIAS_COLUMN = "bias"
"""Column of :func:`shap_contributions` holding the expected raw score."""

ERR_NO_BOOSTER = (
    "cannot explain a {kind}: no LightGBM booster found inside it. Explanations need the "
    "LightGBM model (plain, or wrapped by a calibrator or pipeline)."
)
ERR_MISSING_FEATURES = (
    "the feature table lacks {n} column(s) the model needs: {missing}. The features come "
    "from another config than the model; rebuild the features with the model's pipeline."
)


def underlying_boosters(model: Any) -> list[lgb.Booster]:
    """Find the fitted LightGBM booster(s) inside a model.

    Walks the model's attributes (calibrators, pipelines, MLflow pyfunc
    wrappers, lists of fitted folds) and returns every distinct booster.

    Parameters
    ----------
    model : object
        A ``lightgbm.Booster``, ``LGBMClassifier`` or any wrapper holding one.

    Returns
    -------
    list of lightgbm.Booster
        In the order found; empty when there is none.
    """
    found: list[lgb.Booster] = []
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(model, 0)]
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen or depth > 8 or obj is None:
            continue
        seen.add(id(obj))
        if isinstance(obj, lgb.Booster):
            found.append(obj)
            continue
        if isinstance(obj, (str, bytes, int, float, bool, np.ndarray, pd.DataFrame, pd.Series)):
            continue
        if isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, (list, tuple)):
            children = list(obj)
        elif hasattr(obj, "__dict__"):
            children = list(vars(obj).values())
        else:
            continue
        stack.extend((c, depth + 1) for c in reversed(children))
    return found


def _boosters_or_raise(model: Any) -> list[lgb.Booster]:
    boosters = underlying_boosters(model)
    if not boosters:
        raise TypeError(ERR_NO_BOOSTER.format(kind=type(model).__name__))
    return boosters


def _find_attr(model: Any, attr: str) -> Any:
    """Return the first ``attr`` found walking down from ``model`` (breadth first)."""
    queue, seen = [model], set()
    while queue:
        obj = queue.pop(0)
        if id(obj) in seen or obj is None:
            continue
        seen.add(id(obj))
        value = getattr(obj, attr, None) if not isinstance(obj, lgb.Booster) else None
        if value is not None:
            return value
        if isinstance(obj, (list, tuple)):
            queue.extend(obj)
        elif hasattr(obj, "__dict__") and not isinstance(obj, (np.ndarray, pd.DataFrame)):
            queue.extend(v for v in vars(obj).values() if hasattr(v, "__dict__")
                         or isinstance(v, (list, tuple)))
    return None


def model_feature_names(model: Any) -> list[str]:
    """List the feature columns a model needs, in the order it needs them.

    Parameters
    ----------
    model : object
        A fitted model; the outermost ``feature_names_in_`` (scikit-learn) is
        used when present, else the booster's feature names.

    Returns
    -------
    list of str
    """
    names = _find_attr(model, "feature_names_in_")
    if names is not None:
        return [str(n) for n in names]
    return list(_boosters_or_raise(model)[0].feature_name())


def _matrix(features: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    missing = [n for n in names if n not in features.columns]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise ValueError(ERR_MISSING_FEATURES.format(n=len(missing), missing=shown))
    return features[names]


def predict_risk(model: Any, features: pd.DataFrame) -> np.ndarray:
    """Calibrated probability of the outcome for each row.

    Parameters
    ----------
    model : object
        A fitted classifier with ``predict_proba`` (sklearn flavour), an MLflow
        pyfunc model returning probabilities, or a plain LightGBM booster.
    features : DataFrame
        Must hold every column of :func:`model_feature_names`.

    Returns
    -------
    ndarray of float, shape (n_rows,)
    """
    X = _matrix(features, model_feature_names(model))
    if isinstance(model, lgb.Booster):
        risk = model.predict(X)
    elif hasattr(model, "predict_proba"):
        risk = np.asarray(model.predict_proba(X))[:, -1]
    else:
        out = np.asarray(model.predict(X), dtype=np.float64)
        risk = out[:, -1] if out.ndim == 2 else out
    return np.asarray(risk, dtype=np.float64)


def shap_contributions(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Per-feature log-odds contributions (TreeSHAP) of the underlying booster.

    Each row sums (with the ``bias`` column) to the booster's raw score. For
    several boosters the contributions are averaged.

    Parameters
    ----------
    model : object
        A model holding a LightGBM booster (see :func:`underlying_boosters`).
    features : DataFrame
        Must hold every column the model needs.

    Returns
    -------
    DataFrame
        One column per model feature plus ``bias``, index of ``features``.
    """
    boosters = _boosters_or_raise(model)
    names = model_feature_names(model)
    # Boosters fitted on arrays call their features Column_0...; the columns are
    # then given by position, cast to float32 as the scikit-learn wrappers do.
    X = _matrix(features, names).to_numpy(dtype=np.float32, na_value=np.nan)
    total = np.zeros((len(features), len(names) + 1))
    for booster in boosters:
        if booster.num_feature() != len(names):
            raise ValueError(
                f"the model's booster has {booster.num_feature()} features, but the model "
                f"declares {len(names)}; cannot line its contributions up with the features"
            )
        total += np.asarray(booster.predict(X, pred_contrib=True), dtype=np.float64)
    total /= len(boosters)
    return pd.DataFrame(total, columns=[*names, BIAS_COLUMN], index=features.index)


def raw_scores(model: Any, features: pd.DataFrame) -> np.ndarray:
    """Return the underlying booster's raw score (log-odds), averaged over boosters.

    Equal to the row sums of :func:`shap_contributions` but far cheaper (no
    TreeSHAP); used to order children who tie on calibrated risk.

    Parameters
    ----------
    model : object
        A model holding a LightGBM booster.
    features : DataFrame
        Must hold every column the model needs.

    Returns
    -------
    ndarray of float, shape (n_rows,)
    """
    boosters = _boosters_or_raise(model)
    X = _matrix(features, model_feature_names(model)).to_numpy(dtype=np.float32,
                                                               na_value=np.nan)
    total = np.zeros(len(features))
    for booster in boosters:
        total += np.asarray(booster.predict(X, raw_score=True), dtype=np.float64)
    return total / len(boosters)


@dataclass(frozen=True)
class Explanation:
    """Contributions and reasons for a set of rows.

    Attributes
    ----------
    contributions : DataFrame
        Output of :func:`shap_contributions` (log-odds, plus ``bias``).
    reasons : DataFrame
        Columns :data:`REASON_COLUMNS`, ``key`` taken from the key column.
    """

    contributions: pd.DataFrame
    reasons: pd.DataFrame


def explain(
    model: Any,
    features: pd.DataFrame,
    dictionary: FeatureDictionary,
    *,
    key: str = "person_id",
    settings: ReasonSettings | None = None,
) -> Explanation:
    """Explain each row's risk: SHAP contributions and plain-English reasons.

    Parameters
    ----------
    model : object
        The fitted model (calibrated wrapper or LightGBM itself).
    features : DataFrame
        Rows to explain; must hold ``key`` and every feature the model needs.
    dictionary : FeatureDictionary
        Describes each feature (meaning, agency, direction).
    key : str
        Column copied into the reasons' ``key`` column.
    settings : ReasonSettings, optional
        How many reasons; coverage thresholds.

    Returns
    -------
    Explanation

    Examples
    --------
    >>> exp = explain(model, flagged, FeatureDictionary.load(path))  # doctest: +SKIP
    >>> exp.reasons.loc[exp.reasons.key == "P000123", "text"].tolist()  # doctest: +SKIP
    ['Police recorded 3 domestic-abuse incidents involving a parent ... (raises risk)', ...]
    """
    if key not in features.columns:
        raise ValueError(f"the rows to explain have no {key!r} column")
    contrib = shap_contributions(model, features)
    names = [c for c in contrib.columns if c != BIAS_COLUMN]
    reasons = build_reasons(features[key].to_numpy(), features[names],
                            contrib[names].to_numpy(), dictionary, settings)
    return Explanation(contributions=contrib, reasons=reasons)
