"""Vectorised bootstrap of every group metric of every attribute.

The ordinary bootstrap resamples the n rows with replacement. Every metric
of the audit depends on the rows only through how many fall in each *cell*
(group × flagged × outcome × fine score band) and their scores, so a
replicate only needs the cell counts. Resampling n row indices and counting
them per cell is, in distribution, exactly one multinomial draw of n over the
cells with probabilities (rows in cell) / n; we draw those counts directly,
for all replicates at once, per attribute:

- counts per (group, flagged, outcome, fine band) give flag rate, FPR, FNR,
  precision, recall, base rate and AUC (pairs in the same fine band count as
  ties; the point AUC is exact and the replicates only supply the spread);
- count × the cell's mean score gives the score sums per calibration band,
  hence mean predicted risk, calibration gap and ECE. Fine bands nest inside
  the calibration bands and are narrow, so the within-cell spread of scores
  that this leaves out is negligible.

The cost per replicate is one binomial draw per non-empty cell instead of a
pass over the rows (or a ``MetricFrame`` per replicate).

When rows come in clusters (a family's children, a child at several as-of
dates) the replicates resample whole clusters instead: cluster indices are
drawn with replacement and one sparse product per attribute turns the
clusters' counts into cell counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._metrics import metrics_from_sums

CHUNK = 2_000_000
"""Replicates × cells held in memory at once."""


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


def nested_bins(score: np.ndarray, n_coarse: int, n_sub: int) -> tuple[np.ndarray, int]:
    """Fine score bands nested in the ``n_coarse`` calibration bands.

    Returns (fine band per row, ordered by score, with ``fine // n_sub`` the
    calibration band; number of fine bands).
    """
    coarse = score_bins(score, n_coarse)
    sub = np.zeros(len(score), dtype="int64")
    for b in np.unique(coarse):
        m = coarse == b
        sub[m] = score_bins(score[m], n_sub)
    return coarse * n_sub + sub, (int(coarse.max()) + 1) * n_sub


@dataclass
class AttributeCells:
    """The non-empty cells of one attribute.

    Attributes
    ----------
    name : str
    n_groups : int
    cells : ndarray of int64
        Flat index of each non-empty cell in (group, flagged, outcome, fine band).
    counts : ndarray of float64
        Rows in each non-empty cell.
    mean_score : ndarray of float64
        Mean score of each non-empty cell.
    """

    name: str
    n_groups: int
    cells: np.ndarray
    counts: np.ndarray
    mean_score: np.ndarray
    by_cluster: sp.csr_matrix | None = None
    """Rows of each cluster in each non-empty cell, shape (cells, clusters)."""


@dataclass
class CellLayout:
    """Cells of every attribute, with the score bands they use.

    Attributes
    ----------
    attributes : list of AttributeCells
    n_fine, n_sub : int
        Fine bands, and fine bands per calibration band.
    n_rows : int
    """

    attributes: list[AttributeCells]
    n_fine: int
    n_sub: int
    n_rows: int
    n_clusters: int = 0

    def metrics(self, a: AttributeCells, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics of every group (and everyone, last) from cell counts.

        ``counts`` has shape (r, non-empty cells); returns arrays (r, groups + 1).
        """
        r = counts.shape[0]
        size = a.n_groups * 4 * self.n_fine
        dense = np.zeros((r, size))
        dense[:, a.cells] = counts
        weighted = np.zeros((r, size))
        weighted[:, a.cells] = counts * a.mean_score
        shape = (r, a.n_groups, 2, 2, self.n_fine)
        dense, weighted = dense.reshape(shape), weighted.reshape(shape)
        dense = np.concatenate([dense, dense.sum(axis=1, keepdims=True)], axis=1)
        weighted = np.concatenate([weighted, weighted.sum(axis=1, keepdims=True)], axis=1)
        n_coarse = self.n_fine // self.n_sub
        band = (*dense.shape[:2], n_coarse, self.n_sub)
        score_sum = weighted.sum(axis=(2, 3)).reshape(band).sum(axis=-1)
        outcome_sum = dense[:, :, :, 1, :].sum(axis=2).reshape(band).sum(axis=-1)
        return metrics_from_sums(dense, np.stack([score_sum, outcome_sum], axis=-1))


