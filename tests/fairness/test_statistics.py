"""The audit's statistics: interval coverage, and the power to find injected bias."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.fairness import (
    AuditSettings,
    audit,
    bias_detection_experiment,
    prepare_audit_data,
    simulate_scores,
)

THRESHOLD = 0.2
GROUPS = ("Mixed", "Asian", "Black")
METRICS = ("selection_rate", "false_negative_rate", "calibration_gap")


def _true_differences() -> pd.DataFrame:
    """Population values from a million simulated children (flags: score >= 0.2)."""
    pop = pd.concat([simulate_scores(500_000, seed=10_000 + i) for i in range(2)])
    pop["flag"] = pop["score"] >= THRESHOLD
    pop["missed"] = ~pop["flag"]
    rows = {}
    for g, part in pop.groupby("audit_ethnicity"):
        pos = part[part["label"] == 1]
        rows[g] = {"selection_rate": part["flag"].mean(),
                   "false_negative_rate": pos["missed"].mean(),
                   "calibration_gap": (part["score"] - part["label"]).mean()}
    truth = pd.DataFrame(rows).T
    return truth.loc[list(GROUPS)] - truth.loc["White"]


@pytest.mark.slow
def test_nominal_95_percent_intervals_cover_the_true_difference():
    truth = _true_differences()
    covered = []
    for seed in range(40):
        frame = simulate_scores(6000, seed=seed).drop(columns="flagged")
        data = prepare_audit_data(frame, group_cols=["audit_ethnicity"], flagged_col=None,
                                  threshold=THRESHOLD)
        t = audit(data, AuditSettings(n_boot=300, seed=seed,
                                      reference_groups={"audit_ethnicity": "White"})).table
        for g in GROUPS:
            for m in METRICS:
                r = t[(t.group == g) & (t.metric == m)].iloc[0]
                if r.comparison_status == "ok":
                    covered.append(r.diff_ref_low <= truth.loc[g, m] <= r.diff_ref_high)
    rate = float(np.mean(covered))
    assert len(covered) >= 300
    print(f"coverage {rate:.3f} over {len(covered)} intervals")
    assert 0.91 <= rate <= 0.99, f"coverage {rate:.3f} over {len(covered)} intervals"


@pytest.mark.slow
def test_audit_detects_injected_bias_and_stays_quiet_without_it():
    result = bias_detection_experiment(range(8), n=10_000, n_boot=200)
    rates = result.rates.set_index("kind")["detection_rate"]
    assert rates["surveillance"] >= 0.875
    assert rates["label"] >= 0.875
    assert rates["none"] <= 0.25
    detected = result.runs[result.runs.detected & (result.runs.kind != "none")]
    # the detections point the right way: over-stated risk, then under-stated
    assert (detected[detected.kind == "surveillance"].difference > 0).all()
    assert (detected[detected.kind == "label"].difference < 0).all()
