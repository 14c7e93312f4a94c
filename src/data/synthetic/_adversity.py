"""Latent family adversity and the escalation hazard's terms (the true drivers).

Causal model, part 2 (what is really going on in a family)
----------------------------------------------------------
Family adversity at month ``t`` is ``A = b + u(t) + s(t)``:

- ``b`` the family's baseline (higher in deprived places, see ``_population``);
- ``u`` a slowly drifting AR(1) process, ``u(t) = rho u(t-1) + sqrt(1-rho^2) sd e``
  (``adversity.drift_rho``, ``adversity.drift_sd``);
- ``s`` a shock load: shocks (job loss, eviction, bereavement, illness) arrive
  at ``adversity.shocks_per_year`` (``shock_deprivation_ratio`` times more
  often in decile 1 than decile 10), add ``shock_size`` and decay by
  ``shock_decay`` a month. Evictions and job loss also load the housing
  domain, bereavement the mental-health domain; evictions force a move.

Five problem **domains** follow adversity with their own persistent family
propensity: ``d_j(t) = loading_j A(t) + e_j (+ domain shock load)``, for
domestic abuse (plus ``violent_partner_load`` while an abusive partner lives
there), parental mental health, parental substance misuse, housing crisis and
adult social care need. Agency events are noisy records of these domains.

A separate AR(1) process ``l(t)`` is adversity that **leaves no record**: it
raises the escalation hazard but no agency event. Its coefficient is set so
that it carries ``adversity.unobserved_share`` of the variance of the
escalation log-hazard across child-months (measured and reported).

The escalation **need score** of a child in month ``t`` is the sum of the
terms of :data:`DRIVERS` (each a coefficient of :class:`EscalationConfig`
times a state variable, centred so that an average family scores about 0):
the five domains, each with two parts: the domain's severity ``d_j`` (``coef``)
and the family's **recent-incident load** ``L_j`` (``incident_coef``), where
``L_j(t) = incident_decay * L_j(t-1) + n_j(t-1)`` counts the real incidents of
the domain that agencies responded to (police call-outs, crisis contacts,
housing crises, ``_events.family_events``), so escalation follows what
happened, as referrals follow the incidents professionals see (police make
about 29% of referrals); the child's school-absence propensity (ages 5-15; negative
values are good attendance), missing and offending propensities (ages 10-17);
prior CSC history of the child and of siblings; deprivation; young age;
adolescence; the unrecorded latent; and, subtracted, Early Help engagement
(in or within 6 months of an episode), a stable address (no move in 24
months) and a supportive second carer (a carer or non-abusive partner at home).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from earlywarning.data.synthetic._config import SyntheticConfig
from earlywarning.data.synthetic._population import Population

__all__ = ["DOMAINS", "DRIVERS", "Latent", "init_latent", "step_latent"]

DOMAINS = (
    "domestic_abuse", "parental_mental_health", "parental_substance_misuse",
    "housing_crisis", "adult_social_care",
)  # fmt: skip
DRIVERS = (
    *DOMAINS, "school_absence", "missing_episodes", "youth_offending", "prior_csc_history",
    "sibling_csc_history", "deprivation", "young_age", "adolescence", "latent_unrecorded",
    "early_help_engagement", "stable_address", "second_carer_support",
)
"""Terms of the escalation need score, in order (ground-truth driver names)."""
DRIVER_NAMES = (*DRIVERS, "school_attendance_good")
"""Names written to ground truth; a negative school term is 'school_attendance_good'."""
PROTECTIVE = ("early_help_engagement", "stable_address", "second_carer_support")

SHOCK_TYPES = ("job_loss", "eviction", "bereavement", "illness")
SHOCK_SHARES = np.array([0.35, 0.25, 0.2, 0.2])
SHOCK_HOUSING = np.array([0.6, 1.5, 0.0, 0.0], dtype=np.float32)
SHOCK_MH = np.array([0.3, 0.3, 1.2, 0.4], dtype=np.float32)


@dataclass
class Latent:
    """Family-level latent state (one entry per family) and child propensities."""

    u: np.ndarray
    s: np.ndarray
    s_house: np.ndarray
    s_mh: np.ndarray
    ell: np.ndarray
    e: np.ndarray  # (5, F) persistent domain propensities
    shock_rate: np.ndarray  # per month
    c_abs: np.ndarray
    c_miss: np.ndarray
    c_yo: np.ndarray
    c_ev: np.ndarray  # child-level event propensity (A&E, GP)

    def adversity(self, baseline: np.ndarray) -> np.ndarray:
        """Recorded-adversity ``A = b + u + s`` per family."""
        return baseline + self.u + self.s

    def domains(self, pop: Population, cfg: SyntheticConfig, A: np.ndarray,
                violent_present: np.ndarray) -> np.ndarray:
        """Domain severities ``d_j``, shape ``(5, F)``."""
        a = cfg.adversity
        load = np.array([a.domain_loading[d] for d in DOMAINS], dtype=np.float32)
        d = load[:, None] * A[None, :] + self.e
        d[0] += a.violent_partner_load * violent_present
        d[1] += self.s_mh
        d[3] += self.s_house
        return d


def init_latent(cfg: SyntheticConfig, pop: Population, rng: np.random.Generator) -> Latent:
    """Stationary starting state of every family's latent processes.

    Returns
    -------
    Latent
    """
    a = cfg.adversity
    n = pop.n_families
    dep01 = (10 - pop.fam_decile0().astype(np.float32)) / 9.0
    ratio = a.shock_deprivation_ratio
    shock_rate = (a.shocks_per_year / 12.0) * ratio ** (dep01 - 0.5)
    mean_s = shock_rate * a.shock_size / (1 - a.shock_decay)
    f32 = np.float32
    nc = pop.n_children
    return Latent(
        u=(a.drift_sd * rng.standard_normal(n)).astype(f32),
        s=(mean_s * rng.exponential(1.0, n)).astype(f32),
        s_house=np.zeros(n, f32),
        s_mh=np.zeros(n, f32),
        ell=rng.standard_normal(n).astype(f32),
        e=(a.domain_sd * rng.standard_normal((len(DOMAINS), n))).astype(f32),
        shock_rate=shock_rate.astype(f32),
        c_abs=(a.child_sd * rng.standard_normal(nc)).astype(f32),
        c_miss=(a.child_sd * rng.standard_normal(nc)).astype(f32),
        c_yo=(a.child_sd * rng.standard_normal(nc)).astype(f32),
        c_ev=(0.5 * rng.standard_normal(nc)).astype(f32),
    )


def draw_latent_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """One month's noise for :func:`step_latent`, shape ``(3, n)`` float32.

    Rows: the standard normals of the drift ``u`` and of the unrecorded latent
    ``l``, and the uniforms that decide shocks. The draws depend on nothing but
    ``rng`` and ``n``, so a simulation draws them ahead on another thread
    (:class:`NoiseAhead`).
    """
    out = np.empty((3, n), np.float32)
    rng.standard_normal(dtype=np.float32, out=out[0])
    rng.standard_normal(dtype=np.float32, out=out[1])
    rng.random(dtype=np.float32, out=out[2])
    return out


class NoiseAhead:
    """Each month's :func:`draw_latent_noise`, drawn ``ahead`` months early on a thread.

    One thread draws the months in order from ``rng``, so the sequence is the
    same as drawing them one by one (deterministic for a seed); on 2 cores the
    draws (about a third of a 1M-child month's latent step) leave the
    simulation's main thread. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, rng: np.random.Generator, n: int, months: int, ahead: int = 2) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._rng, self._n, self._left = rng, n, months
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._queued: list = []
        for _ in range(min(ahead, months)):
            self._queue_one()

    def _queue_one(self) -> None:
        self._queued.append(self._pool.submit(draw_latent_noise, self._rng, self._n))
        self._left -= 1

    def next(self) -> np.ndarray:
        """Return the next month's noise (``RuntimeError`` past the declared months)."""
        if not self._queued:
            raise RuntimeError("no latent noise left: more months stepped than declared")
        got = self._queued.pop(0).result()
        if self._left > 0:
            self._queue_one()
        return got

    def close(self) -> None:
        """Stop the thread (drawing nothing more)."""
        for f in self._queued:
            f.cancel()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> NoiseAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def step_latent(cfg: SyntheticConfig, lat: Latent, rng: np.random.Generator,
                active: np.ndarray, noise: np.ndarray | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
    """Advance every family's latent state by one month.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the shock types (and ``noise`` when it is not given).
    active : numpy.ndarray of bool
        Families with children this month (only they can have shocks).
    noise : numpy.ndarray, optional
        This month's :func:`draw_latent_noise` (used up: changed in place).

    Returns
    -------
    shocked : numpy.ndarray of int
        Families with a shock this month.
    shock_type : numpy.ndarray of int
        Index into :data:`SHOCK_TYPES` for each shocked family.
    """
    a = cfg.adversity
    if noise is None:
        noise = draw_latent_noise(rng, len(lat.u))
    z_u, z_l, uni = noise
    rho = np.float32(a.drift_rho)
    lat.u *= rho
    z_u *= np.float32(a.drift_sd * np.sqrt(1 - rho * rho))
    lat.u += z_u
    lr = np.float32(a.unobserved_rho)
    lat.ell *= lr
    z_l *= np.float32(np.sqrt(1 - lr * lr))
    lat.ell += z_l
    dec = np.float32(a.shock_decay)
    lat.s *= dec
    lat.s_house *= dec
    lat.s_mh *= dec
    shocked = np.flatnonzero((uni < lat.shock_rate) & active)
    kind = np.searchsorted(np.cumsum(SHOCK_SHARES), rng.random(len(shocked)), side="right")
    kind = np.minimum(kind, len(SHOCK_TYPES) - 1)
    lat.s[shocked] += np.float32(a.shock_size)
    lat.s_house[shocked] += SHOCK_HOUSING[kind]
    lat.s_mh[shocked] += SHOCK_MH[kind]
    return shocked, kind


def shock_jensen(cfg: SyntheticConfig, coef_general: float, coef_house: float, coef_mh: float,
                 steps: np.ndarray) -> np.ndarray:
    """Return the expected log-hazard increase from shocks that arrive in the next ``steps`` months.

    For Poisson shock arrivals at monthly rate ``r`` the expectation of the
    multiplicative effect after ``k`` steps is ``exp(r * g(k))`` with
    ``g(k) = sum_i sum_type share * (exp(c_type * decay**(k-i)) - 1)``.
    Returns ``g(k)`` for each ``k`` in ``steps`` (multiply by the family's rate).
    """
    a = cfg.adversity
    c_type = (coef_general * a.shock_size + coef_house * SHOCK_HOUSING
              + coef_mh * SHOCK_MH).astype(float)
    out = np.zeros(len(steps))
    for j, k in enumerate(steps):
        lags = a.shock_decay ** np.arange(int(k))
        out[j] = float((SHOCK_SHARES[None, :] * (np.exp(np.outer(lags, c_type)) - 1)).sum())
    return out
