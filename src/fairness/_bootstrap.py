"""Vectorised bootstrap of every group metric of every attribute at once.

Each replicate resamples the row indices once (with replacement, as the
ordinary nonparametric bootstrap does). The resample is held as a count per
row; one sparse matrix product then sums those counts into every cell the
metrics need, for all attributes and groups together:

- per (group, flagged, outcome, fine score bin): number of rows — gives flag
  rate, FPR, FNR, precision, recall, base rate and (binned) AUC;
- per (group, calibration band): sum of scores and sum of outcomes — gives
  mean predicted risk, calibration gap and ECE exactly.

So the cost per replicate is one pass over the rows' cell memberships instead
of one ``MetricFrame`` per replicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._metrics import metrics_from_sums

CHUNK_CELLS = 4_000_000
"""Rows × replicates resampled per chunk (bounds memory to ~100 MB)."""


def score_bins(score: np.ndarray, n_bins: int) -> np.ndarray:
    """Assign each score to one of up to ``n_bins`` quantile bands (ties share a band).

    Parameters
    ----------
    score : ndarray
        Scores.
    n_bins : int
        Number of equal-count bands wanted.

    Returns
    -------
    ndarray of int64
        Band index per row, ordered by score (0 = lowest).
    """
    edges = np.unique(np.quantile(score, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, score, side="right").astype("int64")


@dataclass
class CellLayout:
    """Where each row's contributions go in the cell vector.

    Attributes
    ----------
    attributes : list of str
        Audited attributes, in order.
    n_groups : list of int
        Number of groups of each attribute.
    count_offset, sum_offset : list of int
        Start of each attribute's count block and score-sum block.
    n_fine, n_coarse : int
        Number of fine (AUC) and coarse (calibration) score bins.
    design : scipy.sparse.csr_matrix, shape (n_cells, n_rows)
        Row *i* contributes ``design[:, i]`` to the cell vector.
    """

    attributes: list[str]
    n_groups: list[int]
    count_offset: list[int]
    sum_offset: list[int]
    n_fine: int
    n_coarse: int
    design: sp.csr_matrix

    def split(self, cells: np.ndarray) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Yield ``(attribute, counts, sums)`` views of summed cells.

        ``cells`` has shape (n_cells, r); ``counts`` has shape
        (r, groups + 1, 2, 2, n_fine) and ``sums`` (r, groups + 1, n_coarse, 2),
        the last group being everyone (overall).
        """
        r = cells.shape[1]
        for a, g, co, so in zip(self.attributes, self.n_groups, self.count_offset,
                                self.sum_offset, strict=True):
            size = g * 4 * self.n_fine
            counts = cells[co:co + size].reshape(g, 2, 2, self.n_fine, r)
            counts = np.moveaxis(counts, -1, 0)
            sums = cells[so:so + g * self.n_coarse * 2].reshape(g, self.n_coarse, 2, r)
            sums = np.moveaxis(sums, -1, 0)
            counts = np.concatenate([counts, counts.sum(axis=1, keepdims=True)], axis=1)
            sums = np.concatenate([sums, sums.sum(axis=1, keepdims=True)], axis=1)
            yield a, counts, sums


def build_layout(
    score: np.ndarray,
    label: np.ndarray,
    flagged: np.ndarray,
    groups: dict[str, pd.Categorical],
    *,
    n_fine: int = 100,
    n_coarse: int = 10,
) -> CellLayout:
    """Build the sparse design that maps rows to cells.

    Parameters
    ----------
    score, label, flagged : ndarray
        Per-row score, outcome (0/1) and flag.
    groups : dict of str to pandas.Categorical
        Group membership per attribute.
    n_fine, n_coarse : int
        Score bins for AUC and for calibration (ECE).

    Returns
    -------
    CellLayout
    """
    n = len(score)
    fine = score_bins(score, n_fine)
    coarse = score_bins(score, n_coarse)
    nf, nc = int(fine.max()) + 1, int(coarse.max()) + 1
    within = flagged.astype("int64") * (2 * nf) + label.astype("int64") * nf + fine
    rows_idx, cols_idx, vals = [], [], []
    attrs, n_groups, c_off, s_off = [], [], [], []
    offset = 0
    ones = np.ones(n)
    for a, cat in groups.items():
        codes = np.asarray(cat.codes, dtype="int64")
        g = len(cat.categories)
        attrs.append(a)
        n_groups.append(g)
        c_off.append(offset)
        rows_idx.append(offset + codes * (4 * nf) + within)
        cols_idx.append(np.arange(n))
        vals.append(ones)
        offset += g * 4 * nf
        s_off.append(offset)
        base = offset + codes * (nc * 2) + coarse * 2
        rows_idx += [base, base + 1]
        cols_idx += [np.arange(n), np.arange(n)]
        vals += [score.astype("float64"), label.astype("float64")]
        offset += g * nc * 2
    design = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows_idx), np.concatenate(cols_idx))),
        shape=(offset, n),
    )
    return CellLayout(attrs, n_groups, c_off, s_off, nf, nc, design)


def full_sample_metrics(layout: CellLayout) -> dict[str, dict[str, np.ndarray]]:
    """Return each attribute's metrics on the full sample, shape (groups + 1,).

    These use the same binned definitions as the replicates, so that the
    replicates' spread can be centred on them.
    """
    cells = np.asarray(layout.design.sum(axis=1))
    return {a: {k: v[0] for k, v in metrics_from_sums(c, s).items()}
            for a, c, s in layout.split(cells)}


def bootstrap_metrics(
    layout: CellLayout, n_boot: int, seed: int
) -> dict[str, dict[str, np.ndarray]]:
    """Return each attribute's metrics over bootstrap replicates.

    Parameters
    ----------
    layout : CellLayout
        From :func:`build_layout`.
    n_boot : int
        Number of replicates.
    seed : int
        Seed of the resampling; same seed, same replicates.

    Returns
    -------
    dict
        ``result[attribute][metric]`` has shape (n_boot, groups + 1).
    """
    n = layout.design.shape[1]
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CHUNK_CELLS // max(n, 1))
    parts: dict[str, dict[str, list[np.ndarray]]] = {a: {} for a in layout.attributes}
    done = 0
    while done < n_boot:
        r = min(per_chunk, n_boot - done)
        idx = rng.integers(0, n, size=(r, n), dtype=np.int64)
        # position (row i, replicate j) in an (n, r) C-ordered array is i * r + j
        idx *= r
        idx += np.arange(r, dtype=np.int64)[:, None]
        weights = np.bincount(idx.ravel(), minlength=n * r).reshape(n, r).astype("float64")
        del idx
        cells = layout.design @ weights
        for a, counts, sums in layout.split(cells):
            for k, v in metrics_from_sums(counts, sums).items():
                parts[a].setdefault(k, []).append(v)
        done += r
    return {a: {k: np.concatenate(v, axis=0) for k, v in m.items()} for a, m in parts.items()}
