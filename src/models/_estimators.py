"""The four models we compare, as scikit-learn binary classifiers.

* :class:`LightGBMRiskClassifier` — gradient-boosted trees (the default model).
* :class:`ScaledLogisticRegression` — L2 logistic regression on declared,
  median-imputed, log-scaled and standardised features.
* :class:`PointsRuleClassifier` — the transparent points score councils use
  today (a RAG rating: one point per recent DA notification, referral, prior
  plan …), turned into a probability by an isotonic fit on training data.
* :class:`PrevalenceClassifier` — the no-skill model: everyone gets the
  training base rate.

All follow the estimator contract: ``__init__`` stores its arguments, ``fit``
learns attributes ending in ``_`` and returns ``self``. Each offers
``ranking_score(X)``, the score used to rank children for flagging (points for
the rule, the uncalibrated probability otherwise).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

__all__ = [
    "LightGBMRiskClassifier",
    "ScaledLogisticRegression",
    "PointsRuleClassifier",
    "PrevalenceClassifier",
]

ONE_CLASS_ERROR = (
    "{name}: the training labels contain only one class ({value!r}); a test or "
    "training period with no positives (or no negatives) cannot train a classifier"
)


def _binary_target(estimator: BaseEstimator, y) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(classes, y01)`` for a binary target, with clear errors."""
    y = np.asarray(y)
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    classes = np.unique(y)
    if len(classes) == 1:
        raise ValueError(ONE_CLASS_ERROR.format(name=type(estimator).__name__, value=classes[0]))
    if kind != "binary":
        raise ValueError(
            f"{type(estimator).__name__}: Only binary classification is supported; the "
            f"outcome label must be 0/1, got a {kind!r} target"
        )
    return classes, (y == classes[1]).astype(np.int8)


def _weights(sample_weight, X) -> np.ndarray | None:
    """Return validated sample weights (non-negative, not all zero), or ``None``."""
    if sample_weight is None:
        return None
    return _check_sample_weight(sample_weight, X, ensure_non_negative=True)


def _binary_tags(tags, poor_score: bool = False):
    tags.classifier_tags.multi_class = False
    tags.classifier_tags.poor_score = poor_score
    tags.input_tags.allow_nan = True
    return tags


class _BinaryProbaMixin:
    """``predict`` and ``ranking_score`` from ``predict_proba``."""

    def predict(self, X):
        """Predict the class with probability above one half.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] > 0.5).astype(int)]

    def ranking_score(self, X) -> np.ndarray:
        """Score used to rank children for flagging (higher = flag first).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        return self.predict_proba(X)[:, 1]


