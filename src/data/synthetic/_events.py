"""Agency events drawn each month: noisy records of the latent problem domains.

Causal model, part 5 (what agencies see)
----------------------------------------
Every agency event type is a point process whose monthly rate is
``base / 12 * exp(gamma * (x - mean) - gamma**2 * var / 2) * surveillance``,
where ``x`` is the problem domain (or child propensity) the event records,
``gamma`` is ``events.gradient`` and the last factor keeps the population mean
rate at ``base`` (:class:`EventRatesConfig`). Events are drawn for the whole
LA at once: the number of events is Poisson with the total rate and each is
given to a family/child with probability proportional to its rate (an exact
draw of the same point process, and much faster than one draw per family).

- family events: police domestic-abuse incidents (domestic abuse domain),
  concern-for-welfare (mental health), other police contact (substance use),
  housing events and temporary accommodation (housing crisis), adult social
  care (ASC need), adult mental health and drug & alcohol service contacts,
  GP-reported concerns;
- child events: A&E attendances, health-visiting concerns (under 5),
  suspensions and permanent exclusions (pupils, mostly secondary), missing
  episodes (10-17, ``missing_in_care_multiplier`` times more in care), youth
  justice outcomes (10-17), young-carer assessments (8-17, ASC and mental
  health need at home);
- termly school attendance for pupils aged 5-15 on 31 August: sessions missed
  are binomial with a logit-normal absence rate driven by the child's absence
  propensity and family adversity;
- household moves (more with housing crisis; evictions and temporary
  accommodation force one) and Early Help episodes (more with adversity).

Family events are also the **incidents** that drive escalation: each real
incident adds 1 to the family's recent-incident load in its domain (see
``_adversity``), so a police call-out raises the children's hazard for months.

Families in the surveillance-bias group get every partner-agency rate
multiplied by ``bias.surveillance_multiplier``: the extra records are not
extra incidents, so their true need is unchanged (see :func:`family_events`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from earlywarning.data.synthetic._config import SyntheticConfig
from earlywarning.data.synthetic._population import ETH_GROUPS

__all__ = [
    "CHILD_KINDS", "CONTACT_ONLY_RATIO", "ETH", "FAM_KINDS", "EventNorms", "attendance",
    "child_events", "child_statics", "domain_kinds", "draw", "early_help", "family_events",
    "incident_rates", "moves", "start_early_help",
]

ETH = ETH_GROUPS
CONTACT_ONLY_RATIO = 1.1
"""Contacts that do not become referrals, per non-escalating referral hazard."""

FAM_KINDS = (
    ("police_da", 0, "police_da_per_family", 1.0),
    ("police_welfare", 1, "police_welfare_per_family", 1.0),
    ("police_other", 2, "police_other_per_family", 1.0),
    ("housing", 3, "housing_per_family", 1.0),
    ("temporary_accommodation", 3, "temporary_accommodation_per_family", 1.0),
    ("asc", 4, "asc_per_family", 1.0),
    ("adult_mental_health", 1, "mental_health_per_family", 1.0),
    ("drug_alcohol", 2, "drug_alcohol_per_family", 1.0),
    ("gp_concern", 1, "gp_concern_per_family", 1.0),
)
"""(name, domain index, rate knob, gradient multiplier)."""
FAM_KIND = {k[0]: i for i, k in enumerate(FAM_KINDS)}
CHILD_KINDS = (
    "a_and_e", "hv_concern", "suspension", "permanent_exclusion", "missing", "youth_justice",
    "young_carer",
)  # fmt: skip
CHILD_KIND = {k: i for i, k in enumerate(CHILD_KINDS)}
_SPELLS = {FAM_KIND["temporary_accommodation"], FAM_KIND["asc"]}
TERMS = {12: ((9, 1), (12, 19), 140), 3: ((1, 5), (3, 27), 118), 7: ((4, 14), (7, 21), 122)}
"""Month a term ends -> (start month/day, end month/day, sessions possible)."""


@dataclass
class EventNorms:
    """Means and variances that keep population-average rates at their base values."""

    mu_d: np.ndarray
    var_d: np.ndarray
    mu_a: float
    var_a: float
    lsoa_order: np.ndarray
    lsoa_start: np.ndarray
    lsoa_count: np.ndarray

    @classmethod
    def from_state(cls, cfg: SyntheticConfig, d0: np.ndarray, a0: np.ndarray,
                   lsoa_decile: np.ndarray) -> EventNorms:
        """Measure the initial state (deterministic given the seed)."""
        order = np.argsort(lsoa_decile, kind="stable")
        count = np.bincount(lsoa_decile.astype(int), minlength=11)
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        return cls(d0.mean(axis=1), d0.var(axis=1), float(a0.mean()), float(a0.var()),
                   order, start, count)

    def factor(self, x: np.ndarray, mu: float, var: float, gamma: float) -> np.ndarray:
        """``exp(gamma (x - mu) - gamma^2 var / 2)`` as float32."""
        return np.exp(np.float32(gamma) * (x - np.float32(mu))
                      - np.float32(0.5 * gamma * gamma * var)).astype(np.float32, copy=False)


BLOCKED_DRAW_MIN = 1 << 18
"""From this many units a draw searches block sums first (see :func:`draw`)."""
_BLOCK = 16


def draw(rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return event indices of a Poisson process with per-unit rates ``rate`` (with repeats).

    The number of events is Poisson with the total rate; each event picks its
    unit in proportion to the rates (sorted points searched in the cumulative
    rates). From :data:`BLOCKED_DRAW_MIN` units the search runs over sums of
    blocks of 16 units and then within the chosen blocks, which saves the
    float64 running sum over every unit of a large LA.
    """
    if len(rate) >= BLOCKED_DRAW_MIN:
        return _draw_blocked(rate, rng)
    cum = np.cumsum(rate, dtype=np.float64)
    if not len(cum) or cum[-1] <= 0:
        return np.zeros(0, np.int64)
    n = rng.poisson(cum[-1])
    # sorted points search the cumulative rates in order (cache-friendly): ascending units
    u = np.sort(rng.random(n))
    u *= cum[-1]
    return np.searchsorted(cum, u, side="right").astype(np.int64)


