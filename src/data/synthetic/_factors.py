"""Assessment factor codes and CP plan categories that reflect the true drivers.

Each CIN assessment factor code (DfE CINF002A list) is present with
probability ``sigmoid(a_code + slope * z)``, where ``z`` is the standardised
driver behind the code (e.g. the family's domestic-abuse severity for ``3B``,
the child's missing propensity for ``10A``) and ``a_code`` is solved so that
the code's prevalence among assessments equals the England figure in
``REFERENCE.md``. So a factor on an assessment is evidence of the driver that
really raised the child's hazard. CP plan categories are drawn the same way
(softmax over categories; emotional abuse rises with domestic abuse, neglect
with substance misuse and deprivation) and calibrated to the England mix.
"""

from __future__ import annotations

import numpy as np
from earlywarning.data.synthetic._adversity import DRIVERS

__all__ = ["CP_MIX", "FACTOR_SPECS", "cp_categories", "factor_json"]

_D = {name: i for i, name in enumerate(DRIVERS)}
# (code, prevalence, {driver or domain: weight}); domains use "dom:<index>"
FACTOR_SPECS: tuple[tuple[str, float, dict[str, float]], ...] = (
    ("4B", 0.335, {"dom:1": 1.0}),
    ("3B", 0.317, {"dom:0": 1.0}),
    ("17A", 0.190, {"dom:0": 0.6, "latent_unrecorded": 0.4}),
    ("4A", 0.176, {"adolescence": 0.6, "missing_episodes": 0.5, "dom:1": 0.3}),
    ("16A", 0.176, {"dom:2": 0.5, "deprivation": 0.4, "young_age": 0.3, "latent_unrecorded": 0.3}),
    ("1B", 0.143, {"dom:2": 1.0}),
    ("2B", 0.141, {"dom:2": 1.0}),
    ("5A", 0.123, {"disabled": 1.0}),
    ("18C", 0.120, {"dom:0": 0.5, "latent_unrecorded": 0.5}),
    ("3A", 0.113, {"dom:0": 1.0}),
    ("14A", 0.070, {"youth_offending": 1.0}),
    ("15A", 0.050, {"missing_episodes": 0.6, "adolescence": 0.6}),
    ("7A", 0.037, {"dom:4": 1.0}),
    ("10A", 0.033, {"missing_episodes": 1.0}),
    ("24A", 0.032, {"youth_offending": 0.7, "missing_episodes": 0.5}),
    ("11A", 0.024, {"missing_episodes": 0.8, "adolescence": 0.5}),
    ("13A", 0.017, {"youth_offending": 1.0}),
    ("20", 0.150, {}),
    ("6B", 0.050, {"dom:4": 1.0}),
    ("6A", 0.030, {"disabled": 0.8}),
    ("3C", 0.030, {"dom:0": 0.5}),
    ("4C", 0.030, {"dom:1": 0.5}),
    ("2A", 0.030, {"youth_offending": 0.6, "adolescence": 0.5}),
    ("1A", 0.015, {"adolescence": 0.8}),
    ("19C", 0.020, {"latent_unrecorded": 0.5}),
    ("18B", 0.010, {}),
    ("19B", 0.010, {}),
    ("22A", 0.003, {}),
    ("23A", 0.003, {}),
    ("12A", 0.005, {"missing_episodes": 0.5}),
)
CP_MIX = {"Neglect": 0.505, "Emotional abuse": 0.357, "Physical abuse": 0.074,
          "Sexual abuse": 0.038, "Multiple": 0.026}


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def _score(spec: dict[str, float], terms: np.ndarray, dom: np.ndarray,
           disabled: np.ndarray) -> np.ndarray:
    s = np.zeros(len(terms))
    for key, w in spec.items():
        if key.startswith("dom:"):
            s += w * _z(dom[:, int(key[4:])].astype(float))
        elif key == "disabled":
            s += w * _z(disabled.astype(float))
        else:
            s += w * _z(terms[:, _D[key]].astype(float))
    return s


def _solve_intercept(score: np.ndarray, target: float) -> float:
    """Bisect for ``a`` with mean ``sigmoid(a + score)`` equal to ``target``.

    ``exp(-(a + score))`` is computed as ``exp(-a) * exp(-score)``, so the
    per-row exponentials are taken once rather than at every step.
    """
    e = np.exp(-score)
    t = np.empty_like(e)
    lo, hi = -20.0, 20.0
    for _ in range(40):
        mid = (lo + hi) / 2
        np.multiply(e, np.exp(-mid), out=t)
        t += 1.0
        np.reciprocal(t, out=t)
        if np.mean(t) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def factor_json(terms: np.ndarray, dom: np.ndarray, disabled: np.ndarray,
                rng: np.random.Generator, slope: float = 1.3) -> np.ndarray:
    """JSON arrays of factor codes, one per assessment (``["21"]`` when none applies).

    Parameters
    ----------
    terms : numpy.ndarray
        Driver terms at referral, shape ``(n, len(DRIVERS))``.
    dom : numpy.ndarray
        Domain severities at referral, shape ``(n, 5)``.
    disabled : numpy.ndarray of bool
    rng : numpy.random.Generator
    slope : float
        How sharply the codes follow their drivers.

    Returns
    -------
    numpy.ndarray of str
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(terms)
    if n == 0:
        return np.zeros(0, dtype=object)
    quoted = []  # per code: '"code",' where it applies, else ''
    for code, prev, spec in FACTOR_SPECS:
        score = slope * _score(spec, terms, dom, disabled)
        a = _solve_intercept(score, prev)
        present = rng.random(n) < 1 / (1 + np.exp(-(a + score)))
        quoted.append(pc.if_else(pa.array(present), f'"{code}",', ""))
    joined = pc.binary_join_element_wise(*quoted, "")  # one pass in Arrow, not one per code
    joined = pc.utf8_rtrim(pc.if_else(pc.equal(joined, ""), '"21"', joined), ",")
    return pc.binary_join_element_wise("[", joined, "]", "").to_numpy(zero_copy_only=False)


def cp_categories(terms: np.ndarray, dom: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """CP plan initial category per plan, following the drivers and the England mix.

    Returns
    -------
    numpy.ndarray of str
    """
    cats = list(CP_MIX)
    n = len(terms)
    if n == 0:
        return np.zeros(0, dtype=object)
    logits = np.zeros((n, len(cats)))
    logits[:, cats.index("Emotional abuse")] = 1.0 * _z(dom[:, 0].astype(float))
    logits[:, cats.index("Neglect")] = 0.7 * _z((dom[:, 2] + terms[:, _D["deprivation"]]
                                                 ).astype(float))
    logits[:, cats.index("Physical abuse")] = 0.5 * _z(terms[:, _D["latent_unrecorded"]]
                                                       .astype(float))
    target = np.array([CP_MIX[c] for c in cats])
    bias = np.log(target)
    for _ in range(30):  # fixed point: mean probabilities equal the England mix
        p = np.exp(logits + bias)
        p /= p.sum(axis=1, keepdims=True)
        bias += np.log(target / p.mean(axis=0))
    p = np.exp(logits + bias)
    p /= p.sum(axis=1, keepdims=True)
    pick = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return np.array(cats, dtype=object)[np.minimum(pick, len(cats) - 1)]
