"""Bias-detection experiment: does the audit find bias that was put in, and only then.

The experiment shows an ethics board the audit's power: over several seeds,
score files are simulated with a known bias injected against one group (see
:func:`simulate_scores`), audited, and the audit "detects" the bias when the
interval of the group's difference from the reference group excludes parity.
The same is done with no bias, where any detection is a false alarm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from ._audit import AuditSettings, audit
from ._data import prepare_audit_data
from ._simulate import simulate_scores

Kind = Literal["none", "surveillance", "label"]

EXPECTED_SIGN = {"surveillance": 1, "label": -1}
"""Direction of the calibration gap each bias causes: surveillance makes the
model over-state the group's risk (+); label bias makes recorded outcomes
exceed its predictions (-)."""


@dataclass
class DetectionResult:
    """Outcome of a bias-detection experiment.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per (kind, seed): the group's difference from the reference
        group, its interval, and whether the audit detected a disparity.
    rates : pandas.DataFrame
        Detection rate per kind (for ``none``: the false-alarm rate).
    """

    runs: pd.DataFrame
    rates: pd.DataFrame


def bias_detection_experiment(
    seeds: Sequence[int],
    *,
    kinds: Sequence[Kind] = ("none", "surveillance", "label"),
    surveillance_strength: float = 0.7,
    label_strength: float = 0.05,
    n: int = 20_000,
    biased_group: tuple[str, str] = ("audit_ethnicity", "Black"),
    metric: str = "calibration_gap",
    n_boot: int = 200,
    min_group_size: int = 30,
) -> DetectionResult:
    """Audit simulated scores with and without injected bias over several seeds.

    Parameters
    ----------
    seeds : sequence of int
        One simulated score file per seed and kind.
    kinds : sequence of {"none", "surveillance", "label"}
        Which conditions to run.
    surveillance_strength : float
        Log-odds added to the biased group's scores at equal need.
    label_strength : float
        Probability that a biased-group child without the outcome is recorded
        as escalating.
    n : int
        Rows per simulated file.
    biased_group : (str, str)
        Attribute column and group receiving the bias.
    metric : str
        Metric whose difference from the reference group is tested.
    n_boot : int
        Bootstrap replicates per audit.
    min_group_size : int
        Audit's minimum group size.

    Returns
    -------
    DetectionResult
    """
    attribute, group = biased_group
    settings = AuditSettings(n_boot=n_boot, min_group_size=min_group_size)
    rows = []
    for kind in kinds:
        for seed in seeds:
            frame = simulate_scores(
                n, seed=seed, biased_group=biased_group,
                surveillance_bias=surveillance_strength if kind == "surveillance" else 0.0,
                label_bias=label_strength if kind == "label" else 0.0)
            result = audit(prepare_audit_data(frame, group_cols=[attribute]), settings)
            t = result.table
            r = t[(t.group == group) & (t.metric == metric)].iloc[0]
            rows.append({"kind": kind, "seed": seed, "difference": r.diff_ref,
                         "ci_low": r.diff_ref_low, "ci_high": r.diff_ref_high,
                         "status": r.comparison_status, "detected": bool(r.disparity)})
    runs = pd.DataFrame(rows)
    rates = (runs.groupby("kind", sort=False)["detected"].agg(["mean", "size"])
             .rename(columns={"mean": "detection_rate", "size": "seeds"}).reset_index())
    return DetectionResult(runs, rates)

