"""Calibrated risk never claims certainty, even where a small top group all escalated."""

import numpy as np
import pandas as pd
from earlywarning.models import TemporalCalibratedClassifier
from sklearn.linear_model import LogisticRegression


def test_a_small_all_positive_top_group_is_not_calibrated_to_certainty():
    rng = np.random.default_rng(0)
    n = 4000
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * x - 4)))).astype(int)
    month = np.arange(n) % 12
    top = np.argsort(x)[-6:]
    y[top] = 1  # the six highest scores all escalated, in the calibration months
    month[top] = 11
    as_of = pd.to_datetime("2024-01-01") + pd.to_timedelta(month * 30, unit="D")
    model = TemporalCalibratedClassifier(LogisticRegression(), method="isotonic", fraction=0.5)
    model.fit(pd.DataFrame({"x": x}), y, as_of=as_of)
    risk = model.predict_proba(pd.DataFrame({"x": x}))[:, 1]
    assert risk.max() < 1.0 and risk.min() > 0.0
    # still monotone in the score, and still ranks the top group highest
    order = np.argsort(x)
    assert np.all(np.diff(risk[order]) >= -1e-12)
    assert risk[top].min() >= np.quantile(risk, 0.99)
