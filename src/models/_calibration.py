"""Calibration on a later slice of training time.

A flag that says "risk 18%" should mean that 18 of 100 such children
escalated. :class:`TemporalCalibratedClassifier` fits its model on the earlier
as-of dates of the training data and an isotonic or Platt (sigmoid) map on the
latest ones, so the map is learnt on data the model has not seen and that is
closest in time to the test period.

Worked example: training as-of dates 2020-01-01 … 2021-12-01 (24 monthly
dates), ``calibration_fraction = 0.25`` → the last 6 dates, 2021-07-01 …
2021-12-01, calibrate; the model learns from 2020-01-01 … 2021-06-01.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from ._estimators import PointsRuleClassifier, _binary_tags, _binary_target, _BinaryProbaMixin

__all__ = ["TemporalCalibratedClassifier", "calibration_slice", "family_folds"]

CALIBRATION_METHODS = ("isotonic", "sigmoid", "none")


def calibration_slice(y: np.ndarray, as_of, fraction: float) -> np.ndarray:
    """Boolean mask of the rows that calibrate: the latest ``fraction`` of dates.

    Parameters
    ----------
    y : numpy.ndarray of 0/1
        Labels (used only without ``as_of``).
    as_of : array-like of dates or None
        As-of date per row. ``None`` means the rows carry no time: a seeded,
        stratified random ``fraction`` of rows calibrates instead.
    fraction : float
        Share of the distinct as-of dates (or rows) kept for calibration.

    Returns
    -------
    numpy.ndarray of bool
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(
            f"model.calibration.fraction = {fraction}: must be strictly between 0 and 1"
        )
    if as_of is None:
        rng = np.random.default_rng(0)
        mask = np.zeros(len(y), dtype=bool)
        for cls in np.unique(y):
            rows = np.flatnonzero(y == cls)
            n_cal = min(len(rows) - 1, max(1, int(round(len(rows) * fraction))))
            mask[rng.choice(rows, n_cal, replace=False)] = True
        return mask
    dates = pd.to_datetime(pd.Series(np.asarray(as_of))).to_numpy()
    distinct = np.unique(dates)
    if len(distinct) < 2:
        raise ValueError(
            "model.calibration: the training data has one as-of date; calibrating on a "
            "later slice of time needs at least two"
        )
    n_cal = min(len(distinct) - 1, max(1, int(round(len(distinct) * fraction))))
    return dates >= distinct[len(distinct) - n_cal]


def family_folds(groups, n_folds: int) -> np.ndarray:
    """Fold (0 .. ``n_folds`` - 1) of each row's family, stable across runs.

    Families are assigned by a hash of their id (CRC-32), so a family is in the
    same fold in every run, fold and date, and all its members are together.

    Parameters
    ----------
    groups : array-like
        Family id per row.
    n_folds : int
        Number of folds (at least 2).

    Returns
    -------
    numpy.ndarray of int64
    """
    if n_folds < 2:
        raise ValueError(f"model.calibration.family_folds = {n_folds}: must be at least 2")
    codes, uniques = pd.factorize(pd.Series(np.asarray(groups)).astype(str))
    fold = np.array([zlib.crc32(u.encode()) % n_folds for u in uniques], dtype=np.int64)
    return fold[codes] if len(uniques) else np.zeros(len(codes), dtype=np.int64)


def _smoothed_isotonic(raw: np.ndarray, y: np.ndarray) -> IsotonicRegression:
    """Isotonic calibration whose steps never claim certainty.

    A plain isotonic fit gives each step the observed rate of its block, so a
    small top block where every child escalated is calibrated to exactly 1.0
    ("100% risk"), a claim no record supports. Each block's rate is replaced by
    its Laplace-smoothed rate (k + 1) / (n + 2), and the map is refitted so it
    stays monotone. Worked example: a top block of 4 children who all escalated
    reads 5/6 = 0.83, not 1.0; a block of 1,000 with 150 escalations moves only
    from 0.150 to 0.151.
    """
    first = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
    step = first.predict(raw)
    _, block, n = np.unique(step, return_inverse=True, return_counts=True)
    k = np.bincount(block, weights=y, minlength=len(n))
    smoothed = ((k + 1.0) / (n + 2.0))[block]
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, smoothed)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


