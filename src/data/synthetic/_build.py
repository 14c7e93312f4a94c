"""Orchestration: config -> population -> simulation -> schema-exact tables + ground truth."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from earlywarning.data.synthetic._adversity import DRIVER_NAMES
from earlywarning.data.synthetic._agency import agency_tables, children_at_home
from earlywarning.data.synthetic._config import SyntheticConfig
from earlywarning.data.synthetic._csc import SOURCES, csc_tables, recent
from earlywarning.data.synthetic._events import CHILD_KIND, FAM_KIND
from earlywarning.data.synthetic._frames import Agencies, dates, labels
from earlywarning.data.synthetic._people import (
    Ids,
    draw_uasc,
    household_tables,
    make_ids,
    people_tables,
    take,
)
from earlywarning.data.synthetic._population import ETH_GROUPS, build_population
from earlywarning.data.synthetic._simulate import group_mask, simulate
from earlywarning.data.synthetic._timeline import DAYS_PER_YEAR, NEVER, Timeline
from earlywarning.data.synthetic._write import keep_freed_memory_small, limit_malloc_arenas
from threadpoolctl import threadpool_limits

__all__ = ["Built", "Stage", "build"]

Stage = Callable[[str, float, float], None]
"""Progress callback: ``stage(name, done, total)``."""


@dataclass
class Built:
    """Tables, ground truth and what the generator measured about itself."""

    tables: dict[str, pd.DataFrame]
    ground_truth: dict[str, pd.DataFrame]
    calibration: dict
    timings: dict[str, float] = field(default_factory=dict)
    wait_ground_truth: Callable[[], None] = lambda: None
    """Blocks until the simulation's last ground-truth months reached ``gt_sink``."""
    stop_ground_truth: Callable[[], None] = lambda: None
    """For a failing caller: drops the ground-truth months not yet written (a no-op after
    ``wait_ground_truth``)."""


LAGS = {"households": 1, "people": 2, "social care": 3}
"""Fork of :class:`Agencies` (its recording-lag stream) each table builder observes through
(the agency tables fork their own, ``_agency.SECTIONS``)."""


def _stream(seed: int, k: int) -> np.random.Generator:
    """Return an independent random stream per stage, so stages do not disturb each other."""
    return np.random.default_rng([seed, k])


def _uasc_referrals(tl: Timeline, uasc, nc: int, rng: np.random.Generator) -> dict:  # noqa: ANN001
    n = len(uasc.dob)
    arrival = uasc.arrival
    care_start = arrival + rng.integers(0, 4, n)
    eighteen = uasc.dob + int(18 * DAYS_PER_YEAR)
    care_end = np.maximum(eighteen, care_start + 1)
    never = np.full(n, NEVER)
    f = np.zeros(n, bool)
    t = np.ones(n, bool)
    return {
        "child": nc + np.arange(n), "day": arrival, "age": (arrival - uasc.dob) / DAYS_PER_YEAR,
        "eta": np.zeros(n, np.float32), "dom": np.zeros((n, 5), np.float32),
        "terms": np.zeros((n, len(DRIVER_NAMES) - 1), np.float32),
        "esc": t, "direct": t, "nfa": f, "s47": f, "s47_day": never, "s47_end": never,
        "icpc": f, "icpc_day": never, "cp": f, "cp_start": never, "cp_end": never, "care": t,
        "care_start": care_start, "care_end": care_end, "assess": t,
        "assess_start": arrival + 1, "assess_auth": arrival + 1 + rng.integers(10, 40, n),
        "close": care_end, "close_reason": np.full(n, 7, np.int8), "step_down": f,
        "out_day": care_start, "state_end": care_end, "uasc": t,
    }


def _family_groups(cfg: SyntheticConfig, pop) -> dict[str, np.ndarray]:  # noqa: ANN001
    sels = [g.group for g in cfg.bias.coverage_gaps]
    return {s.model_dump_json(): group_mask(pop, s, ETH_GROUPS) for s in sels}


