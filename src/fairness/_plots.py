"""Figures for the ethics report, returned as base64 PNG to embed in HTML."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

_COLOURS = ["#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#6f72af", "#b58840",
            "#28a197", "#912b88", "#505a5f"]


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def metric_bars(table: pd.DataFrame, attribute: str, metrics: list[str],
                overall: pd.Series) -> str:
    """Bar charts of metrics by group with 95% intervals, side by side in one figure.

    Groups with too few children get no bar but their status in words.

    Parameters
    ----------
    table : pandas.DataFrame
        ``AuditResult.table``.
    attribute : str
        Attribute whose groups are drawn.
    metrics : list of str
        One panel per metric.
    overall : pandas.Series
        Everyone's value per metric, drawn as a dashed line.

    Returns
    -------
    str
        Base64 PNG.
    """
    part = table[table.attribute == attribute]
    groups = list(dict.fromkeys(part.group))
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics) + 1.2,
                                                      0.32 * len(groups) + 1.1),
                             sharey=True, squeeze=False)
    y = np.arange(len(groups))[::-1]
    for ax, metric in zip(axes[0], metrics, strict=True):
        rows = part[part.metric == metric].set_index("group").reindex(groups)
        for yi, (_group, r) in zip(y, rows.iterrows(), strict=True):
            if r.status == "ok":
                ax.barh(yi, r.value, color="#505a5f" if r.is_reference else "#1d70b8")
                ax.errorbar(r.value, yi, xerr=[[r.value - r.ci_low], [r.ci_high - r.value]],
                            color="black", capsize=2, lw=0.8)
            else:
                ax.text(0, yi, " too few", va="center", fontsize=7, color="#505a5f")
        if np.isfinite(overall.get(metric, np.nan)):
            ax.axvline(overall[metric], color="#d4351c", ls="--", lw=1)
        ax.set_title(rows.metric_label.dropna().iloc[0] if rows.metric_label.notna().any()
                     else metric, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.axvline(0, color="black", lw=0.5)
    axes[0][0].set_yticks(y, [f"{g}{' (ref)' if ref else ''}" for g, ref in zip(
        groups, part.drop_duplicates("group").is_reference, strict=True)], fontsize=7)
    # fixed margins: tight_layout costs as much as drawing the figure
    width = fig.get_size_inches()[0]
    fig.subplots_adjust(left=min(0.45, 1.3 / width), right=0.98, wspace=0.12,
                        bottom=0.7 / fig.get_size_inches()[1], top=0.9)
    return _png(fig)


CALIBRATION_PLOT_CUTS = (0.5, 0.8, 0.9, 0.95, 0.99)
"""Quantiles of everyone's scores that cut the calibration plot's bands."""


def calibration_by_group(score: np.ndarray, label: np.ndarray, groups: pd.Categorical,
                         *, min_group_size: int = 30,
                         cuts: tuple[float, ...] = CALIBRATION_PLOT_CUTS) -> str:
    """Predicted against observed risk per score band, one line per group.

    Bands are cut at quantiles of everyone's scores (``cuts``: by default the
    lower half, then the 50-80th, 80-90th, 90-95th and 95-99th percentiles and
    the top 1%), so each group is read on the same scale and the high scores,
    where flags are, are not averaged into one wide top band. Bands with fewer
    than ``min_group_size`` of a group's children are not drawn. The axes fit
    the drawn points.

    Returns
    -------
    str
        Base64 PNG.
    """
    edges = np.unique(np.quantile(score, cuts)) if len(score) else np.array([])
    bands = np.searchsorted(edges, score, side="right").astype("int64")
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    top = 0.0
    codes = np.asarray(groups.codes)
    for i, g in enumerate(groups.categories):
        m = codes == i
        if m.sum() < min_group_size:
            continue
        n = np.bincount(bands[m], minlength=len(edges) + 1)
        ok = n >= min_group_size
        with np.errstate(invalid="ignore", divide="ignore"):
            pred = np.bincount(bands[m], weights=score[m], minlength=len(n)) / n
            obs = np.bincount(bands[m], weights=label[m], minlength=len(n)) / n
        if ok.any():
            top = max(top, float(np.nanmax(pred[ok])), float(np.nanmax(obs[ok])))
        ax.plot(pred[ok], obs[ok], marker="o", ms=4, lw=1.2, label=str(g),
                color=_COLOURS[i % len(_COLOURS)])
    top = min(1.0, 1.1 * top) if top > 0 else 1.0
    ax.plot([0, top], [0, top], color="#505a5f", lw=1, ls=":", label="perfect calibration")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("Mean predicted risk in band")
    ax.set_ylabel("Observed rate in band")
    ax.legend(fontsize=7, loc="upper left")
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.11, top=0.97)
    return _png(fig)


def capacity_curve(curves: pd.DataFrame, panels: list[tuple[str, str]], current: float) -> str:
    """Metrics by group as the share of children flagged changes, one panel per metric.

    Parameters
    ----------
    curves : pandas.DataFrame
        From :func:`capacity_curves`.
    panels : list of (str, str)
        Metric key and axis label per panel.
    current : float
        Today's share flagged, drawn as a vertical line.

    Returns
    -------
    str
        Base64 PNG.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (metric, label) in zip(axes[0], panels, strict=True):
        rows = curves[curves.metric == metric]
        for i, (g, part) in enumerate(rows.groupby("group", sort=False)):
            style = {"color": "black", "lw": 2, "ls": "--"} if g == "All children" else {
                "color": _COLOURS[i % len(_COLOURS)], "lw": 1.2}
            ax.plot(part.fraction * 100, part.value, marker=".", label=g, **style)
        ax.axvline(current * 100, color="#505a5f", lw=1, ls=":")
        ax.set_xlabel("Share of children flagged (%)  · dotted: today", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][-1].legend(fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.96, wspace=0.25)
    return _png(fig)
