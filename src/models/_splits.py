"""Rolling-origin temporal splits with families kept on one side.

Two rules keep a test score honest (ARCHITECTURE invariant 2):

* **Time.** A training row at as-of date ``a`` has its label window
  ``(a, a + horizon]``. That window must end strictly before the first test
  as-of date ``t``: ``a + horizon < t``. Worked example, horizon 365 days,
  first test date ``t = 2023-01-01``: ``a = 2022-01-01`` gives
  ``a + 365 d = 2023-01-01``, which is *not* before ``t`` (the label window
  ``(2022-01-01, 2023-01-01]`` contains the test date), so it is dropped;
  ``a = 2021-12-01`` ends on ``2022-12-01 < 2023-01-01`` and is kept.
* **Family.** Every family is assigned once, by a seeded hash of its
  ``family_id``, to the training families or the test families. Test rows
  come only from test families and training rows only from the others, so no
  sibling of a test child, at any date, teaches the model.

The final fold is the held-out test period whose metrics are the headline;
earlier folds are back-tests that show stability across origins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "SplitError",
    "TemporalFold",
    "RollingOriginSplitter",
    "assign_family_side",
    "check_no_leakage",
]


class SplitError(ValueError):
    """The as-of dates or rows cannot give a leakage-free temporal split."""


@dataclass(frozen=True)
class TemporalFold:
    """One rolling-origin fold.

    Attributes
    ----------
    name : str
        ``"fold_1"`` … ; the last fold is ``"final"``.
    train_dates, test_dates : tuple of pandas.Timestamp
        As-of dates on each side.
    train_index, test_index : numpy.ndarray
        Positional row indices into the frame that was split.
    """

    name: str
    train_dates: tuple[pd.Timestamp, ...]
    test_dates: tuple[pd.Timestamp, ...]
    train_index: np.ndarray = field(repr=False)
    test_index: np.ndarray = field(repr=False)

    @property
    def is_final(self) -> bool:
        """Whether this is the held-out final test period."""
        return self.name == "final"


def assign_family_side(
    family_id: pd.Series, test_family_fraction: float, seed: int
) -> np.ndarray:
    """Return a boolean array: ``True`` where the row's family is a test family.

    The assignment depends only on the family id and the seed, so it is the
    same for every fold, every as-of date and every run.

    Parameters
    ----------
    family_id : pandas.Series
        Family id per row.
    test_family_fraction : float
        Expected share of families on the test side, in ``(0, 1)``.
    seed : int
        Seed of the hash.

    Returns
    -------
    numpy.ndarray of bool
    """
    if not 0.0 < test_family_fraction < 1.0:
        raise SplitError(
            f"model.splits.test_family_fraction = {test_family_fraction}: "
            "must be strictly between 0 and 1"
        )
    key = f"{seed:016d}"[-16:]
    codes, uniques = pd.factorize(family_id.astype("string"), use_na_sentinel=True)
    if (codes < 0).any():
        raise SplitError("feature table: family_id is missing on some rows; every row needs one")
    hashes = pd.util.hash_array(np.asarray(uniques, dtype=object), hash_key=key)
    unit = (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return (unit < test_family_fraction)[codes]


class RollingOriginSplitter:
    """Rolling-origin splits over as-of dates, grouped by family.

    Parameters
    ----------
    horizon_days : int
        Outcome horizon; a training row's label window ``(a, a + horizon]``
        must end before the first test date.
    test_period_dates : int
        Number of consecutive as-of dates in each test block.
    n_folds : int
        Number of folds; the last is the held-out final period, earlier ones
        step back by ``test_period_dates`` each.
    test_family_fraction : float
        Share of families held out for testing.
    min_train_dates : int
        Fewer training as-of dates than this is an error.
    seed : int
        Seed of the family assignment.
    """

    def __init__(
        self,
        horizon_days: int,
        test_period_dates: int = 3,
        n_folds: int = 3,
        test_family_fraction: float = 0.3,
        min_train_dates: int = 3,
        seed: int = 0,
    ) -> None:
        self.horizon_days = horizon_days
        self.test_period_dates = test_period_dates
        self.n_folds = n_folds
        self.test_family_fraction = test_family_fraction
        self.min_train_dates = min_train_dates
        self.seed = seed

    def split(self, frame: pd.DataFrame) -> list[TemporalFold]:
        """Return the folds, oldest first, the held-out final fold last.

        Parameters
        ----------
        frame : pandas.DataFrame
            Needs ``as_of``, ``family_id`` and ``label``; rows whose label is
            null (horizon incomplete) are never used on either side.

        Returns
        -------
        list of TemporalFold

        Raises
        ------
        SplitError
            If the dates cannot give ``n_folds`` folds with at least
            ``min_train_dates`` training dates each.
        """
        for col in ("as_of", "family_id", "label"):
            if col not in frame.columns:
                raise SplitError(f"feature table: column {col!r} is required for splitting")
        if self.test_period_dates < 1 or self.n_folds < 1:
            raise SplitError("model.splits: test_period_dates and n_folds must be at least 1")
        as_of = pd.to_datetime(frame["as_of"]).to_numpy()
        labelled = frame["label"].notna().to_numpy()
        dates = np.sort(np.unique(as_of[labelled]))
        horizon = np.timedelta64(int(self.horizon_days), "D")
        need = self.test_period_dates * self.n_folds
        if len(dates) < need + self.min_train_dates:
            raise SplitError(
                f"model.splits: {len(dates)} as-of dates have complete labels, but "
                f"{self.n_folds} folds of {self.test_period_dates} test dates plus at least "
                f"{self.min_train_dates} training dates a horizon ({self.horizon_days} days) "
                "earlier are needed; widen as_of or reduce n_folds/test_period_dates"
            )
        is_test_family = assign_family_side(
            frame["family_id"], self.test_family_fraction, self.seed
        )
        folds: list[TemporalFold] = []
        for k in range(self.n_folds):
            end = len(dates) - (self.n_folds - 1 - k) * self.test_period_dates
            test_dates = dates[end - self.test_period_dates : end]
            first_test = test_dates[0]
            train_dates = dates[dates + horizon < first_test]
            if len(train_dates) < self.min_train_dates:
                raise SplitError(
                    f"model.splits: fold {k + 1} tests from {pd.Timestamp(first_test).date()} "
                    f"but only {len(train_dates)} as-of dates end their {self.horizon_days}-day "
                    f"label window before it (need {self.min_train_dates}); add earlier as-of "
                    "dates or reduce n_folds"
                )
            train_mask = labelled & ~is_test_family & np.isin(as_of, train_dates)
            test_mask = labelled & is_test_family & np.isin(as_of, test_dates)
            name = "final" if k == self.n_folds - 1 else f"fold_{k + 1}"
            fold = TemporalFold(
                name=name,
                train_dates=tuple(pd.Timestamp(d) for d in train_dates),
                test_dates=tuple(pd.Timestamp(d) for d in test_dates),
                train_index=np.flatnonzero(train_mask),
                test_index=np.flatnonzero(test_mask),
            )
            check_no_leakage(frame, fold, self.horizon_days)
            folds.append(fold)
        return folds


def check_no_leakage(frame: pd.DataFrame, fold: TemporalFold, horizon_days: int) -> None:
    """Raise :class:`SplitError` if a fold leaks across time or family.

    Parameters
    ----------
    frame : pandas.DataFrame
        The frame the fold indexes (``as_of``, ``family_id``).
    fold : TemporalFold
        The fold to check.
    horizon_days : int
        Outcome horizon in days.
    """
    train = frame.iloc[fold.train_index]
    test = frame.iloc[fold.test_index]
    if len(train) == 0 or len(test) == 0:
        raise SplitError(
            f"model.splits: fold {fold.name} has {len(train)} training and {len(test)} test "
            "rows; the cohort is too small for this split"
        )
    label_end = pd.to_datetime(train["as_of"]).max() + pd.Timedelta(days=horizon_days)
    first_test = pd.to_datetime(test["as_of"]).min()
    if not label_end < first_test:
        raise SplitError(
            f"model.splits: fold {fold.name} leaks: a training label window ends on "
            f"{label_end.date()}, not before the first test as-of date {first_test.date()}"
        )
    shared = set(train["family_id"]).intersection(test["family_id"])
    if shared:
        raise SplitError(
            f"model.splits: fold {fold.name} leaks: {len(shared)} families have rows on both sides"
        )
