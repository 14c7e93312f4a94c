"""The escalation hazard, its terms, and the true probability kept as ground truth.

Causal model, part 3 (escalation hazard)
----------------------------------------
Each month a child aged 0-17 who is not pending escalation, on a CP plan or
looked after has two referral hazards driven by the same need score ``eta``
(the sum of the :data:`DRIVERS` terms, see ``_adversity``):

- escalating referrals (leading to a CP plan or care):
  ``h_e = exp(alpha_e + k_e * eta) * label_bias``;
- other referrals (only while no referral is open):
  ``h_o = exp(alpha_o + k_o * eta)``, with ``k_o < k_e`` so escalation
  concentrates on the most severe need.

A referral of each kind happens in the month with probability ``1 - exp(-h)``.
The intercepts ``alpha`` are set during the burn-in so the whole LA makes
``escalation.referrals_per_10k`` referrals a year (``escalating_share`` of them
escalating), then frozen for the period, so the hazard is a fixed function of
the state throughout the period.

True probability (``p_true``)
-----------------------------
For a child in the cohort at month start ``t`` (aged < 18, not on a plan,
not looked after), ``p_true`` is the probability that a CP plan or care
episode starts in ``(t, t + 365 days]`` given the state at ``t``:

``p_true = 1 - prod_k (1 - (1 - exp(-E[h_e(t + k)])) * w_k)``, ``k = 0..11``

where ``w_k`` is the probability that an escalating referral in month ``k``
reaches its plan/care start inside the window (from the pathway delays) and
``E[h_e(t + k)]`` projects the state forward exactly for its Gaussian parts:
the AR(1) drift and the unrecorded latent revert towards 0 (``rho**k``) with
their log-normal variance correction, shock loads decay (``decay**k``) and new
shocks arrive at the family's rate (closed-form Poisson expectation), the
recent-incident loads decay (``incident_decay**k``) and new incidents arrive at
the family's current incident rate in each domain (the same closed form, see
:meth:`Projector.incident_future`), and the
age terms are re-evaluated at the child's age at ``t + k`` (zero after 18).
Everything else (domain severities and so incident rates, history, Early
Help, address stability, carers) is held at its value at ``t``;
non-escalating referrals inside the window (which would add history) are not
projected. The sum over ``k`` is evaluated per quarter at
its middle month. A child whose escalating referral is already under way
(drawn before ``t``) and whose plan/care starts inside the window has
``p_true = 1``. ``p_need`` is the same without label bias.

Recorded-state oracle (``p_recorded``)
--------------------------------------
``p_true`` knows the unrecorded latent, which by construction leaves no
record, so no model can reach it from the data. ``p_recorded`` is the same
probability with that latent averaged out over its stationary N(0, 1)
distribution (3-point Gauss-Hermite quadrature, within about 1.5% of the
exact average over the range of hazards here): the best a model could do
if it knew every recorded process's true state exactly, but nothing about
the latent.
It is conservative as a ceiling: a family's history of referrals carries
some information about its latent, which a model can use and this does
not. Children whose escalation is already under way keep ``1``.

Drivers are the three terms with the largest absolute contribution
``k_e * term`` to that child's log-hazard (a negative school term is named
``school_attendance_good``); ``unobserved_share`` is the absolute
contribution of ``latent_unrecorded`` over the sum of absolute contributions.
"""

from __future__ import annotations

import numpy as np
from earlywarning.data.synthetic._adversity import DOMAINS, DRIVERS, shock_jensen
from earlywarning.data.synthetic._config import SyntheticConfig

__all__ = ["FAMILY_TERMS", "CHILD_TERMS", "age_terms", "driver_keys", "largest_keys", "Projector",
           "top_drivers", "top_keys"]

FAMILY_TERMS = (
    "domestic_abuse", "parental_mental_health", "parental_substance_misuse",
    "housing_crisis", "adult_social_care", "deprivation", "latent_unrecorded",
    "early_help_engagement", "stable_address", "second_carer_support",
)  # fmt: skip
CHILD_TERMS = (
    "school_absence", "missing_episodes", "youth_offending", "prior_csc_history",
    "sibling_csc_history", "young_age", "adolescence",
)  # fmt: skip
TERM_ROWS = np.array([DRIVERS.index(t) for t in (*FAMILY_TERMS, *CHILD_TERMS)])
SCHOOL = DRIVERS.index("school_absence")
LATENT = DRIVERS.index("latent_unrecorded")
ATTENDANCE_GOOD = len(DRIVERS)


