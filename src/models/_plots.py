"""Evaluation plots as PNG bytes.

Figures are built with ``matplotlib.figure.Figure`` directly, never through
``pyplot``, so the library neither changes the caller's backend nor leaves
figures open.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from earlywarning.data.schema import AGENCIES
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve

from ._evaluation import calibration_points

__all__ = ["pr_curve_png", "calibration_png", "capacity_over_time_png", "ablation_png"]

COLOURS = {"lightgbm": "#1d70b8", "logistic": "#4c2c92", "rule": "#d4351c",
           "prevalence": "#505a5f", "oracle": "#00703c", "oracle_recorded": "#85994b",
           "truth_fitted": "#f47738"}
LABELS = {"lightgbm": "LightGBM", "logistic": "Logistic (L2)", "rule": "Points rule (RAG-like)",
          "prevalence": "No skill (base rate)", "oracle": "Oracle (true probability)",
          "oracle_recorded": "Oracle without the unrecorded latent",
          "truth_fitted": "LightGBM fitted to the true probability"}


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def _subplots(figsize: tuple[float, float], ncols: int = 1, **kw):
    fig = Figure(figsize=figsize, layout="tight")
    return fig, fig.subplots(1, ncols, **kw)


def _models(preds: pd.DataFrame) -> list[str]:
    return [c.removeprefix("risk__") for c in preds.columns if c.startswith("risk__")]


def pr_curve_png(preds: pd.DataFrame) -> bytes:
    """Precision-recall curves of every model beside the no-skill line.

    Parameters
    ----------
    preds : pandas.DataFrame
        ``label`` and ``rank__<model>`` columns (``predictions.parquet``).

    Returns
    -------
    bytes
    """
    y = preds["label"].to_numpy()
    fig, ax = _subplots((6.4, 4.4))
    for m in _models(preds):
        if m == "prevalence":
            continue
        p, r, _ = precision_recall_curve(y, preds[f"rank__{m}"].to_numpy())
        ax.step(r, p, where="post", color=COLOURS.get(m), label=LABELS.get(m, m),
                linestyle="--" if m.startswith("oracle") else "-")
    ax.axhline(y.mean(), color=COLOURS["prevalence"], linestyle=":",
               label=f"No skill = base rate {y.mean():.3f}")
    ax.set_xlabel("Recall (share of escalations flagged)")
    ax.set_ylabel("Precision (share of flags that escalated)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Precision-recall on the held-out test period")
    ax.legend(fontsize=8)
    return _png(fig)


CALIBRATION_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)
"""Where the report's calibration plot cuts its bins: deciles, then finer in the top 10%."""


def calibration_png(preds: pd.DataFrame,
                    quantiles: tuple[float, ...] = CALIBRATION_QUANTILES) -> bytes:
    """Observed escalation rate against mean predicted risk, bin by bin.

    The bins are each model's risk deciles, with the top decile cut again at
    the 95th, 98th, 99th and 99.5th percentiles: flags come from the top 1%,
    so one wide top bin would hide how well their risks are calibrated.

    Parameters
    ----------
    preds : pandas.DataFrame
    quantiles : tuple of float

    Returns
    -------
    bytes
    """
    y = preds["label"].to_numpy()
    fig, ax = _subplots((5.2, 4.4))
    top = 0.0
    for m in _models(preds):
        if m == "prevalence":
            continue
        pts = calibration_points(y, preds[f"risk__{m}"].to_numpy(), quantiles=quantiles)
        top = max(top, pts["mean_risk"].max(), pts["observed_rate"].max())
        ax.plot(pts["mean_risk"], pts["observed_rate"], marker="o", color=COLOURS.get(m),
                label=LABELS.get(m, m))
    lim = min(1.0, top * 1.1 + 0.01)
    ax.plot([0, lim], [0, lim], color="#b1b4b6", linestyle=":", label="Perfect calibration")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel("Mean predicted risk in bin")
    ax.set_ylabel("Observed escalation rate in bin")
    ax.set_title("Calibration (deciles; the top decile cut finer)")
    ax.legend(fontsize=8)
    return _png(fig)


def capacity_over_time_png(by_month: dict[str, list[dict]], models: list[str]) -> bytes:
    """Precision and recall at capacity per test month, with the base rate.

    Parameters
    ----------
    by_month : dict
        Model → list of per-month rows (back-test folds and the final period).
    models : list of str
        Which models to draw.

    Returns
    -------
    bytes
    """
    fig, (ax1, ax2) = _subplots((10, 3.8), 2, sharex=True)
    base_drawn = False
    for m in models:
        rows = sorted(by_month.get(m, []), key=lambda r: r["as_of"])
        if not rows:
            continue
        x = pd.to_datetime([r["as_of"] for r in rows])
        prec = [np.nan if r["precision_at_capacity_expected"] is None
                else r["precision_at_capacity_expected"] for r in rows]
        rec = [np.nan if r["recall_at_capacity_expected"] is None
               else r["recall_at_capacity_expected"] for r in rows]
        ax1.plot(x, prec, marker="o", color=COLOURS.get(m), label=LABELS.get(m, m))
        ax2.plot(x, rec, marker="o", color=COLOURS.get(m), label=LABELS.get(m, m))
        if not base_drawn:
            ax1.plot(x, [r["base_rate"] for r in rows], color=COLOURS["prevalence"],
                     linestyle=":", label="Base rate (no skill)")
            base_drawn = True
    ax1.set_title("Precision at capacity, per as-of month")
    ax2.set_title("Recall at capacity, per as-of month")
    for ax in (ax1, ax2):
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=45)
    ax1.legend(fontsize=8)
    return _png(fig)


def ablation_png(ablation: dict) -> bytes:
    """Change in precision at capacity when each agency's features are removed.

    Parameters
    ----------
    ablation : dict
        Contents of ``ablation.json``.

    Returns
    -------
    bytes
    """
    rows = sorted(ablation["agencies"], key=lambda r: r["delta_precision_at_capacity"]["value"])
    names = [AGENCIES.get(r["agency"], r["agency"]) for r in rows]
    vals = np.array([r["delta_precision_at_capacity"]["value"] for r in rows])
    lo = np.array([r["delta_precision_at_capacity"]["ci_low"] if
                   r["delta_precision_at_capacity"]["ci_low"] is not None else v
                   for r, v in zip(rows, vals, strict=True)])
    hi = np.array([r["delta_precision_at_capacity"]["ci_high"] if
                   r["delta_precision_at_capacity"]["ci_high"] is not None else v
                   for r, v in zip(rows, vals, strict=True)])
    fig, ax = _subplots((6.4, 0.45 * len(rows) + 1.2))
    # a percentile interval need not contain the point estimate: clip, as matplotlib requires
    err = [np.clip(vals - lo, 0, None), np.clip(hi - vals, 0, None)]
    ax.barh(names, vals, xerr=err, color="#1d70b8", ecolor="#0b0c0c")
    ax.axvline(0, color="#0b0c0c", linewidth=0.8)
    ax.set_xlabel("Change in precision at capacity without this agency's data")
    ax.set_title("What each data source adds\n(below 0: precision falls without it)", fontsize=10)
    return _png(fig)