def build(cfg: SyntheticConfig, gt_sink=None, stage: Stage | None = None,  # noqa: ANN001
          emit=None) -> Built:  # noqa: ANN001
    """Generate every clean table of the synthetic LA (no defects).

    Parameters
    ----------
    cfg : SyntheticConfig
    gt_sink : callable, optional
        Receives ground truth month by month (see ``_simulate.simulate``),
        possibly until ``Built.wait_ground_truth()`` returns; when omitted it is
        returned in memory.
    stage : callable, optional
        Progress callback ``stage(name, done, total)``.
    emit : callable, optional
        ``emit(name, df) -> df`` receives the largest partner tables as soon as
        they are built (to write and free them) and returns what to keep.

    Returns
    -------
    Built
    """
    def tick(name: str, done: float = 1, total: float = 1) -> None:
        if stage is not None:
            stage(name, done, total)

    # first: before any worker thread (here, or of generate_la, which starts none before
    # calling this) allocates
    limit_malloc_arenas(cfg.children)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    tl = Timeline.from_config(cfg)
    pop = build_population(cfg, tl, _stream(cfg.seed, 1))
    uasc = draw_uasc(cfg, tl, _stream(cfg.seed, 2))
    idx = make_ids(pop, uasc, _stream(cfg.seed, 3))
    timings["population"] = time.perf_counter() - t
    tick("population")
    t = time.perf_counter()
    ag = Agencies(cfg, tl, _family_groups(cfg, pop), pop.n_families, _stream(cfg.seed, 5))
    rng = _stream(cfg.seed, 6)
    nc = pop.n_children
    sen = np.where(rng.random(nc) < np.where(pop.ch_disability > 0, 0.3, 0.015), 2,
                   np.where(rng.random(nc) < np.where(pop.ch_disability > 0, 0.5, 0.12), 1, 0))
    # people, households and relationships need no simulation: built on a second thread
    # while it runs (each builder draws its recording lags from its own fork of ``ag``)
    with ThreadPoolExecutor(max_workers=1) as early:
        households = early.submit(household_tables, cfg, tl, pop, uasc, idx, sen,
                                  ag.fork(LAGS["households"]))
        sink = gt_sink(idx, pop) if gt_sink is not None else None
        keep_freed_memory_small("simulate")
        # its matrix products are small: idle BLAS threads would spin on the second core
        with threadpool_limits(limits=1, user_api="blas"):
            sim = simulate(cfg, pop, tl, _stream(cfg.seed, 4), gt_sink=sink,
                           progress=lambda d, n: tick("simulate", d, n))
        timings["simulate"] = time.perf_counter() - t
        try:
            households = households.result()
        except BaseException:
            sim.stop_ground_truth()
            raise
    keep_freed_memory_small("tables")
    t = time.perf_counter()
    try:
        tables = _tables(cfg, tl, pop, uasc, idx, sim, ag, sen, rng, households, emit, tick)
        ground_truth = _ground_truth_frames(cfg, pop, idx, sim)
    except BaseException:
        sim.stop_ground_truth()  # no ground-truth month is written after the error leaves
        raise
    timings["tables"] = time.perf_counter() - t
    return Built(tables=tables, ground_truth=ground_truth, calibration=sim.calibration,
                 timings=timings, wait_ground_truth=sim.wait_ground_truth,
                 stop_ground_truth=sim.stop_ground_truth)


