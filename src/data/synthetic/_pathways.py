"""What happens after a referral: the pathway through the funnel, with delays.

Causal model, part 4 (escalation pathways)
------------------------------------------
Referrals come in two independent streams (see ``_simulate``): *escalating*
referrals lead to a CP plan or care; the others end in no further action,
an assessment finding no need, a child-in-need episode, or an s47 enquiry /
initial conference that does not lead to a plan. Each referral's whole
pathway is drawn when it happens:

- escalating: straight to care (``escalation.direct_care_share``, more often
  for babies and adolescents; s47 first in ``s47_given_direct_care``) or
  s47 -> ICPC -> CP plan. Referral -> s47 median 5 days, s47 -> ICPC median
  ``s47_to_icpc_days_median`` (about 14 working days), plans last a
  log-normal time with median ``cp_plan_days_median`` (4.4% over two years)
  and end in care for ``care_after_cp_plan`` of children. Care episodes last
  a log-normal time with mean ``care_days_mean`` and stop at 18.
- other: NFA at referral (``nfa_at_referral``); otherwise an assessment
  (median ``assessment_days_median`` days, about 33 working days), s47 for
  ``s47_given_non_escalating`` (ICPC without a plan for
  ``icpc_given_non_escalating_s47`` of those), closure as not in need
  (``not_in_need_after_assessment``; ``step_down_to_early_help`` of those go
  to Early Help) or a child-in-need episode (median ``cin_days_median``).
"""

from __future__ import annotations

import numpy as np
from earlywarning.data.synthetic._config import SyntheticConfig
from earlywarning.data.synthetic._timeline import DAYS_PER_YEAR, NEVER

__all__ = ["DIRECT_CARE_AGE", "RC", "sample_escalating", "sample_other", "delay_weights"]

RC = {"RC7": 7, "RC8": 8, "RC9": 9}
DIRECT_CARE_AGE = ((1, 3.0), (5, 0.6), (12, 1.0), (16, 0.85), (18, 0.75))
"""(upper age, multiplier of the direct-care share)."""


