"""Figures for the ethics report, returned as base64 PNG to embed in HTML."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ._bootstrap import score_bins  # noqa: E402

_COLOURS = ["#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#6f72af", "#b58840",
            "#28a197", "#912b88", "#505a5f"]


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def metric_bars(table: pd.DataFrame, attribute: str, metric: str, overall: float) -> str:
    """Bar chart of one metric by group with 95% intervals; no bar where too few to say.

    Parameters
    ----------
    table : pandas.DataFrame
        ``AuditResult.table``.
    attribute, metric : str
        What to draw.
    overall : float
        Everyone's value, drawn as a dashed line.

    Returns
    -------
    str
        Base64 PNG.
    """
    rows = table[(table.attribute == attribute) & (table.metric == metric)]
    fig, ax = plt.subplots(figsize=(6.2, 0.42 * len(rows) + 1.0))
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows.itertuples(), strict=True):
        if r.status == "ok":
            ax.barh(yi, r.value, color="#1d70b8" if not r.is_reference else "#505a5f")
            ax.errorbar(r.value, yi, xerr=[[r.value - r.ci_low], [r.ci_high - r.value]],
                        color="black", capsize=3, lw=1)
        else:
            ax.text(0, yi, f"  {r.status}", va="center", fontsize=8, color="#505a5f")
    if np.isfinite(overall):
        ax.axvline(overall, color="#d4351c", ls="--", lw=1, label="All children")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(y, [f"{g}{' (reference)' if ref else ''}"
                      for g, ref in zip(rows.group, rows.is_reference, strict=True)], fontsize=8)
    ax.set_xlabel(rows.metric_label.iloc[0] if len(rows) else metric)
    ax.set_xlim(left=min(0, np.nanmin(rows.ci_low.to_numpy(dtype=float), initial=0)))
    fig.tight_layout()
    return _png(fig)


def calibration_by_group(score: np.ndarray, label: np.ndarray, groups: pd.Categorical,
                         *, min_group_size: int = 30, n_bands: int = 5) -> str:
    """Predicted against observed risk per score band, one line per group.

    Bands are quantiles of everyone's scores, so each group is read on the
    same scale; bands with fewer than ``min_group_size`` of a group's
    children are not drawn.

    Returns
    -------
    str
        Base64 PNG.
    """
    bands = score_bins(score, n_bands)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    top = float(np.quantile(score, 0.999)) if len(score) else 1.0
    ax.plot([0, top], [0, top], color="#505a5f", lw=1, ls=":", label="perfect calibration")
    codes = np.asarray(groups.codes)
    for i, g in enumerate(groups.categories):
        m = codes == i
        if m.sum() < min_group_size:
            continue
        n = np.bincount(bands[m], minlength=bands.max() + 1)
        ok = n >= min_group_size
        with np.errstate(invalid="ignore", divide="ignore"):
            pred = np.bincount(bands[m], weights=score[m], minlength=len(n)) / n
            obs = np.bincount(bands[m], weights=label[m], minlength=len(n)) / n
        ax.plot(pred[ok], obs[ok], marker="o", ms=4, lw=1.2, label=str(g),
                color=_COLOURS[i % len(_COLOURS)])
    ax.set_xlabel("Mean predicted risk in band")
    ax.set_ylabel("Observed rate in band")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _png(fig)


def capacity_curve(curves: pd.DataFrame, metric: str, label: str, current: float) -> str:
    """One metric by group as the share of children flagged changes.

    Parameters
    ----------
    curves : pandas.DataFrame
        From :func:`capacity_curves`.
    metric, label : str
        Metric key and axis label.
    current : float
        Today's share flagged, drawn as a vertical line.

    Returns
    -------
    str
        Base64 PNG.
    """
    rows = curves[curves.metric == metric]
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for i, (g, part) in enumerate(rows.groupby("group", sort=False)):
        style = {"color": "black", "lw": 2, "ls": "--"} if g == "All children" else {
            "color": _COLOURS[i % len(_COLOURS)], "lw": 1.2}
        ax.plot(part.fraction * 100, part.value, marker=".", label=g, **style)
    ax.axvline(current * 100, color="#505a5f", lw=1, ls=":")
    ax.text(current * 100, ax.get_ylim()[1], " today", va="top", fontsize=8)
    ax.set_xlabel("Share of children flagged (%)")
    ax.set_ylabel(label)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