def _tables(cfg: SyntheticConfig, tl: Timeline, pop, uasc, idx: Ids, sim, ag: Agencies,  # noqa: ANN001
            sen: np.ndarray, rng: np.random.Generator, households: dict, emit, tick,  # noqa: ANN001
            ) -> dict[str, pd.DataFrame]:
    """Build the tables that need the simulation (and the household ones, already built).

    On 2 cores one thread of table building leaves much of the other core idle: the
    school tables (the largest) are built on a second thread while the other agency
    tables, then the people and CSC ones, are built here; the source coverage table by
    whichever thread is free first, after the people or school tables (each builder
    draws from its own streams, so the tables are the same in any order). Measured at
    60,000 children on a cold host: 2.6-3.0 s instead of 4.2-4.5 s, when the people
    tables were built beside the school ones and the agency tables waited for both; at
    1M 52 s instead of 58 s. Building the CSC tables beside the people ones as well
    saved 9 s more at 1M but raised the peak to 7.8 GB, too near the 8 GB bound.
    """
    later: dict[str, dict[str, pd.DataFrame]] = {}

    def meanwhile(da_children: dict, share: Callable[[], None]) -> None:
        later["people"] = people_tables(cfg, tl, pop, uasc, idx, sim.moves, sen,
                                        ag.fork(LAGS["people"]), rng, households)
        tick("people")
        share()  # the source coverage table, unless the other thread is free first
        later["csc"] = _social_care(cfg, tl, pop, uasc, idx, sim, ag.fork(LAGS["social care"]),
                                    da_children)
        tick("social care")

    with ThreadPoolExecutor(max_workers=1) as side:
        agency, _ = agency_tables(cfg, tl, pop, sim, idx, ag, sen, emit=emit, side=side,
                                  meanwhile=meanwhile)
    tick("agencies")
    return {**later["people"], **agency, **later["csc"]}


def _social_care(cfg: SyntheticConfig, tl: Timeline, pop, uasc, idx: Ids, sim,  # noqa: ANN001
                 ag: Agencies, da_children: dict) -> dict[str, pd.DataFrame]:
    """Build the CSC tables: referrals (UASC arrivals added), contacts, Early Help, sources."""
    nc = pop.n_children
    rng = _stream(cfg.seed, 8)
    ref = dict(sim.referrals)
    ref["uasc"] = np.zeros(len(ref["day"]), bool)
    ur = _uasc_referrals(tl, uasc, nc, rng)
    ref = {k: np.concatenate([ref[k], ur[k]]) for k in ur}
    fam_all = np.concatenate([pop.ch_family, pop.n_families + np.arange(len(uasc.dob))])
    fe, ce = sim.fam_events, sim.child_events
    q_fam, q_day = fam_all[ref["child"]], ref["day"]
    ce_fam = pop.ch_family[ce["child"]]

    def ev(fams: np.ndarray, days: np.ndarray) -> np.ndarray:
        return recent(fams, days, q_fam, q_day, 60)

    police = np.isin(fe["kind"], [FAM_KIND["police_da"], FAM_KIND["police_welfare"],
                                  FAM_KIND["police_other"]])
    health_f = np.isin(fe["kind"], [FAM_KIND["adult_mental_health"], FAM_KIND["gp_concern"]])
    health_c = np.isin(ce["kind"], [CHILD_KIND["a_and_e"], CHILD_KIND["hv_concern"]])
    housing = np.isin(fe["kind"], [FAM_KIND["housing"], FAM_KIND["temporary_accommodation"]])
    school = ce["kind"] == CHILD_KIND["suspension"]
    evidence = {
        "police": ev(fe["fam"][police], fe["day"][police]),
        "health": ev(fe["fam"][health_f], fe["day"][health_f]) | ev(ce_fam[health_c],
                                                                    ce["day"][health_c]),
        "housing": ev(fe["fam"][housing], fe["day"][housing]),
        "school": ev(ce_fam[school], ce["day"][school]),
        "early_help": ev(sim.early_help["fam"], sim.early_help["start"]),
    }
    co = sim.contact_only
    base = np.array([s[2] for s in SOURCES])
    da_take = rng.random(len(da_children["child"])) < cfg.events.contacts_per_da_child_present
    extra = {
        "child": np.concatenate([co["child"], da_children["child"][da_take]]),
        "day": np.concatenate([co["day"], da_children["day"][da_take]
                               + rng.integers(1, 4, int(da_take.sum()))]),
        "source": np.concatenate([rng.choice(len(base), len(co["child"]), p=base / base.sum()),
                                  np.zeros(int(da_take.sum()), np.int64)]),
    }
    eh = sim.early_help
    row, kid = children_at_home(pop, eh["fam"], eh["start"], 1.0, rng)
    eh_full = dict(eh)
    eh_full["kids"] = {"episode": row, "child": kid}
    missing = ce["kind"] == CHILD_KIND["missing"]
    person = pd.concat([idx.child, idx.uasc], ignore_index=True)
    return csc_tables(
        tl, ref, person, fam_all,
        np.concatenate([pop.ch_disability > 0, np.zeros(len(uasc.dob), bool)]),
        np.concatenate([pop.ch_dob, uasc.dob]), evidence, extra,
        {"child": ce["child"][missing], "day": ce["day"][missing]}, eh_full,
        ag, rng, cfg.children,
    )


