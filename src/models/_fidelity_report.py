"""Explanation fidelity of a training run, and its section in the evaluation report."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd
from earlywarning.models._reasons import FeatureDictionary

__all__ = ["fidelity_for_run", "fidelity_section_for_run", "fidelity_section_html"]


DRIVER_LABELS = {
    "domestic_abuse": "Domestic abuse", "parental_mental_health": "Parental mental health",
    "parental_substance_misuse": "Parental substance misuse",
    "housing_crisis": "Housing crisis", "school_absence": "School absence",
    "missing_episodes": "Missing episodes", "youth_offending": "Youth offending",
    "prior_csc_history": "The child's social care history",
    "sibling_csc_history": "A sibling's social care history",
    "adult_social_care": "Adult social care needs", "deprivation": "Deprivation",
    "young_age": "Young age (under 5, babies most)", "adolescence": "Adolescence (12 and over)",
    "latent_unrecorded": "Adversity that leaves no record",
    "school_attendance_good": "Good school attendance (protective)",
    "early_help_engagement": "Engagement with Early Help (protective)",
    "stable_address": "A stable address (protective)",
    "second_carer_support": "A second carer's support (protective)",
}
"""Each driver in words, for the fidelity table."""


def fidelity_for_run(run_dir: str | Path, features: pd.DataFrame | None = None,
                     write: bool = True, scramble_seed: int | None = None) -> Any:
    """Explanation fidelity of a training run's model on its test flags.

    Reads the run folder (``model.joblib``, ``test_predictions.parquet`` with
    ``flagged``, ``feature_dictionary.json``, and the ``ground_truth`` path
    from ``metrics.json``'s ``run`` or ``run.json``) and the feature table
    rows of the test dates.
    Writes ``explanation_fidelity.json`` into the run folder.

    Parameters
    ----------
    run_dir : str or Path
        The run folder.
    features : DataFrame, optional
        The feature table (default: read from ``resolved_config.yaml``'s
        ``features.output_dir``).
    write : bool
        Write ``explanation_fidelity.json``.
    scramble_seed : int, optional
        Shuffle the true largest driver across child-months first (with this
        seed): the chance baseline of the same reasons against a wrong truth.
        Nothing is written then.

    Returns
    -------
    FidelityResult or None
        None when the run has no ground truth (real data) or its model has
        no LightGBM booster.
    """
    import joblib
    from earlywarning.models.explain import underlying_boosters
    from earlywarning.models.fidelity import explanation_fidelity

    run_dir = Path(run_dir)
    info: dict[str, Any] = {}
    for name, part in (("metrics.json", "run"), ("run.json", None)):
        if (run_dir / name).exists():
            data = json.loads((run_dir / name).read_text(encoding="utf-8"))
            info.update(data.get(part, {}) if part else data)
    gt = info.get("ground_truth")
    if not gt or not Path(gt).exists() or not (run_dir / "model.joblib").exists():
        return None
    import pyarrow.parquet as pq

    wanted = ["person_id", "month", "driver_1", "driver_2", "driver_3"]
    missing = [c for c in wanted if c not in pq.read_schema(gt).names]
    if missing:
        raise ValueError(f"{gt}: the ground truth has no {', '.join(missing)} column(s)")
    model = joblib.load(run_dir / "model.joblib")
    if not underlying_boosters(model):
        return None
    preds = pd.read_parquet(run_dir / "test_predictions.parquet",
                            columns=["person_id", "as_of", "flagged"])
    if features is None:
        import yaml

        cfg = yaml.safe_load((run_dir / "resolved_config.yaml").read_text())
        table = Path(cfg["features"]["output_dir"]) / cfg["name"] / "features.parquet"
        dates = sorted(pd.to_datetime(preds["as_of"]).dt.date.unique())
        features = pd.read_parquet(table, filters=[("as_of", "in", dates)])
    preds = preds.assign(person_id=preds["person_id"].astype(str),
                         as_of=pd.to_datetime(preds["as_of"]))
    rows = features.assign(person_id=features["person_id"].astype(str),
                           as_of=pd.to_datetime(features["as_of"])).merge(
        preds, on=["person_id", "as_of"], how="inner")
    truth = pd.read_parquet(gt, columns=wanted)
    if scramble_seed is not None:
        import numpy as np

        shuffled = np.random.default_rng(scramble_seed).permutation(truth["driver_1"].to_numpy())
        truth = truth.assign(driver_1=shuffled)
        write = False
    dictionary = FeatureDictionary.load(run_dir / "feature_dictionary.json")
    result = explanation_fidelity(model, rows, dictionary, truth, capacity=0,
                                  flagged=rows["flagged"], sample_size=1000)
    if write:
        (run_dir / "explanation_fidelity.json").write_text(
            json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    return result


def fidelity_section_html(result: Any) -> str:
    """Render the fidelity figures as an HTML section for the evaluation report.

    Parameters
    ----------
    result : FidelityResult or dict or None
        None renders a sentence saying fidelity needs synthetic ground truth.

    Returns
    -------
    str
        A ``<section>`` element (escaped text).
    """
    if result is None:
        return ("<section id=\"explanation-fidelity\"><h2>Explanation fidelity</h2><p>Not "
                "measured: fidelity needs the synthetic LA's ground truth and a LightGBM "
                "model.</p></section>")
    r = result if isinstance(result, dict) else result.to_dict()

    def pct(v: float | None) -> str:
        return "–" if v is None or v != v else f"{100 * v:.0f}%"

    rows = "".join(
        f"<tr><td>{html.escape(DRIVER_LABELS.get(d['driver'], d['driver']))}</td>"
        f"<td>{d['importance']:.3f}</td>"
        f"<td>{d['true_effect']:.3f}</td><td>{d['n_largest']}</td>"
        f"<td>{pct(d['hit_rate'])}</td></tr>" for d in r["per_driver"])
    rho = r["spearman"]
    return (
        "<section id=\"explanation-fidelity\"><h2>Explanation fidelity</h2>"
        f"<p>The true largest driver is among the top-3 reasons for "
        f"<strong>{pct(r['top3_share'])}</strong> of {r['n_flagged']:,} flagged children "
        f"({pct(r['top3_share_nameable'])} of the {r['n_nameable']:,} whose largest driver is "
        "recorded by some agency; the rest are driven mostly by unrecorded adversity). "
        f"The largest recorded driver is named for {pct(r.get('top3_share_recorded'))} of "
        f"{r.get('n_recorded', 0):,}.</p>"
        f"<p>Rank correlation (Spearman) between mean |SHAP| per driver and the causal "
        f"model's effect over {r['n_drivers']} drivers: <strong>"
        f"{'–' if rho != rho else f'{rho:.2f}'}</strong>. True effect: "
        f"{html.escape(r['effect_measure'])}.</p>"
        "<table><thead><tr><th>driver</th><th>mean |SHAP|</th><th>true effect</th>"
        "<th>children where largest</th><th>named in top 3</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>")


def fidelity_section_for_run(run_dir: str | Path) -> str:
    """Measure a run's explanation fidelity and render its report section.

    For the evaluation report: never raises; a run without ground truth or
    whose fidelity cannot be measured gets a section that says why.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (see :func:`fidelity_for_run`).

    Returns
    -------
    str
        HTML ``<section>``.
    """
    try:
        return fidelity_section_html(fidelity_for_run(run_dir))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return ("<section id=\"explanation-fidelity\"><h2>Explanation fidelity</h2><p>Not "
                f"measured: {html.escape(str(exc))}</p></section>")