def build_layout(
    score: np.ndarray,
    label: np.ndarray,
    flagged: np.ndarray,
    groups: dict[str, pd.Categorical],
    *,
    n_fine: int = 50,
    n_coarse: int = 10,
    clusters: np.ndarray | None = None,
) -> CellLayout:
    """Count rows per cell for every attribute.

    Parameters
    ----------
    score, label, flagged : ndarray
        Per-row score, outcome (0/1) and flag.
    groups : dict of str to pandas.Categorical
        Group membership per attribute.
    n_fine, n_coarse : int
        Fine score bands (for AUC) and calibration bands (for ECE); the fine
        bands nest in the calibration bands.
    clusters : ndarray of int64, optional
        Cluster code (0..K-1) of each row, to resample clusters.

    Returns
    -------
    CellLayout
    """
    n_sub = max(1, n_fine // n_coarse)
    fine, nf = nested_bins(score, n_coarse, n_sub)
    within = flagged.astype("int64") * (2 * nf) + label.astype("int64") * nf + fine
    attributes = []
    for name, cat in groups.items():
        key = np.asarray(cat.codes, dtype="int64") * (4 * nf) + within
        cells, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        mean_score = np.bincount(inverse, weights=score) / counts
        by_cluster = None if clusters is None else sp.csr_matrix(
            (np.ones(len(score)), (inverse, clusters)),
            shape=(len(cells), int(clusters.max()) + 1))
        attributes.append(AttributeCells(name, len(cat.categories), cells,
                                         counts.astype("float64"), mean_score, by_cluster))
    k = 0 if clusters is None else int(clusters.max()) + 1
    return CellLayout(attributes, nf, n_sub, len(score), k)


def full_sample_metrics(layout: CellLayout) -> dict[str, dict[str, np.ndarray]]:
    """Return each attribute's metrics on the full sample, shape (groups + 1,).

    These use the same binned definitions as the replicates, so that the
    replicates' spread can be centred on them.
    """
    return {a.name: {k: v[0] for k, v in layout.metrics(a, a.counts[None, :]).items()}
            for a in layout.attributes}


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
        Seed; same seed, same replicates.

    Returns
    -------
    dict
        ``result[attribute][metric]`` has shape (n_boot, groups + 1).
    """
    if layout.n_clusters:
        return _cluster_bootstrap(layout, n_boot, seed)
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for a in layout.attributes:
        p = a.counts / a.counts.sum()
        per_chunk = max(1, CHUNK // (a.n_groups * 4 * layout.n_fine))
        parts: dict[str, list[np.ndarray]] = {}
        done = 0
        while done < n_boot:
            r = min(per_chunk, n_boot - done)
            counts = rng.multinomial(layout.n_rows, p, size=r).astype("float64")
            for k, v in layout.metrics(a, counts).items():
                parts.setdefault(k, []).append(v)
            done += r
        out[a.name] = {k: np.concatenate(v, axis=0) for k, v in parts.items()}
    return out


def _cluster_bootstrap(layout: CellLayout, n_boot: int, seed: int
                       ) -> dict[str, dict[str, np.ndarray]]:
    """Resample whole clusters: K cluster indices with replacement per replicate."""
    rng = np.random.default_rng(seed)
    k = layout.n_clusters
    per_chunk = max(1, CHUNK // max(k, 1))
    parts: dict[str, dict[str, list[np.ndarray]]] = {a.name: {} for a in layout.attributes}
    done = 0
    while done < n_boot:
        r = min(per_chunk, n_boot - done)
        idx = rng.integers(0, k, size=(r, k), dtype=np.int64)
        # position (cluster i, replicate j) of a (k, r) C-ordered array is i * r + j
        idx *= r
        idx += np.arange(r, dtype=np.int64)[:, None]
        weights = np.bincount(idx.ravel(), minlength=k * r).reshape(k, r).astype("float64")
        for a in layout.attributes:
            counts = np.asarray(a.by_cluster @ weights).T
            for name, v in layout.metrics(a, counts).items():
                parts[a.name].setdefault(name, []).append(v)
        done += r
    return {a: {m: np.concatenate(v, axis=0) for m, v in ms.items()} for a, ms in parts.items()}