def gt_columns(idx: Ids, cols: dict[str, np.ndarray], month_day: np.ndarray) -> dict:
    """Ground-truth columns in contract order from the simulation's arrays."""
    return {
        "person_id": take(idx.child_pa, cols["child"]),
        "month": dates(month_day),
        "adversity": cols["adversity"], "p_true": cols["p_true"],
        "driver_1": labels(DRIVER_NAMES, cols["driver_1"]),
        "driver_2": labels(DRIVER_NAMES, cols["driver_2"]),
        "driver_3": labels(DRIVER_NAMES, cols["driver_3"]),
        "unobserved_share": cols["unobserved_share"],
        "p_need": cols["p_need"], "p_recorded": cols["p_recorded"],
    }


def gt_arrow(idx: Ids, cols: dict[str, np.ndarray], day: int) -> dict:
    """Ground-truth columns as Arrow arrays (drivers dictionary-encoded) for streaming."""
    import pyarrow as pa

    names = pa.array(list(DRIVER_NAMES), type=pa.string())
    n = len(cols["child"])

    def driver(k: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(cols[k].astype(np.int32)), names)

    return {
        "person_id": idx.child_pa.take(pa.array(cols["child"])),
        "month": pa.array(np.full(n, day, dtype=np.int32), type=pa.int32()).cast(pa.date32()),
        "adversity": pa.array(cols["adversity"]), "p_true": pa.array(cols["p_true"]),
        "driver_1": driver("driver_1"), "driver_2": driver("driver_2"),
        "driver_3": driver("driver_3"),
        "unobserved_share": pa.array(cols["unobserved_share"]), "p_need": pa.array(cols["p_need"]),
        "p_recorded": pa.array(cols["p_recorded"]),
    }


def _ground_truth_frames(cfg: SyntheticConfig, pop, idx: Ids, sim) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    out: dict[str, pd.DataFrame] = {}
    if sim.ground_truth is not None:
        g = sim.ground_truth
        out["child_month"] = pd.DataFrame(gt_columns(idx, g, g["month"]))
    dec = pop.fam_decile0()
    gap_any = np.zeros(pop.n_families, bool)
    for gap in cfg.bias.coverage_gaps:
        gap_any |= group_mask(pop, gap.group, ETH_GROUPS)
    out["family"] = pd.DataFrame({
        "family_id": idx.family,
        "baseline_adversity": pop.fam_baseline,
        "ethnicity_group": np.array(ETH_GROUPS, dtype=object)[pop.fam_eth],
        "imd_decile": dec.astype(np.int64),
        "imd_quintile": ((dec.astype(np.int64) + 1) // 2),
        "surveillance_group": group_mask(pop, cfg.bias.surveillance_group, ETH_GROUPS),
        "label_group": group_mask(pop, cfg.bias.label_group, ETH_GROUPS),
        "coverage_gap_group": gap_any,
    })
    return out