MAX_MONTHS = 18 * 12 + 13


def age_table(cfg: SyntheticConfig) -> np.ndarray:
    """Young-age + adolescence log-hazard terms by age in completed months (0 .. 18y + 12m)."""
    c = cfg.escalation.coef
    m = np.arange(MAX_MONTHS)
    young = np.where(m < 12, 1.0, np.where(m < 60, 0.25, 0.0)) * c["young_age"]
    adol = np.where(m >= 144, 1.0, 0.0) * c["adolescence"]
    return np.stack([young, adol]).astype(np.float32)


def age_terms(cfg: SyntheticConfig, age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Young-age and adolescence terms for ages in years (babies most, then under-5s)."""
    tab = age_table(cfg)
    m = np.clip((np.asarray(age) * 12).astype(np.int64), 0, MAX_MONTHS - 1)
    return tab[0][m], tab[1][m]


def driver_keys(contrib: np.ndarray, first_index: int) -> np.ndarray:
    """Pack absolute contributions and term indices into sortable ``int16`` keys.

    The magnitude (capped at 8, in steps of 1/128) fills the high 11 bits and
    the term's index (``first_index`` + row) the low 5 bits, so the largest key
    is the largest contribution and its low bits say which term it is.
    """
    mag = np.abs(contrib)
    np.minimum(mag, np.float32(7.99), out=mag)
    mag *= np.float32(2**12)
    keys = mag.astype(np.int16)
    keys &= np.int16(~31)
    keys |= (first_index + np.arange(contrib.shape[0], dtype=np.int16))[:, None]
    return keys


def largest_keys(keys: np.ndarray) -> np.ndarray:
    """Return the three largest keys of each column (distinct within a column), shape (3, n).

    Each row is inserted into a running top three (two min/max pairs and a max
    per row), which is much faster than masking the array once per rank.
    """
    n = keys.shape[1]
    m1 = np.full(n, -1, np.int16)
    m2, m3, tmp = m1.copy(), m1.copy(), np.empty(n, np.int16)
    for row in keys:
        np.minimum(m2, row, out=tmp)
        np.maximum(m3, tmp, out=m3)
        np.minimum(m1, row, out=tmp)
        np.maximum(m2, tmp, out=m2)
        np.maximum(m1, row, out=m1)
    return np.stack([m1, m2, m3])


def top_keys(keys: np.ndarray) -> np.ndarray:
    """Row indices (low 5 bits) of the three largest keys in each column."""
    return largest_keys(keys) & np.int16(31)


def top_drivers(contrib: np.ndarray) -> np.ndarray:
    """Return the 3 largest absolute contributions per column of ``contrib`` (DRIVERS x n).

    The school term is reported as ``school_attendance_good`` (index
    ``len(DRIVERS)``) when its contribution is negative.
    """
    out = top_keys(driver_keys(contrib, 0)).astype(np.int8)
    school_neg = contrib[SCHOOL] < 0
    out[(out == SCHOOL) & school_neg[None, :]] = ATTENDANCE_GOOD
    return out


class Projector:
    """Closed-form 12-month projection of the escalating hazard (see module doc)."""

    def __init__(self, cfg: SyntheticConfig, weights: np.ndarray, k_e: float, b_a: float,
                 b_house: float, b_mh: float, beta_l: float) -> None:
        a = cfg.adversity
        self.k_e = k_e
        self.mid = np.array([1, 4, 7, 10])
        self.w = np.asarray(weights, dtype=float).reshape(4, 3)
        ks = self.mid.astype(float)
        self.ru = (a.drift_rho ** ks - 1).astype(np.float32)
        self.rs = (a.shock_decay ** ks - 1).astype(np.float32)
        self.rl = (a.unobserved_rho ** ks - 1).astype(np.float32)
        jensen = 0.5 * k_e**2 * (b_a**2 * a.drift_sd**2 * (1 - a.drift_rho ** (2 * ks))
                                 + beta_l**2 * (1 - a.unobserved_rho ** (2 * ks)))
        self.g = shock_jensen(cfg, k_e * b_a, k_e * b_house, k_e * b_mh, ks).astype(np.float32)
        tab = age_table(cfg)
        ages = (tab[0] + tab[1]) * np.float32(k_e)
        alive = np.arange(MAX_MONTHS) < 18 * 12
        # log-hazard shift by age for each quarter: age term there minus now (-inf after 18)
        self.age_shift = np.full((4, MAX_MONTHS), -np.inf, dtype=np.float32)
        for q, k in enumerate(self.mid):
            src = np.arange(MAX_MONTHS)
            dst = np.minimum(src + k, MAX_MONTHS - 1)
            self.age_shift[q] = np.where(alive[dst], ages[dst] - ages[src] + jensen[q], -np.inf)
        self.full = [bool(np.all(self.w[q] >= 1.0)) for q in range(4)]
        # elementary symmetric polynomials of each quarter's weights (the survival's cubic)
        self.sym = [(float(w.sum()), float(w[0] * w[1] + w[0] * w[2] + w[1] * w[2]),
                     float(w.prod())) for w in np.minimum(self.w, 1.0)]
        # recent-incident loads decay; new incidents arrive at each family's domain rates
        e = cfg.escalation
        delta = e.incident_decay
        self.ri = (delta ** ks - 1).astype(np.float32)
        coef = np.array([e.incident_coef[d] for d in DOMAINS]) * k_e
        self.g_inc = np.zeros((len(DOMAINS), 4), dtype=np.float32)
        for q, k in enumerate(self.mid):
            lags = delta ** np.arange(int(k))
            self.g_inc[:, q] = (np.exp(np.outer(coef, lags)) - 1).sum(axis=1)

    def incident_future(self, rates: np.ndarray) -> np.ndarray:
        """Return the expected log-hazard added by incidents still to come, per quarter.

        For Poisson incidents at monthly rate ``r_j`` in domain ``j``, each
        adding ``c_j delta**age`` to the log-hazard, the expected multiplicative
        effect after ``k`` months is ``exp(sum_j r_j g_j(k))`` with
        ``g_j(k) = sum_{m<k} (exp(c_j delta**m) - 1)``.

        Parameters
        ----------
        rates : numpy.ndarray
            Monthly incident rates, domains x families.

        Returns
        -------
        numpy.ndarray, shape (4, families)
        """
        return np.einsum("jq,jn->qn", self.g_inc, rates).astype(np.float32, copy=False)

    def _exp_base(self, log_h: np.ndarray, age_months: np.ndarray, c_u: np.ndarray,
                  c_s: np.ndarray, c_l: np.ndarray, shock_rate: np.ndarray,
                  c_i: np.ndarray | None, future: np.ndarray | None) -> np.ndarray:
        """Projected hazards per quarter without the latent's contribution, shape (4, n)."""
        out = np.empty((4, len(log_h)), dtype=np.float32)
        base = log_h - c_l
        for q in range(4):
            eta = base + self.ru[q] * c_u
            eta += self.rs[q] * c_s
            eta += self.g[q] * shock_rate
            eta += self.age_shift[q][age_months]
            if c_i is not None:
                eta += self.ri[q] * c_i
                eta += future[q]
            np.exp(np.minimum(eta, np.float32(20.0)), out=out[q])
        return out

    def _probability(self, exp_base: np.ndarray, latent: np.ndarray | float) -> np.ndarray:
        """Probability of a start within 12 months given the latent's log-hazard ``latent``.

        The survival over the twelve months is the product of ``1 - p_k w_k``:
        ``exp(-3h)`` for a quarter whose three weights are all 1 (one exponential
        for all of them together), and for any other quarter the cubic
        ``(1 - p w_1)(1 - p w_2)(1 - p w_3)`` in ``p = 1 - exp(-h)`` (the weights
        are at most 1, so no factor can go below 0). The product is taken in
        float64 so a certain month gives exactly 1 and a tiny risk keeps its digits.
        """
        n = exp_base.shape[1]
        full_h = np.zeros(n, dtype=np.float32)
        h = np.empty(n, dtype=np.float32)
        p, f = np.empty(n), np.empty(n)
        partial = None
        # in place, in the order of 1 - p (e1 - p (e2 - p e3)): the same values, fewer arrays
        for q in range(4):
            np.multiply(exp_base[q], np.exp(np.float32(1.0 + self.rl[q]) * latent), out=h)
            np.minimum(h, np.float32(4.8e8), out=h)  # exp(20)
            if self.full[q]:
                full_h += h
                continue
            np.negative(h, out=h)
            np.expm1(h, out=h)
            np.negative(h, out=h)
            p[:] = h
            e1, e2, e3 = self.sym[q]
            np.multiply(p, e3, out=f)
            np.subtract(e2, f, out=f)
            f *= p
            np.subtract(e1, f, out=f)
            f *= p
            np.subtract(1.0, f, out=f)
            if partial is None:
                partial, f = f, np.empty(n)
            else:
                partial *= f
        surv = full_h.astype(np.float64)
        surv *= -3.0
        np.exp(surv, out=surv)
        if partial is not None:
            surv *= partial
        np.subtract(1.0, surv, out=surv)
        np.clip(surv, 0.0, 1.0, out=surv)
        out = surv.astype(np.float32)
        out += np.float32(0.0)  # no -0.0
        return out

    def p_true(self, log_h: np.ndarray, age_months: np.ndarray, c_u: np.ndarray,
               c_s: np.ndarray, c_l: np.ndarray, shock_rate: np.ndarray,
               c_i: np.ndarray | None = None, future: np.ndarray | None = None) -> np.ndarray:
        """Probability of a plan or care start within 12 months.

        Parameters
        ----------
        log_h : numpy.ndarray
            Current log escalating hazard (intercept, bias and all terms).
        age_months : numpy.ndarray of int
            Completed months of age at the middle of the month.
        c_u, c_s, c_l : numpy.ndarray
            Log-hazard contributions of the drift, the shock loads and the latent.
        shock_rate : numpy.ndarray
            Monthly shock rate of the child's family.
        c_i : numpy.ndarray, optional
            Log-hazard contribution of the family's recent-incident loads (uncentred).
        future : numpy.ndarray, optional
            :meth:`incident_future` of the family's incident rates, shape (4, n).

        Returns
        -------
        numpy.ndarray of float32
        """
        e = self._exp_base(log_h, age_months, c_u, c_s, c_l, shock_rate, c_i, future)
        return self._probability(e, c_l)

    def p_recorded(self, log_h: np.ndarray, age_months: np.ndarray, c_u: np.ndarray,
                   c_s: np.ndarray, c_l: np.ndarray, shock_rate: np.ndarray,
                   latent_scale: float, c_i: np.ndarray | None = None,
                   future: np.ndarray | None = None) -> np.ndarray:
        """:meth:`p_true` with the unrecorded latent averaged out (see module doc).

        ``c_l`` is the latent's current contribution to ``log_h`` and
        ``latent_scale`` its coefficient (``k_e * beta_l``) on the N(0, 1) latent.
        """
        e = self._exp_base(log_h, age_months, c_u, c_s, c_l, shock_rate, c_i, future)
        return self._recorded(e, latent_scale)

    def _recorded(self, exp_base: np.ndarray, latent_scale: float) -> np.ndarray:
        nodes, weights = np.polynomial.hermite_e.hermegauss(3)
        weights = weights / weights.sum()
        out = np.zeros(exp_base.shape[1], dtype=np.float64)
        for x, w in zip(nodes, weights, strict=True):
            out += w * self._probability(exp_base, np.float32(latent_scale * x))
        return out.astype(np.float32)

    def oracles(self, log_h: np.ndarray, age_months: np.ndarray, c_u: np.ndarray,
                c_s: np.ndarray, c_l: np.ndarray, shock_rate: np.ndarray, latent_scale: float,
                c_i: np.ndarray | None = None, future: np.ndarray | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`p_true` and :meth:`p_recorded` together, sharing the projection."""
        e = self._exp_base(log_h, age_months, c_u, c_s, c_l, shock_rate, c_i, future)
        return self._probability(e, c_l), self._recorded(e, latent_scale)
