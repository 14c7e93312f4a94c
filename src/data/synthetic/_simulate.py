"""The monthly simulation: latent adversity -> agency events and escalation.

One loop over months (never over children): each step advances every
family's latent state (``_adversity``), computes every child's need score
and escalation hazards (``_hazard``), draws referrals and their pathways
(``_pathways``), agency events (``_events``), moves and Early Help, updates
each child's CSC history, and hands the ground truth of the month to a sink.
Children are held sorted by date of birth, so the children aged 0-17 in a
month are one contiguous slice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from earlywarning.data.synthetic import _events as ev
from earlywarning.data.synthetic._adversity import (
    DOMAINS,
    DRIVERS,
    NoiseAhead,
    init_latent,
    step_latent,
)
from earlywarning.data.synthetic._config import SyntheticConfig
from earlywarning.data.synthetic._hazard import (
    ATTENDANCE_GOOD,
    CHILD_TERMS,
    FAMILY_TERMS,
    SCHOOL,
    TERM_ROWS,
    Projector,
    age_table,
    driver_keys,
    largest_keys,
    top_keys,
)
from earlywarning.data.synthetic._pathways import delay_weights, sample_escalating, sample_other
from earlywarning.data.synthetic._population import Population
from earlywarning.data.synthetic._timeline import DAYS_PER_YEAR, NEVER, Timeline
from earlywarning.data.synthetic._worker import OrderedWorker

__all__ = ["SimOutput", "simulate", "group_mask", "intercept"]

GroundTruthSink = Callable[[int, dict[str, np.ndarray]], None]
EIGHTEEN = int(18 * DAYS_PER_YEAR)


class Recorder:
    """Collects dicts of equal-length arrays and concatenates them at the end."""

    def __init__(self) -> None:
        self.parts: dict[str, list[dict[str, np.ndarray]]] = {}

    def add(self, stream: str, **cols: np.ndarray) -> None:
        """Append rows to ``stream`` (skipped when empty)."""
        if len(next(iter(cols.values()))):
            self.parts.setdefault(stream, []).append(cols)

    def result(self, stream: str, like: dict[str, np.dtype] | None = None) -> dict:
        """Concatenated columns of ``stream`` (empty arrays when nothing was added)."""
        parts = self.parts.get(stream, [])
        if not parts:
            return {k: np.zeros(0, dtype=v) for k, v in (like or {}).items()}
        keys = parts[0].keys()
        return {k: np.concatenate([p[k] for p in parts]) for k in keys}


@dataclass
class SimOutput:
    """Everything the table builders need from the simulation."""

    referrals: dict
    fam_events: dict
    child_events: dict
    attendance: dict
    moves: dict
    early_help: dict
    contact_only: dict
    fam_lsoa_final: np.ndarray
    calibration: dict = field(default_factory=dict)
    ground_truth: dict | None = None
    wait_ground_truth: Callable[[], None] = lambda: None
    """Blocks until every ground-truth month has reached the sink (re-raising its errors)."""
    stop_ground_truth: Callable[[], None] = lambda: None
    """For a failing caller: drops the months not yet written and stops their thread."""


def _frozen(lat):  # noqa: ANN001, ANN202
    """Return a copy of the latent state whose family arrays later months will not change."""
    from dataclasses import replace

    return replace(lat, u=lat.u.copy(), s=lat.s.copy(), s_house=lat.s_house.copy(),
                   s_mh=lat.s_mh.copy(), ell=lat.ell.copy())


def group_mask(pop: Population, sel, eth_groups: tuple[str, ...]) -> np.ndarray:  # noqa: ANN001
    """Families in a :class:`GroupSelector` group (all False when ``sel`` is None)."""
    if sel is None:
        return np.zeros(pop.n_families, bool)
    if sel.by == "ethnicity":
        return pop.fam_eth == eth_groups.index(sel.value)
    quint = (pop.fam_decile0().astype(int) + 1) // 2
    return quint == int(sel.value)


def intercept(raw: np.ndarray, expected: float, steps: int = 20,
              start: float | None = None) -> float:
    """Return ``alpha`` so that ``sum(1 - exp(-exp(alpha) * raw))`` is ``expected``.

    A month's referral probability saturates at 1, so the linear solution
    ``log(expected / sum(raw))`` falls short when a few children have very high
    hazards. Newton steps on the log of the sum (each at most 2 in ``alpha``)
    correct it. Only children whose hazard could reach 1% (at up to
    ``alpha + 3``) are evaluated exactly, the rest (where ``1 - exp(-h)`` is
    ``h`` to within 0.5%) as one sum; if ``alpha`` climbs past that, the split
    is redone from there. ``start`` (last month's answer) saves a few steps;
    by default the search starts from the linear solution.
    """
    total = float(raw.sum(dtype=np.float64))
    if total <= 0 or expected <= 0:
        return float(np.log(max(expected, 1e-12) / max(total, 1e-12)))
    # the linear solution; saturation only raises alpha, so a start below it is no better
    alpha = float(np.log(expected / total))
    if start is not None:
        alpha = max(alpha, float(start))
    for _ in range(3):
        ceiling = alpha + 3.0
        rb = raw[raw > np.float32(0.01 * np.exp(-ceiling))]
        rest = total - float(rb.sum(dtype=np.float64))
        for _ in range(steps):
            h = np.float32(np.exp(alpha)) * rb
            p = np.float32(1.0) - np.exp(-h)  # h >= 0.0005 here: rounding is unbiased
            linear = np.exp(alpha) * rest
            got = linear + float(p.sum(dtype=np.float64))
            slope = linear + float(h.sum(dtype=np.float64)) - float(np.dot(h, p))
            step = float(np.clip((np.log(expected) - np.log(got)) * got / max(slope, 1e-300),
                                 -2.0, 2.0))
            alpha += step
            if abs(step) < 1e-6:
                break
        if alpha <= ceiling:
            break
    return alpha


def _fam_terms(cfg, pop, lat, d, t0, state, beta_l) -> np.ndarray:  # noqa: ANN001
    c = cfg.escalation.coef
    f32 = np.float32
    c2 = pop.fam_carer2 >= 0
    partner_home = (pop.fam_partner_start <= t0) & (t0 < pop.fam_partner_end)
    support = (c2 & (t0 < pop.fam_sep)) | (partner_home & ~pop.fam_partner_violent)
    inc_c = cfg.escalation.incident_coef
    dom_c = np.array([c[name] for name in DOMAINS])
    inc_cv = np.array([inc_c[name] for name in DOMAINS])
    out = np.empty((len(FAMILY_TERMS), pop.n_families), np.float32)
    # domain terms c_j (d_j - mean d_j) + i_j (load_j - mean load_j), in place
    dom = out[:len(DOMAINS)]
    np.multiply(d, dom_c.astype(f32)[:, None], out=dom)
    dom += (state["inc"] * inc_cv.astype(f32)[:, None])
    dom -= (dom_c * state["d_mean"] + inc_cv * state["inc_mean"]).astype(f32)[:, None]
    dec = np.take(pop.lsoa_decile, state["lsoa"]).astype(f32)
    np.multiply(dec, f32(-c["deprivation"] / 4.5), out=out[5])
    out[5] += f32(c["deprivation"] * 5.5 / 4.5)
    np.multiply(lat.ell, f32(beta_l), out=out[6])
    eh = (state["eh_start"] <= t0) & (state["eh_recent"] > t0)
    np.multiply(eh, f32(-c["early_help_engagement"]), out=out[7])
    np.multiply(t0 - state["last_move"] > 730, f32(-c["stable_address"]), out=out[8])
    np.multiply(support, f32(-c["second_carer_support"]), out=out[9])
    return out


def simulate(cfg: SyntheticConfig, pop: Population, tl: Timeline, rng: np.random.Generator,
             gt_sink: GroundTruthSink | None = None,
             progress: Callable[[int, int], None] | None = None) -> SimOutput:
    """Run the monthly simulation.

    Parameters
    ----------
    cfg, pop, tl, rng
        Configuration, population, calendar and the random generator.
    gt_sink : callable, optional
        Called ``gt_sink(month_start_day, columns)`` for every ground-truth month,
        on a worker thread that may still be running when this returns (table
        building overlaps it): call ``SimOutput.wait_ground_truth()`` before
        closing the sink. When omitted the ground truth is kept in memory in
        ``SimOutput.ground_truth``.
    progress : callable, optional
        Called ``progress(month_done, n_months)``.

    Returns
    -------
    SimOutput
    """
    e, a = cfg.escalation, cfg.adversity
    lat = init_latent(cfg, pop, rng)
    nf, nc = pop.n_families, pop.n_children
    rec = Recorder()
    in_memory = gt_sink is None
    if in_memory:
        def gt_sink(day: int, cols: dict[str, np.ndarray]) -> None:
            rec.add("gt", month=np.full(len(cols["child"]), day, np.int64), **cols)
    label_grp = group_mask(pop, cfg.bias.label_group, ev.ETH)
    label_mult = np.where(label_grp, cfg.bias.label_multiplier, 1.0).astype(np.float32)
    label_biased = bool(np.any(label_mult != 1))
    surv_grp = group_mask(pop, cfg.bias.surveillance_group, ev.ETH)
    surv_mult = np.where(surv_grp, cfg.bias.surveillance_multiplier, 1.0).astype(np.float32)

    A0 = lat.adversity(pop.fam_baseline)
    vp0 = np.zeros(nf, np.float32)
    d0 = lat.domains(pop, cfg, A0, vp0)
    state = {
        "lsoa": pop.fam_lsoa0.copy(), "last_move": np.full(nf, -NEVER, np.int64),
        "eh_until": np.full(nf, -NEVER, np.int64), "eh_recent": np.full(nf, -NEVER, np.int64),
        "eh_start": np.full(nf, NEVER, np.int64),
        "d_mean": d0.mean(axis=1), "hist_n": np.zeros(nf, np.int32),
    }
    norms = ev.EventNorms.from_state(cfg, d0, A0, pop.lsoa_decile)
    # recent-incident loads (domains x families) and their stationary population means
    state["inc"] = np.zeros((len(DOMAINS), nf), np.float32)
    state["inc_mean"] = (ev.incident_rates(cfg, norms, d0).mean(axis=1, dtype=np.float64)
                         / (1 - e.incident_decay))
    inc_coef = np.array([e.incident_coef[dname] * e.need_scale_escalating for dname in DOMAINS],
                        np.float32)
    hist = np.zeros(nc, np.int8)
    hist_cp = np.zeros(nc, np.int8)
    busy = np.full(nc, -NEVER, np.int64)
    state_end = np.full(nc, -NEVER, np.int64)
    out_day = np.full(nc, NEVER, np.int64)
    in_care_until = np.full(nc, -NEVER, np.int64)
    care_from = np.full(nc, NEVER, np.int64)
    c = e.coef
    dom_coef = np.array([c[dname] for dname in DOMAINS])
    loads = np.array([a.domain_loading[dname] for dname in DOMAINS])
    b_a = float(dom_coef @ loads)
    k_e, k_o = e.need_scale_escalating, e.need_scale_other
    rate_ref = e.referrals_per_10k / 10_000 / 12
    alpha_e = alpha_o = 0.0
    beta_l = 0.0
    projector: Projector | None = None
    wts = delay_weights(cfg, np.random.default_rng([cfg.seed, 99]))
    eta_var = []
    age_tab = age_table(cfg)
    statics = ev.child_statics(cfg, lat)
    gt_jobs, child_jobs = OrderedWorker(max_queued=_gt_queue(cfg, pop)), OrderedWorker()
    child_rng = np.random.default_rng([cfg.seed, 4, 1])
    # the latent state's noise needs nothing from the loop: drawn ahead, on another thread
    noise = NoiseAhead(np.random.default_rng([cfg.seed, 4, 2]), nf, tl.n_months)

    try:
        for m in range(tl.n_months):
            t0, t1 = int(tl.month_starts[m]), int(tl.month_starts[m + 1])
            ndays = t1 - t0
            lo = int(np.searchsorted(pop.ch_dob, t0 - EIGHTEEN, side="right"))
            hi = int(np.searchsorted(pop.ch_dob, t1, side="left"))
            sl = slice(lo, hi)
            cf = pop.ch_family[sl]
            dob = pop.ch_dob[sl]
            fam_active = np.zeros(nf, bool)
            fam_active[cf] = True
            shocked, kind = step_latent(cfg, lat, rng, fam_active, noise.next())
            A = lat.adversity(pop.fam_baseline)
            vp = (pop.fam_partner_violent & (pop.fam_partner_start <= t0)
                  & (t0 < pop.fam_partner_end)).astype(np.float32)
            d = lat.domains(pop, cfg, A, vp)
            inc_rates = ev.incident_rates(cfg, norms, d)  # the month's events and its ground truth
            in_period = m >= tl.period_m0

            fam_terms = _fam_terms(cfg, pop, lat, d, t0, state, beta_l if in_period else 0.0)
            fam_eta = fam_terms.sum(axis=0)
            age = ((t0 + ndays // 2 - dob) / DAYS_PER_YEAR).astype(np.float32)
            am = np.clip(((t0 + ndays // 2 - dob) * 12 / DAYS_PER_YEAR).astype(np.int32), 0,
                         len(age_tab[0]) - 1)
            ch_terms = _child_terms(cfg, lat, sl, age, am, age_tab, hist, hist_cp, state["hist_n"],
                                    cf)
            eta = fam_eta[cf] + ch_terms.sum(axis=0)
            elig = state_end[sl] <= t0
            since = (t0 - busy[sl]).astype(np.float32)
            boost = np.float32(e.rereferral_boost) * np.clip(1 - since / 365, 0, 1) * (since >= 0)
            if not in_period:
                # burn-in: size the unrecorded latent's coefficient from the observed terms
                v_obs = float(np.var(eta[elig])) if elig.any() else 1.0
                share = a.unobserved_share
                beta_l = float(np.sqrt(share / (1 - share) * v_obs)) if share > 0 else 0.0
                eta = eta + beta_l * lat.ell[cf]
            # thresholds follow demand: intercepts re-set each month to the LA's referral rate
            n_act = hi - lo
            idle = elig & (busy[sl] <= t0)
            raw_e = np.exp(np.float32(k_e) * eta)
            raw_o = np.exp(np.float32(k_o) * eta + boost)
            alpha_e = intercept(raw_e[elig], rate_ref * e.escalating_share * n_act,
                                start=alpha_e if m else None)
            alpha_o = intercept(raw_o[idle], rate_ref * (1 - e.escalating_share) * n_act,
                                start=alpha_o if m else None)
            if in_period and projector is None:
                projector = Projector(cfg, wts, k_e, b_a, c["housing_crisis"],
                                      c["parental_mental_health"], beta_l)
            if in_period:
                eta_var.append((float(np.var(eta[elig])),
                                float(np.var(beta_l * lat.ell[cf][elig]))))
            gt_every = cfg.ground_truth_every_months
            if in_period and (m - tl.period_m0) % gt_every == 0:
                log_h_need = np.float32(alpha_e) + np.float32(k_e) * eta
                log_he = log_h_need + np.log(label_mult[cf]) if label_biased else log_h_need
                # on a second thread, with copies of the state later months change in place
                gt_jobs.submit(_ground_truth, cfg, gt_sink, projector, t0, lo, sl, cf, age, am, dob,
                               elig, out_day.copy(), fam_terms, ch_terms, log_he, log_h_need,
                               _frozen(lat), A, k_e, b_a, beta_l,
                               inc_coef @ state["inc"], inc_rates)

            # --- referrals -------------------------------------------------------------
            pe = _monthly_probability(raw_e, alpha_e, label_mult[cf] if label_biased else None,
                                      elig)
            po = _monthly_probability(raw_o, alpha_o, None, idle)
            u = rng.random(len(eta))
            # u picks one of: escalating referral, other referral, contact only, nothing
            top = po * np.float32(1 + ev.CONTACT_ONLY_RATIO)
            top += pe
            cand = np.flatnonzero(u < top)  # the few children with anything this month
            uc, pec = u[cand], pe[cand]
            mid = pec + po[cand]
            esc, oth, cont = cand[uc < pec], cand[(uc >= pec) & (uc < mid)], cand[uc >= mid]
            rec.add("contact_only", child=(lo + cont).astype(np.int64),
                    day=np.maximum(t0 + (rng.random(len(cont)) * ndays).astype(np.int64),
                                   dob[cont]))
            for idx, sampler in ((esc, "esc"), (oth, "oth")):
                if not len(idx):
                    continue
                gi = lo + idx
                day = np.maximum(t0 + (rng.random(len(idx)) * ndays).astype(np.int64), dob[idx])
                if sampler == "esc":
                    path = sample_escalating(cfg, rng, day, age[idx], dob[idx])
                else:
                    path = sample_other(cfg, rng, day)
                terms = np.concatenate([fam_terms[:, cf[idx]], ch_terms[:, idx]])
                full = np.empty((len(DRIVERS), len(idx)), np.float32)
                full[TERM_ROWS] = terms
                rec.add("ref", child=gi, day=day, age=age[idx], eta=eta[idx],
                        dom=d[:, cf[idx]].T.copy(), terms=full.T.copy(), **path)
                new = hist[gi] == 0
                np.add.at(state["hist_n"], cf[idx][new], 1)
                hist[gi] = 1
                busy[gi] = np.maximum(busy[gi], path["close"])
                if sampler == "esc":
                    hist_cp[gi] = 1
                    state_end[gi] = path["state_end"]
                    out_day[gi] = path["out_day"]
                    care = path["care"]
                    in_care_until[gi[care]] = path["care_end"][care]
                    care_from[gi[care]] = path["care_start"][care]
                sd = path["step_down"]
                if sd.any():
                    fams = cf[idx][sd]
                    ev.start_early_help(cfg, rng, rec, state, fams, path["close"][sd], reason=1)

            # --- agency events, moves, Early Help -------------------------------------------
            # before the period only what can still be open (or be recent) at its start is kept
            recent = m >= tl.period_m0 - 2
            state["inc"] *= np.float32(e.incident_decay)
            ev.family_events(cfg, rng, rec, state, inc_rates, state["inc"], fam_active, surv_mult,
                             t0, ndays, keep_points=recent)
            ev.moves(cfg, rng, rec, state, pop, d, norms, fam_active, shocked, kind, t0, ndays)
            ev.early_help(cfg, rng, rec, state, norms, A, fam_active, t0, ndays)
            in_care = (care_from[sl] <= t0) & (in_care_until[sl] > t0)
            if recent:  # child events feed nothing back: drawn on a worker, from their own stream
                child_jobs.submit(_child_month, cfg, child_rng, rec, norms, statics, lat, sl, dob,
                                  cf, A, d, in_care, surv_mult, t0, t1)
            if progress is not None:
                progress(m + 1, tl.n_months)
        noise.close()
        if in_memory:
            gt_jobs.wait()
        child_jobs.wait()
    except BaseException:
        # stop the helper threads before the error leaves: none keeps running, or writing
        # (each call is a no-op for a helper already closed or waited for)
        noise.close()
        gt_jobs.cancel()
        child_jobs.cancel()
        raise
    ev_arr = np.array(eta_var) if eta_var else np.zeros((1, 2))
    calib = {
        "alpha_escalating": alpha_e, "alpha_other": alpha_o, "beta_latent": beta_l,
        "need_scale_escalating": k_e, "need_scale_other": k_o,
        "unobserved_share_target": a.unobserved_share,
        "unobserved_share_measured": float(ev_arr[:, 1].mean() / max(ev_arr[:, 0].mean(), 1e-9)),
        "delay_weights": [round(float(w), 4) for w in wts],
    }
    return SimOutput(
        referrals=rec.result("ref"), fam_events=rec.result("fam_ev"),
        child_events=rec.result("child_ev"), attendance=rec.result("att"),
        moves=rec.result("move", {"fam": np.int64, "day": np.int64, "lsoa": np.int32,
                                  "temp": np.int8}),
        early_help=rec.result("eh", {"fam": np.int64, "start": np.int64, "end": np.int64,
                                     "reason": np.int8}),
        contact_only=rec.result("contact_only", {"child": np.int64, "day": np.int64}),
        fam_lsoa_final=state["lsoa"], calibration=calib,
        ground_truth=rec.result("gt") if "gt" in rec.parts else None,
        wait_ground_truth=gt_jobs.wait, stop_ground_truth=gt_jobs.cancel,
    )


def _monthly_probability(raw: np.ndarray, alpha: float, mult: np.ndarray | None,
                         at_risk: np.ndarray) -> np.ndarray:
    """``1 - exp(-exp(alpha) * raw * mult)`` where ``at_risk``, else 0 (float32, in place)."""
    h = raw * np.float32(np.exp(alpha))
    if mult is not None:
        h *= mult
    np.negative(h, out=h)
    np.exp(h, out=h)
    np.subtract(np.float32(1.0), h, out=h)
    h *= at_risk
    return h


GT_QUEUE_BYTES = 512 * 2**20
"""Memory the queued ground-truth months may hold: with room to queue, the loop runs
ahead and table building overlaps the ground truth instead of waiting for it."""


def _gt_queue(cfg: SyntheticConfig, pop: Population) -> int:
    """Ground-truth months that may wait for the worker (2 to 64, by their size in bytes)."""
    per_month = 8 * pop.n_children + 96 * pop.n_families + 60 * cfg.children
    return int(np.clip(GT_QUEUE_BYTES // per_month, 2, 64))


def _child_month(cfg, rng, rec, norms, statics, lat, sl, dob, cf, A, d, in_care, surv,  # noqa: ANN001
                 t0: int, t1: int) -> None:
    """One month's child-level events and termly attendance (see ``_events``)."""
    ndays = t1 - t0
    ev.child_events(cfg, rng, rec, norms, statics, sl, t0 + ndays // 2, dob, cf, A, d, in_care,
                    surv, t0, ndays)
    ev.attendance(cfg, rng, rec, lat, sl, dob, cf, A, in_care, t0, t1)


def _ages_between(age: np.ndarray, lo_years: float, hi_years: float) -> slice:
    """Positions with ``lo_years <= age < hi_years``: one range, as ages fall along the slice."""
    rising = age[::-1]  # children are sorted by date of birth, so ages fall along ``age``
    n = len(age)
    return slice(n - int(np.searchsorted(rising, hi_years)), n - int(np.searchsorted(rising,
                                                                                    lo_years)))


def _child_terms(cfg, lat, sl, age, am, age_tab, hist, hist_cp, hist_n, cf) -> np.ndarray:  # noqa: ANN001
    c = cfg.escalation.coef
    f32 = np.float32
    out = np.zeros((len(CHILD_TERMS), len(age)), np.float32)
    school, teen = _ages_between(age, 5, 16), _ages_between(age, 10, 18)
    np.multiply(lat.c_abs[sl][school], f32(c["school_absence"]), out=out[0][school])
    for row, prop, name in ((1, lat.c_miss, "missing_episodes"), (2, lat.c_yo, "youth_offending")):
        np.maximum(prop[sl][teen], f32(0.0), out=out[row][teen])
        out[row][teen] *= f32(c[name])
    h = hist[sl]
    np.multiply(h, f32(c["prior_csc_history"]), out=out[3])
    out[3] += hist_cp[sl] * f32(cfg.escalation.prior_plan_extra)
    np.multiply(np.take(hist_n, cf) > h, f32(c["sibling_csc_history"]), out=out[4])
    np.take(age_tab[0], am, out=out[5])
    np.take(age_tab[1], am, out=out[6])
    return out


def _ground_truth(cfg, sink, projector, t0, lo, sl, cf, age, am, dob, elig, out_day,  # noqa: ANN001
                  fam_terms, ch_terms, log_he, log_h_need, lat, A, k_e, b_a, beta_l,
                  c_inc, inc_rates) -> None:
    """Compute and emit the ground truth of the children in the cohort at ``t0``.

    Family-level pieces (projection inputs, driver keys, absolute sums) are
    computed once per family and gathered; everything is computed for the
    whole age slice and the cohort is selected at the end.
    """
    pending = (out_day[sl] > t0) & ~elig
    cohort = (elig | pending) & (dob <= t0) & (age < 18)
    c = cfg.escalation.coef
    f32 = np.float32
    cu_f = f32(k_e * b_a) * lat.u
    cs_f = f32(k_e) * (f32(b_a) * lat.s + f32(c["housing_crisis"]) * lat.s_house
                       + f32(c["parental_mental_health"]) * lat.s_mh)
    cl_f = f32(k_e * beta_l) * lat.ell
    ci = c_inc.astype(f32)[cf]
    fut = np.take(projector.incident_future(inc_rates), cf, axis=1)
    p_true, p_rec = projector.oracles(log_he, am, cu_f[cf], cs_f[cf], cl_f[cf],
                                      lat.shock_rate[cf], k_e * beta_l, ci, fut)
    p_need = (p_true if not cfg.bias.label_group else projector.p_true(
        log_h_need, am, cu_f[cf], cs_f[cf], cl_f[cf], lat.shock_rate[cf], ci, fut))
    soon = pending & (out_day[sl] <= t0 + 365)
    p_true = np.where(soon, f32(1.0), p_true)
    p_need = np.where(soon, f32(1.0), p_need)
    p_rec = np.where(soon, f32(1.0), p_rec)
    # drivers: packed keys (see top_drivers); a child's three largest are among its
    # family's three largest family terms and its own child terms
    nf_terms = len(FAMILY_TERMS)
    keys = np.empty((3 + len(CHILD_TERMS), len(cf)), np.int16)
    keys[:3] = np.take(largest_keys(driver_keys(fam_terms, 0)), cf, axis=1)
    keys[3:] = driver_keys(ch_terms, nf_terms)
    local = top_keys(keys)
    drivers = TERM_ROWS[local].astype(np.int8)
    school_neg = ch_terms[CHILD_TERMS.index("school_absence")] < 0
    drivers[(drivers == SCHOOL) & school_neg[None, :]] = ATTENDANCE_GOOD
    fam_abs = np.abs(fam_terms)
    total = fam_abs.sum(axis=0)[cf] + np.abs(ch_terms).sum(axis=0)
    unobs = fam_abs[FAMILY_TERMS.index("latent_unrecorded")][cf] / np.maximum(total, f32(1e-9))
    idx = np.flatnonzero(cohort)
    f = cf[idx]
    sink(t0, {
        "child": (lo + idx).astype(np.int64), "family": f.astype(np.int64),
        "adversity": (A + lat.ell)[f].astype(np.float32), "p_true": p_true[idx],
        "p_need": p_need[idx], "p_recorded": p_rec[idx], "driver_1": drivers[0][idx],
        "driver_2": drivers[1][idx],
        "driver_3": drivers[2][idx], "unobserved_share": unobs[idx].astype(np.float32),
    })