def _draw_blocked(rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:func:`draw` through block sums: the same process, searched in two steps."""
    m = -(-len(rate) // _BLOCK)
    padded = np.zeros(m * _BLOCK, np.float32)
    padded[:len(rate)] = rate
    sums = np.add.reduceat(padded, np.arange(0, m * _BLOCK, _BLOCK)).astype(np.float64)
    cum = np.cumsum(sums)
    if not m or cum[-1] <= 0:
        return np.zeros(0, np.int64)
    u = np.sort(rng.random(rng.poisson(cum[-1])))  # in order: cache-friendly searches
    u *= cum[-1]
    b = np.minimum(np.searchsorted(cum, u, side="right"), m - 1)
    chosen = padded.reshape(m, _BLOCK)[b]
    resid = u - (cum[b] - sums[b])
    # the unit is the first whose running sum within the block passes the residual
    running = np.zeros(len(u))
    k = np.zeros(len(u), np.int64)
    for j in range(_BLOCK):
        running += chosen[:, j]
        k += running <= resid
    # a point on a block's rounding edge goes to the block's last unit with a rate
    edge = np.flatnonzero(k >= _BLOCK)
    if len(edge):
        k[edge] = _BLOCK - 1 - np.argmax(chosen[edge][:, ::-1] > 0, axis=1)
    return b * _BLOCK + k


def _days(rng: np.random.Generator, t0: int, ndays: int, n: int) -> np.ndarray:
    return t0 + (rng.random(n) * ndays).astype(np.int64)


def _ln(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.maximum(1, np.round(median * np.exp(sigma * rng.standard_normal(n)))).astype(np.int64)


def domain_kinds(dom: int) -> list[int]:
    """Return the :data:`FAM_KINDS` indices of the event types recording domain ``dom``."""
    return [k for k, spec in enumerate(FAM_KINDS) if spec[1] == dom]


def incident_rates(cfg: SyntheticConfig, norms: EventNorms, d: np.ndarray) -> np.ndarray:
    """Monthly rate of real incidents per domain and family (before surveillance).

    For each domain, the sum of the base rates of its event types times the
    domain's severity factor (see the module doc). Computed in place in one
    float32 array (domains x families): at a large LA the temporaries of a
    per-domain formula cost more than the exponentials.
    """
    doms = range(len(d))
    gamma = np.array([cfg.events.gradient * FAM_KINDS[domain_kinds(j)[0]][3] for j in doms])
    base = np.array([sum(getattr(cfg.events, FAM_KINDS[k][2]) for k in domain_kinds(j)) / 12.0
                     for j in doms])
    # exp(gamma (d - mu) - gamma^2 var / 2) * base = exp(gamma d + log(base) - gamma mu - ...)
    shift = np.log(base) - gamma * norms.mu_d - 0.5 * gamma * gamma * norms.var_d
    out = np.multiply(d, gamma.astype(np.float32)[:, None], dtype=np.float32)
    out += shift.astype(np.float32)[:, None]
    np.exp(out, out=out)
    return out


def family_events(cfg: SyntheticConfig, rng: np.random.Generator, rec, state: dict,  # noqa: ANN001
                  rates: np.ndarray, loads: np.ndarray, active: np.ndarray, surv: np.ndarray,
                  t0: int, ndays: int, keep_points: bool = True) -> None:
    """Draw this month's family-level partner-agency events.

    Event types that record the same domain share one draw: each family's
    incident rate in the domain (``rates``, domains x families, from
    :func:`incident_rates`) picks the families, then each event's type is drawn
    in proportion to the types' base rates. Every real incident adds 1 to its
    domain's row of ``loads``, the families' recent-incident loads (the caller
    decays them). With ``keep_points`` False only spells (temporary
    accommodation, adult social care) are recorded: point events before the
    period are never written, but they still count as incidents.

    Surveillance bias changes what is recorded, not what happens: with a
    multiplier ``s > 1`` events are drawn at ``s`` times the rate and a share
    ``1/s`` of them are real; with ``s < 1`` every event drawn is real and a
    share ``s`` of them is recorded.
    """
    r = cfg.events
    biased = bool(np.any(surv != 1))
    over = np.maximum(surv, np.float32(1.0))
    base_mask = (active * over).astype(np.float32) if biased else active
    rate = np.empty(rates.shape[1], np.float32)
    for dom in range(len(rates)):
        kinds = domain_kinds(dom)
        np.multiply(rates[dom], base_mask, out=rate)
        fams = draw(rate, rng)
        if not len(fams):
            continue
        real = fams
        if biased:
            u = rng.random(len(fams), dtype=np.float32)
            is_real = u < 1 / over[fams]
            recorded = ~is_real | (u < np.minimum(surv[fams], 1) / over[fams])
            real = fams[is_real]
            fams = fams[recorded]
        np.add.at(loads[dom], real, np.float32(1.0))
        if not (keep_points or set(kinds) & _SPELLS) or not len(fams):
            continue  # nothing of this domain is written before the period
        base = np.array([getattr(r, FAM_KINDS[k][2]) for k in kinds]) / 12.0
        which = np.searchsorted(np.cumsum(base) / base.sum(), rng.random(len(fams)),
                                side="right")
        kind = np.asarray(kinds, dtype=np.int8)[np.minimum(which, len(kinds) - 1)]
        day = _days(rng, t0, ndays, len(fams))
        end = np.full(len(fams), 10**6, np.int64)
        ta = kind == FAM_KIND["temporary_accommodation"]
        end[ta] = day[ta] + _ln(rng, 300, 0.7, int(ta.sum()))
        if ta.any():
            state["ta_fams"], state["ta_days"] = fams[ta], day[ta]
        asc = kind == FAM_KIND["asc"]
        end[asc] = day[asc] + _ln(rng, 240, 1.0, int(asc.sum()))
        keep = slice(None) if keep_points else (ta | asc)
        rec.add("fam_ev", fam=fams[keep], day=day[keep], kind=kind[keep], end=end[keep])


def moves(cfg: SyntheticConfig, rng: np.random.Generator, rec, state: dict, pop,  # noqa: ANN001
          d: np.ndarray, norms: EventNorms, active: np.ndarray, shocked: np.ndarray,
          kind: np.ndarray, t0: int, ndays: int) -> None:
    """Household moves: at random (more with housing crisis), after evictions and into TA."""
    rate = (cfg.family.moves_per_year / 12.0) * active * norms.factor(
        d[3], norms.mu_d[3], norms.var_d[3], 0.6)
    fams = draw(rate, rng)
    fams = np.unique(fams)
    day = _days(rng, t0, ndays, len(fams))
    ev_f = shocked[kind == 1]
    ta_f = state.pop("ta_fams", np.zeros(0, np.int64))
    ta_d = state.pop("ta_days", np.zeros(0, np.int64))
    all_f = np.concatenate([fams, ev_f, ta_f])
    all_d = np.concatenate([day, _days(rng, t0, ndays, len(ev_f)), ta_d])
    typ = np.concatenate([np.zeros(len(fams) + len(ev_f), np.int8), np.ones(len(ta_f), np.int8)])
    if not len(all_f):
        return
    _, first = np.unique(all_f, return_index=True)
    all_f, all_d, typ = all_f[first], all_d[first], typ[first]
    cur = pop.lsoa_decile[state["lsoa"][all_f]].astype(np.int64)
    target = np.clip(cur + rng.integers(-1, 2, len(all_f)), 1, 10)
    target = np.where(norms.lsoa_count[target] > 0, target, cur)
    pick = norms.lsoa_order[norms.lsoa_start[target]
                            + (rng.random(len(all_f)) * norms.lsoa_count[target]).astype(np.int64)]
    state["lsoa"][all_f] = pick
    state["last_move"][all_f] = all_d
    rec.add("move", fam=all_f, day=all_d, lsoa=pick.astype(np.int32), temp=typ)


def start_early_help(cfg: SyntheticConfig, rng: np.random.Generator, rec, state: dict,  # noqa: ANN001
                     fams: np.ndarray, start: np.ndarray, reason: int) -> None:
    """Open Early Help episodes for ``fams`` from ``start`` (reason 0 need, 1 step-down)."""
    end = start + _ln(rng, 180, 0.5, len(fams))
    state["eh_until"][fams] = np.maximum(state["eh_until"][fams], end)
    state["eh_start"][fams] = start
    state["eh_recent"][fams] = end + 182
    rec.add("eh", fam=fams, start=start, end=end, reason=np.full(len(fams), reason, np.int8))


def early_help(cfg: SyntheticConfig, rng: np.random.Generator, rec, state: dict,  # noqa: ANN001
               norms: EventNorms, A: np.ndarray, active: np.ndarray, t0: int, ndays: int) -> None:
    """Early Help episodes opened because of need (targeted at adversity)."""
    free = active & (state["eh_until"] <= t0)
    rate = (cfg.events.early_help_per_family / 12.0) * free * norms.factor(
        A, norms.mu_a, norms.var_a, 0.9)
    fams = np.unique(draw(rate, rng))
    if len(fams):
        start_early_help(cfg, rng, rec, state, fams, _days(rng, t0, ndays, len(fams)), 0)


def child_statics(cfg: SyntheticConfig, lat) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Per-child event-rate factors that do not change over time (computed once)."""
    csd2 = cfg.adversity.child_sd ** 2
    f32 = np.float32

    def norm(x: np.ndarray, gamma: float, var: float) -> np.ndarray:
        return np.exp(f32(gamma) * x - f32(0.5 * gamma * gamma * var)).astype(f32)

    return {
        "a_and_e": norm(lat.c_ev, 1.0, 0.25),
        "behaviour": norm(0.5 * lat.c_abs + 0.5 * lat.c_yo, 1.3, 0.5 * csd2),
        "missing": norm(lat.c_miss, 1.2, csd2),
        "youth_justice": norm(lat.c_yo, 1.2, csd2),
    }


def child_events(cfg: SyntheticConfig, rng: np.random.Generator, rec, norms: EventNorms,  # noqa: ANN001
                 statics: dict, sl: slice, t_mid: int, dob: np.ndarray, cf: np.ndarray,
                 A: np.ndarray, d: np.ndarray, in_care: np.ndarray, surv: np.ndarray,
                 t0: int, ndays: int) -> None:
    """Draw this month's child-level events for the children in ``sl``.

    Children are sorted by date of birth, so each age band is a contiguous
    sub-range and rates are computed only where they apply. Each rate is a
    per-child static factor times a family factor (adversity, surveillance).
    """
    r = cfg.events
    mu, va = norms.mu_a, norms.var_a

    def at(years: float) -> int:  # first position younger than ``years`` at mid-month
        return int(np.searchsorted(dob, t_mid - int(years * 365.25), side="right"))

    i18, i16, i11, i10, i8, i5 = 0, at(16), at(11), at(10), at(8), at(5)

    def fam(gamma: float, x: np.ndarray | None = None, m: float = mu, v: float = va) -> np.ndarray:
        return (norms.factor(A if x is None else x, m, v, gamma) * surv).astype(np.float32)

    def emit(kind: str, lo: int, idx: np.ndarray) -> None:
        if len(idx):
            i = lo + idx
            day = np.maximum(_days(rng, t0, ndays, len(i)), dob[i])
            rec.add("child_ev", child=(sl.start + i).astype(np.int64), day=day,
                    kind=np.full(len(i), CHILD_KIND[kind], np.int8))

    st = {k: v[sl] for k, v in statics.items()}
    home = ~in_care
    # A&E: every child, more under 5
    rate = (r.a_and_e_per_child / 12) * st["a_and_e"] * fam(0.4)[cf]
    rate[i5:] *= np.float32(1.4)
    emit("a_and_e", 0, draw(rate, rng))
    # health-visiting concerns: under 5 at home
    rate = (r.health_visiting_concern_per_infant / 12) * fam(r.gradient)[cf[i5:]] * home[i5:]
    emit("hv_concern", i5, draw(rate, rng))
    # suspensions and permanent exclusions: pupils aged 5-15, mostly secondary
    base_s, base_p = r.suspensions_per_pupil / 12, r.permanent_exclusions_per_pupil / 12
    rate = st["behaviour"][i16:i5] * fam(0.65)[cf[i16:i5]] * np.float32(base_s + base_p)
    rate[: i11 - i16] *= np.float32(2.2)
    rate[i11 - i16:] *= np.float32(0.3)
    idx = draw(rate, rng)
    perm = rng.random(len(idx)) < base_p / (base_s + base_p)
    emit("suspension", i16, idx[~perm])
    emit("permanent_exclusion", i16, idx[perm])
    # missing episodes and youth justice: ages 10-17
    care_mult = np.where(in_care[i18:i10], r.missing_in_care_multiplier, 1.0).astype(np.float32)
    f_teen = norms.factor(A, mu, va, 0.6)[cf[i18:i10]]
    rate = (r.missing_per_adolescent / 12) * st["missing"][i18:i10] * f_teen * care_mult
    emit("missing", i18, draw(rate, rng))
    rate = (r.youth_justice_per_adolescent / 12) * st["youth_justice"][i18:i10] * f_teen
    rate *= surv[cf[i18:i10]]
    emit("youth_justice", i18, draw(rate, rng))
    # young carers: ages 8-17 at home with adult social care / mental health need
    x = d[4] + 0.5 * d[1]
    xm = float(norms.mu_d[4] + 0.5 * norms.mu_d[1])
    xv = float(norms.var_d[4] + 0.25 * norms.var_d[1])
    rate = (r.young_carer_per_child / 12) * fam(r.gradient, x, xm, xv)[cf[i18:i8]] * home[i18:i8]
    emit("young_carer", i18, draw(rate, rng))


def attendance(cfg: SyntheticConfig, rng: np.random.Generator, rec, lat, sl: slice,  # noqa: ANN001
               dob: np.ndarray, cf: np.ndarray, A: np.ndarray, in_care: np.ndarray,
               t0: int, t1: int) -> None:
    """Termly attendance rows for pupils aged 5-15 on 31 August, written when a term ends."""
    month = (np.datetime64(t0, "D").astype(object)).month
    if month not in TERMS:
        return
    year = (np.datetime64(t0, "D").astype(object)).year
    (sm, sd), (em, ed), possible = TERMS[month]
    start = int(np.datetime64(dt.date(year if sm <= em else year, sm, sd), "D").astype(np.int64))
    end = int(np.datetime64(dt.date(year, em, ed), "D").astype(np.int64))
    acad = year if month == 12 else year - 1
    aug31 = int(np.datetime64(dt.date(acad, 8, 31), "D").astype(np.int64))
    age31 = (aug31 - dob) / 365.25
    pupils = np.flatnonzero((age31 >= 5) & (age31 < 16))
    if not len(pupils):
        return
    r = cfg.events
    a_dev = A[cf[pupils]]
    z = lat.c_abs[sl][pupils] + 0.9 * a_dev
    z = (z - z.mean()) / max(float(z.std()), 1e-6)
    base = np.log(r.absence_rate / (1 - r.absence_rate)) - 0.25 * r.absence_sd**2
    logit = base + r.absence_sd * z - 0.4 * in_care[pupils]
    p = 1.0 / (1.0 + np.exp(-logit))
    poss = np.full(len(pupils), possible, np.int64)
    missed = rng.binomial(poss, p)
    unauth = rng.binomial(missed, 1.0 / (1.0 + np.exp(0.8 - 0.6 * z)))
    n = len(pupils)
    rec.add("att", child=(sl.start + pupils).astype(np.int64), start=np.full(n, start, np.int64),
            end=np.full(n, end, np.int64), possible=poss.astype(np.int16),
            missed=missed.astype(np.int16), unauth=unauth.astype(np.int16))