class TemporalCalibratedClassifier(_BinaryProbaMixin, ClassifierMixin, BaseEstimator):
    """A classifier fit on earlier dates and calibrated on later ones.

    Parameters
    ----------
    estimator : classifier
        The model to fit on the earlier slice (cloned).
    method : {"isotonic", "sigmoid", "none"}
        Calibration map; ``"none"`` refits the model on all rows uncalibrated.
    fraction : float
        Share of the latest as-of dates used to calibrate.
    family_folds : int
        With ``groups`` (family ids) at fit time, the calibration rows are
        scored by models that never saw their family: the families are cut
        into this many folds, and the rows of each fold's families on the
        later dates are scored by a model fitted on the earlier dates of the
        other folds' families (cross-fitting). The map is then learnt as the
        test period is scored, on unseen families; the returned model is still
        fitted on the earlier dates of every family. Without it the map was
        learnt on families the model had been fitted on, which overstated the
        highest risks (the default LA's test period, top 200 by risk: 0.50
        predicted against 0.33 observed; cross-fitted, 0.33 against 0.33).

    Attributes
    ----------
    estimator_ : classifier
        The fitted model (earlier slice).
    calibrator_ : IsotonicRegression, LogisticRegression or None
        The map from the model's probability to the calibrated one (Platt's
        sigmoid is a one-feature logistic regression on the log-odds).
    calibration_rows_ : str
        How the map was learnt: ``"later dates, scored by models that did not
        see the family"``, or
        ``"later dates"`` (no ``groups`` given, or a fold without both
        outcomes), or ``"none"``.
    """

    def __init__(self, estimator=None, method: str = "isotonic", fraction: float = 0.25,
                 family_folds: int = 5) -> None:
        self.estimator = estimator
        self.method = method
        self.fraction = fraction
        self.family_folds = family_folds

    def __sklearn_tags__(self):
        tags = _binary_tags(super().__sklearn_tags__())
        if self.estimator is not None:
            inner = self.estimator.__sklearn_tags__()
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
            tags.classifier_tags.poor_score = inner.classifier_tags.poor_score
        return tags

    def fit(self, X, y, as_of=None, groups=None):
        """Fit on the earlier slice, calibrate on the later one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), binary
        as_of : array-like of shape (n_samples,), optional
            As-of date per row; without it a stratified random share calibrates.
        groups : array-like of shape (n_samples,), optional
            Family id per row: the calibrating rows are then cross-fitted by
            family (``family_folds``).

        Returns
        -------
        self
        """
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(
                f"model.calibration.method = {self.method!r}: must be one of "
                f"{', '.join(CALIBRATION_METHODS)}"
            )
        from ._estimators import LightGBMRiskClassifier

        base = LightGBMRiskClassifier() if self.estimator is None else self.estimator
        frame = X if isinstance(X, pd.DataFrame) else None
        validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=None)
        self.classes_, y01 = _binary_target(self, y)
        y_arr = np.asarray(y)
        if self.method == "none":
            self.estimator_ = clone(base).fit(X, y_arr)
            self.calibrator_ = None
            self.calibration_rows_ = "none"
            return self
        cal = calibration_slice(y01, as_of, self.fraction)
        for side, mask in (("model", ~cal), ("calibration", cal)):
            if len(np.unique(y01[mask])) < 2:
                raise ValueError(
                    f"model.calibration: the {side} slice of the training data has only one "
                    "class; the training period needs positives and negatives on both sides "
                    "(change model.calibration.fraction or widen as_of)"
                )
        rows = frame if frame is not None else np.asarray(X)
        def part(mask: np.ndarray):
            return rows.iloc[mask] if frame is not None else rows[mask]

        self.estimator_ = clone(base).fit(part(~cal), y_arr[~cal])
        raw = self._cross_fitted(base, part, y_arr, y01, cal, groups)
        if raw is None:
            raw = self.estimator_.predict_proba(part(cal))[:, 1]
            self.calibration_rows_ = "later dates"
        else:
            self.calibration_rows_ = "later dates, scored by models that did not see the family"
        if self.method == "isotonic":
            self.calibrator_ = _smoothed_isotonic(raw, y01[cal])
        else:
            self.calibrator_ = LogisticRegression(C=1e6, max_iter=1000).fit(
                _logit(raw)[:, None], y01[cal])
        return self

    def _cross_fitted(self, base, part, y_arr, y01, cal, groups) -> np.ndarray | None:
        """Raw scores of the calibration rows from models that did not see their family.

        ``None`` without ``groups``, or when a fold's model would lack a class.
        """
        if groups is None:
            return None
        fold = family_folds(groups, self.family_folds)
        fits = [~cal & (fold != k) for k in range(self.family_folds)]
        if any(len(np.unique(y01[m])) < 2 for m in fits):
            return None
        raw = np.empty(int(cal.sum()), dtype=np.float64)
        where = fold[cal]
        for k, fit in enumerate(fits):
            scored = cal & (fold == k)
            if scored.any():
                model = clone(base).fit(part(fit), y_arr[fit])
                raw[where == k] = model.predict_proba(part(scored))[:, 1]
        return raw

    def predict_proba(self, X):
        """Calibrated probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=None)
        p = self._calibrate(self.estimator_.predict_proba(X)[:, 1])
        return np.column_stack([1.0 - p, p])

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.calibrator_ is None:
            return raw
        if isinstance(self.calibrator_, IsotonicRegression):
            return self.calibrator_.predict(raw)
        return self.calibrator_.predict_proba(_logit(raw)[:, None])[:, 1]

    def risk_and_rank(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Return the calibrated risk and the ranking score from one prediction.

        Same values as ``predict_proba(X)[:, 1]`` and ``ranking_score(X)``, but
        the underlying model predicts once (when its ranking score is its
        probability), which halves the cost of scoring a test period.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
        """
        check_is_fitted(self)
        validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=None)
        raw = self.estimator_.predict_proba(X)[:, 1]
        if isinstance(self.estimator_, PointsRuleClassifier):
            rank = self.estimator_.ranking_score(X)
        else:
            rank = raw
        return self._calibrate(raw), np.asarray(rank, dtype=float)

    def ranking_score(self, X) -> np.ndarray:
        """Return the model's own score, which orders children within calibration ties.

        Isotonic calibration is a step function: many children share one
        calibrated risk. Ranking by the underlying score keeps the model's
        order (isotonic maps are monotone, so it agrees with the calibrated
        risk wherever that differs).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if hasattr(self.estimator_, "ranking_score"):
            return self.estimator_.ranking_score(X)
        return self.estimator_.predict_proba(X)[:, 1]