class LightGBMRiskClassifier(_BinaryProbaMixin, ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees (LightGBM), deterministic for a seed.

    Missing values are routed by LightGBM itself (no imputation), so "no
    record" stays distinguishable from zero when the feature table keeps it.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample,
    colsample_bytree, reg_lambda, max_bin : LightGBM hyper-parameters.
    random_state : int
        Seed for bagging and feature sampling.
    n_jobs : int or None
        Threads. ``None`` picks one thread below two million cells (where
        starting threads costs more than it saves) and every core above.
        ``earlywarning.models`` sets ``OMP_WAIT_POLICY=PASSIVE`` so threads do
        not spin against each other on a busy machine.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        max_bin: int = 63,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        return _binary_tags(super().__sklearn_tags__())

    def fit(self, X, y):
        """Fit the boosted trees.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), binary

        Returns
        -------
        self
        """
        from lightgbm import LGBMClassifier

        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float32)
        self.classes_, y01 = _binary_target(self, y)
        self.booster_ = LGBMClassifier(**self._booster_params(X.size)).fit(X, y01)
        return self

    def fit_to_probability(self, X, p):
        """Fit the same boosted trees to known probabilities instead of outcomes.

        On a synthetic LA the true probability of each row is known: trees
        fitted to it (cross-entropy on the probabilities as soft labels) show
        how much of the oracle these features can carry, apart from what
        learning from rare outcomes costs. ``self`` is left as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        p : array-like of shape (n_samples,)
            Probabilities, clipped to [0, 1].

        Returns
        -------
        lightgbm.LGBMRegressor
            Its ``predict`` gives probabilities.
        """
        from lightgbm import LGBMRegressor

        X = np.asarray(X, dtype=np.float32)
        p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        if X.ndim != 2 or len(X) != len(p):
            raise ValueError(f"fit_to_probability: X has shape {X.shape}, p {p.shape}")
        if not np.isfinite(p).all():
            raise ValueError("fit_to_probability: p has missing values")
        return LGBMRegressor(objective="cross_entropy", **self._booster_params(X.size)).fit(X, p)

    def _booster_params(self, cells: int) -> dict:
        n_jobs = self.n_jobs
        if n_jobs is None:
            n_jobs = 1 if cells < 2_000_000 else (os.cpu_count() or 1)
        return dict(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=self.subsample,
            subsample_freq=1 if self.subsample < 1.0 else 0,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            max_bin=self.max_bin,
            random_state=self.random_state,
            n_jobs=n_jobs,
            deterministic=True,
            # Row-wise histograms suit many rows and few bins (1 M × 100: 62 s
            # against 72 s col-wise on 2 cores); fixed, not auto-chosen by a
            # timing test, so the same data always give the same model.
            force_row_wise=True,
            verbose=-1,
        )

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float32)
        return self.booster_.predict_proba(X)

    def pred_contrib(self, X) -> np.ndarray:
        """SHAP contributions in log-odds, one column per feature plus the bias.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_features + 1)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float32)
        return self.booster_.predict(X, pred_contrib=True)

    @property
    def feature_importances_(self) -> np.ndarray:
        """Gain-free split counts per feature, from LightGBM."""
        check_is_fitted(self)
        return self.booster_.feature_importances_


def _signed_log1p(X):
    return np.sign(X) * np.log1p(np.abs(X))


class ScaledLogisticRegression(_BinaryProbaMixin, ClassifierMixin, BaseEstimator):
    """L2-penalised logistic regression with declared pre-processing.

    Steps: median imputation of missing values (kept as a column if all are
    missing), ``sign(x)·log(1+|x|)`` to tame count tails (``log_counts``),
    standardisation, then L2 logistic regression.

    Parameters
    ----------
    C : float
        Inverse L2 strength.
    max_iter : int
        Solver iterations.
    log_counts : bool
        Apply the signed log transform before scaling.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000, log_counts: bool = True) -> None:
        self.C = C
        self.max_iter = max_iter
        self.log_counts = log_counts

    def __sklearn_tags__(self):
        return _binary_tags(super().__sklearn_tags__())

    def fit(self, X, y):
        """Fit the pre-processing and the logistic regression.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), binary

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        self.classes_, y01 = _binary_target(self, y)
        steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
        if self.log_counts:
            steps.append(("log", FunctionTransformer(_signed_log1p)))
        steps += [
            ("scale", StandardScaler()),
            ("logistic", LogisticRegression(C=self.C, l1_ratio=0.0, max_iter=self.max_iter)),
        ]
        self.pipeline_ = Pipeline(steps).fit(X, y01)
        self.n_iter_ = self.pipeline_[-1].n_iter_
        return self

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self.pipeline_.predict_proba(X)


class PointsRuleClassifier(_BinaryProbaMixin, ClassifierMixin, BaseEstimator):
    """A transparent points score, like the RAG ratings councils use.

    Each feature matched by a pattern in ``points`` adds ``weight × min(value,
    cap)`` points (missing counts as 0). The rule ranks by points; its
    probability is the isotonic (monotone) fit of the outcome on points in the
    training data, so children with equal points get equal risk.

    Parameters
    ----------
    points : mapping of str to float, optional
        Feature-name glob pattern → points per unit, e.g.
        ``{"police_da_*_count_365d": 1, "csc_referral_count_365d": 1}``.
        Patterns need feature names (fit on a DataFrame). ``None`` gives every
        feature one point per unit.
    cap : float
        Largest value counted per feature (three DA notifications score like
        ten); ``None`` for no cap.
    """

    def __init__(self, points: Mapping[str, float] | None = None, cap: float | None = 3.0) -> None:
        self.points = points
        self.cap = cap

    def __sklearn_tags__(self):
        return _binary_tags(super().__sklearn_tags__(), poor_score=True)

    def _resolve_weights(self, n_features: int) -> np.ndarray:
        if self.points is None:
            return np.ones(n_features)
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            raise ValueError(
                "PointsRuleClassifier: points are given by feature name, so fit it on a "
                "DataFrame with named columns"
            )
        weights = np.zeros(n_features)
        for pattern, weight in self.points.items():
            hits = [i for i, n in enumerate(names) if fnmatch.fnmatchcase(str(n), pattern)]
            if not hits:
                raise ValueError(
                    f"model.rule_baseline.points: pattern {pattern!r} matches no feature "
                    f"column (there are {len(names)}, e.g. {list(names[:3])})"
                )
            weights[hits] += float(weight)
        return weights

    def fit(self, X, y, sample_weight=None):
        """Resolve the points table and fit the isotonic points → risk map.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), binary
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        self.classes_, y01 = _binary_target(self, y)
        self.weights_ = self._resolve_weights(X.shape[1])
        self.isotonic_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
            self._points(X), y01, sample_weight=_weights(sample_weight, X)
        )
        return self

    def _points(self, X: np.ndarray) -> np.ndarray:
        values = np.nan_to_num(X, nan=0.0)
        values = np.clip(values, 0.0, self.cap if self.cap is not None else None)
        return values @ self.weights_

    def points_of(self, X) -> np.ndarray:
        """Points per row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        return self._points(X)

    def ranking_score(self, X) -> np.ndarray:
        """Points: the rule flags the highest points first (ties are common).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples,)
        """
        return self.points_of(X)

    def predict_proba(self, X):
        """Isotonic risk for each row's points.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        p = self.isotonic_.predict(self.points_of(X))
        return np.column_stack([1.0 - p, p])


class PrevalenceClassifier(_BinaryProbaMixin, ClassifierMixin, BaseEstimator):
    """No-skill model: every child gets the training base rate.

    Its PR-AUC is the base rate and its precision at any capacity is, in
    expectation, the base rate: the floor every other model must clear.
    """

    def __init__(self) -> None:
        pass

    def __sklearn_tags__(self):
        return _binary_tags(super().__sklearn_tags__(), poor_score=True)

    def fit(self, X, y, sample_weight=None):
        """Learn the (weighted) base rate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), binary
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        self.classes_, y01 = _binary_target(self, y)
        self.prevalence_ = float(np.average(y01, weights=_weights(sample_weight, X)))
        return self

    def predict_proba(self, X):
        """Return the base rate for every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_samples, 2)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        p = np.full(X.shape[0], self.prevalence_)
        return np.column_stack([1.0 - p, p])