def _ln(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.maximum(1, np.round(median * np.exp(sigma * rng.standard_normal(n)))).astype(np.int64)


def _direct_prob(cfg: SyntheticConfig, age: np.ndarray) -> np.ndarray:
    mult = np.full(len(age), DIRECT_CARE_AGE[-1][1])
    for upper, m in reversed(DIRECT_CARE_AGE):
        mult = np.where(age < upper, m, mult)
    return np.clip(cfg.escalation.direct_care_share * mult, 0, 0.95)


def sample_escalating(cfg: SyntheticConfig, rng: np.random.Generator, ref_day: np.ndarray,
                      age: np.ndarray, dob: np.ndarray) -> dict[str, np.ndarray]:
    """Draw the pathway of escalating referrals (CP plan and/or care).

    Returns
    -------
    dict of str to numpy.ndarray
        Day numbers (``NEVER`` when a step does not happen) and flags.
    """
    e = cfg.escalation
    n = len(ref_day)
    direct = rng.random(n) < _direct_prob(cfg, age)
    s47 = ~direct | (rng.random(n) < e.s47_given_direct_care)
    s47_day = ref_day + _ln(rng, 5, 0.8, n)
    icpc_day = s47_day + _ln(rng, e.s47_to_icpc_days_median, 0.45, n)
    cp = ~direct
    cp_start = np.where(cp, icpc_day, NEVER)
    cp_end = np.where(cp, cp_start + _ln(rng, e.cp_plan_days_median, e.cp_plan_sigma, n), NEVER)
    care_after = cp & (rng.random(n) < e.care_after_cp_plan)
    direct_delay = np.where(s47, s47_day - ref_day + _ln(rng, 14, 0.7, n), _ln(rng, 3, 1.0, n))
    care_start = np.where(direct, ref_day + direct_delay, np.where(care_after, cp_end, NEVER))
    care = care_start < NEVER
    med = e.care_days_mean / np.exp(0.5 * e.care_sigma**2)
    eighteen = dob + int(18 * DAYS_PER_YEAR)
    care_end = np.where(care, np.minimum(care_start + _ln(rng, med, e.care_sigma, n),
                                         np.maximum(eighteen, care_start + 1)), NEVER)
    out_day = np.minimum(cp_start, care_start)
    state_end = np.where(care, care_end, cp_end)
    assess_start = ref_day + _ln(rng, 3, 0.6, n)
    assess_auth = assess_start + _ln(rng, e.assessment_days_median * 0.8, 0.45, n)
    close = np.where(care, care_end, cp_end + _ln(rng, 90, 0.5, n))
    return {
        "esc": np.ones(n, bool), "direct": direct, "nfa": np.zeros(n, bool),
        "s47": s47, "s47_day": np.where(s47, s47_day, NEVER),
        "s47_end": np.where(s47, s47_day + _ln(rng, 12, 0.5, n), NEVER),
        "icpc": cp, "icpc_day": np.where(cp, icpc_day, NEVER), "cp": cp,
        "cp_start": cp_start, "cp_end": cp_end, "care": care, "care_start": care_start,
        "care_end": care_end, "assess": np.ones(n, bool), "assess_start": assess_start,
        "assess_auth": assess_auth, "close": close, "close_reason": np.full(n, 7, np.int8),
        "step_down": np.zeros(n, bool), "out_day": out_day, "state_end": state_end,
    }


def sample_other(cfg: SyntheticConfig, rng: np.random.Generator,
                 ref_day: np.ndarray) -> dict[str, np.ndarray]:
    """Draw the pathway of referrals that do not lead to a plan or care.

    Returns
    -------
    dict of str to numpy.ndarray
    """
    e = cfg.escalation
    n = len(ref_day)
    nfa = rng.random(n) < e.nfa_at_referral
    assess = ~nfa
    s47 = assess & (rng.random(n) < e.s47_given_non_escalating / (1 - e.nfa_at_referral))
    s47_day = ref_day + _ln(rng, 7, 0.8, n)
    icpc = s47 & (rng.random(n) < e.icpc_given_non_escalating_s47)
    icpc_day = s47_day + _ln(rng, e.s47_to_icpc_days_median, 0.45, n)
    assess_start = ref_day + _ln(rng, 4, 0.6, n)
    assess_auth = assess_start + _ln(rng, e.assessment_days_median, 0.45, n)
    not_in_need = assess & ~s47 & (
        rng.random(n) < e.not_in_need_after_assessment / (1 - e.nfa_at_referral))
    step_down = not_in_need & (rng.random(n) < e.step_down_to_early_help)
    cin_close = np.maximum(assess_auth, icpc_day) + _ln(rng, e.cin_days_median, 0.7, n)
    close = np.where(nfa, ref_day + _ln(rng, 2, 0.5, n),
                     np.where(not_in_need, assess_auth, np.where(icpc, cin_close, cin_close)))
    reason = np.where(nfa, 7, np.where(not_in_need, np.where(step_down, 9, 8), 7)).astype(np.int8)
    never = np.full(n, NEVER)
    return {
        "esc": np.zeros(n, bool), "direct": np.zeros(n, bool), "nfa": nfa, "s47": s47,
        "s47_day": np.where(s47, s47_day, NEVER),
        "s47_end": np.where(s47, s47_day + _ln(rng, 12, 0.5, n), NEVER),
        "icpc": icpc, "icpc_day": np.where(icpc, icpc_day, NEVER), "cp": np.zeros(n, bool),
        "cp_start": never, "cp_end": never, "care": np.zeros(n, bool), "care_start": never,
        "care_end": never, "assess": assess, "assess_start": np.where(assess, assess_start, NEVER),
        "assess_auth": np.where(assess, assess_auth, NEVER), "close": close,
        "close_reason": reason, "step_down": step_down, "out_day": never, "state_end": never,
    }


def delay_weights(cfg: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """P(outcome inside the 12-month window | escalating referral in month k), k = 0..11.

    The window is ``(month start, month start + 365 days]``; the referral day is
    uniform within month ``k``; the delay from referral to the CP plan or care
    start follows :func:`sample_escalating` at the population's age mix.

    Returns
    -------
    numpy.ndarray
        Twelve weights, decreasing towards the end of the window.
    """
    n = 20_000
    age = rng.uniform(0, 18, n)
    path = sample_escalating(cfg, rng, np.zeros(n, np.int64), age, np.full(n, -10**5))
    delay = np.sort(path["out_day"])
    w = np.zeros(12)
    for k in range(12):
        ref = (k + rng.random(n)) * (365.0 / 12)
        w[k] = float(np.mean(np.searchsorted(delay, 365 - ref, side="right") / n))
    return w
