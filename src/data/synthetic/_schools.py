"""School, youth justice, young carer and early-years tables.

- Enrolment: reception at the September after a child turns 4, primary to
  July of year 6, secondary to July of year 11; the school follows the
  family's first neighbourhood (one primary per postcode sector half, one
  secondary per three sectors). SEN status N/K/E (EHC plan) is more likely for
  disabled children; a few disabled children attend special schools.
- Attendance: termly rows from the simulation (known after the term ends).
- Exclusions: suspensions (mostly 1-3 days) and permanent exclusions.
- Youth justice outcomes, young-carer assessments (support lasts about a year).
- Early years: funded places for two-year-olds (taken up mostly in deprived
  areas) and universal places at three and four.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from earlywarning.data.synthetic._events import CHILD_KIND
from earlywarning.data.synthetic._frames import dates, ids
from earlywarning.data.synthetic._timeline import NEVER

__all__ = ["school_tables", "reception_year"]


def reception_year(dob: np.ndarray) -> np.ndarray:
    """Calendar year of the September a child starts reception (aged 4 on 31 August)."""
    d = np.asarray(dob, dtype=np.int64).astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (d.astype("datetime64[M]").astype(np.int64) % 12) + 1
    return year + 4 + (month >= 9)


def _day(year: np.ndarray, month: int, day: int) -> np.ndarray:
    base = (np.asarray(year, dtype=np.int64) - 1970).astype("datetime64[Y]")
    return (base.astype("datetime64[M]") + (month - 1)).astype("datetime64[D]").astype(
        np.int64) + day - 1


def _end(day: np.ndarray, end: int) -> np.ndarray:
    return np.where(day > end, NEVER, day)


ATTENDANCE_PART_ROWS = 2_000_000
"""Attendance rows built (and written) at a time: the largest table, whole terms per part."""


def _term_parts(ends: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Split rows sorted by term end into ranges of about ``size`` rows, never inside a term."""
    n = len(ends)
    starts = [0]
    while starts[-1] + size < n:
        at = ends[starts[-1] + size]
        cut = int(np.searchsorted(ends, at, side="left"))
        if cut <= starts[-1]:
            cut = int(np.searchsorted(ends, at, side="right"))
        if cut >= n:
            break
        starts.append(cut)
    return list(zip(starts, [*starts[1:], n], strict=True))


def _attendance(sim, pop, idx, ag, tl, Rows, finish, emit) -> pd.DataFrame:  # noqa: ANN001, N803
    """Termly attendance, built and emitted a few terms at a time (rows stay in date order)."""
    att = sim.attendance
    sim.attendance = None  # the largest simulation output: free it as soon as it is used
    if len(att["end"]) and np.any(np.diff(att["end"]) < 0):
        o = np.argsort(att["end"], kind="stable")
        att = {k: v[o] for k, v in att.items()}
    ranges = _term_parts(att["end"], ATTENDANCE_PART_ROWS)
    kept, next_id = [], 1
    for k, (lo, hi) in enumerate(ranges):
        ar = Rows()
        child = att["child"][lo:hi]
        ar.add(True, child, pop.ch_family[child], att["end"][lo:hi], start=att["start"][lo:hi],
               possible=att["possible"][lo:hi], missed=att["missed"][lo:hi],
               unauth=att["unauth"][lo:hi])
        a = ar.result()
        df = finish("ext_school_attendance", a, idx, ag, "school", tl, "AT", {
            "atte_term_start_date": lambda o, a=a: dates(a["start"][o]),
            "atte_term_end_date": lambda o, a=a: dates(a["day"][o]),
            "atte_sessions_possible": lambda o, a=a: a["possible"][o].astype(np.int64),
            "atte_sessions_missed": lambda o, a=a: a["missed"][o].astype(np.int64),
            "atte_sessions_unauthorised": lambda o, a=a: a["unauth"][o].astype(np.int64)},
            first_id=next_id)
        next_id += len(df)
        del a, ar
        kept.append(emit("ext_school_attendance", df, part=(k, k == len(ranges) - 1)))
        del df
    return pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]


def school_tables(cfg, tl, pop, sim, idx, ag, sen, rng, Rows, finish, emit) -> dict[str, pd.DataFrame]:  # noqa: ANN001, N803, E501
    """Build the school, youth justice, young carer and early-years tables.

    Returns ``ext_school_enrolment``, ``ext_school_attendance``,
    ``ext_school_exclusion``, ``ext_youth_justice``, ``ext_young_carer`` and
    ``ext_early_years``.
    """
    out: dict[str, pd.DataFrame] = {}
    nc = pop.n_children
    rec_y = reception_year(pop.ch_dob)
    sector = pop.lsoa_sector[pop.fam_lsoa0[pop.ch_family]].astype(np.int64)
    special = (pop.ch_disability > 0) & (rng.random(nc) < 0.15)
    phases = ("nursery", "primary", "secondary", "special", "ap")
    er = Rows(phase=phases, sen=("N", "K", "E"))
    for phase, y0, y1, urn in (
        (1, rec_y, rec_y + 7, 100_000 + 2 * sector + (rng.random(nc) < 0.5)),
        (2, rec_y + 7, rec_y + 12, 200_000 + sector // 3),
    ):
        s, e = _day(y0, 9, 1), _day(y1, 7, 22)
        ok = (s <= tl.end) & (e >= tl.period_start)
        ph = np.where(special, 3, phase)
        school = np.where(special, 300_000 + sector // 6, urn)
        c = np.flatnonzero(ok)
        er.add(True, c, pop.ch_family[c], s[c], phase=ph[c], urn=school[c], end=e[c],
               sen=sen[c])
    r = er.result()
    out["ext_school_enrolment"] = finish("ext_school_enrolment", r, idx, ag, "school", tl, "SE", {
        "scho_school_id": lambda o: ids("URN", r["urn"][o], 6),
        "scho_phase": er.label(r, "phase"),
        "scho_start_date": lambda o: dates(r["day"][o]),
        "scho_end_date": lambda o: dates(_end(r["end"][o], tl.end)),
        "scho_sen_status": er.label(r, "sen")}, spell_end="end")

    out["ext_school_attendance"] = _attendance(sim, pop, idx, ag, tl, Rows, finish, emit)

    ce = sim.child_events
    child, day, kind = ce["child"], ce["day"], ce["kind"]
    ex = np.flatnonzero((kind == CHILD_KIND["suspension"])
                        | (kind == CHILD_KIND["permanent_exclusion"]))
    perm = kind[ex] == CHILD_KIND["permanent_exclusion"]
    days = np.where(perm, np.nan, np.choose(rng.choice(4, len(ex), p=[0.1, 0.5, 0.25, 0.15]),
                                            [0.5, 1.0, 2.0, 4.0]))
    xr = Rows(typ=("suspension", "permanent"))
    xr.add(True, child[ex], pop.ch_family[child[ex]], day[ex], typ=perm.astype(np.int8),
           days=days)
    x = xr.result()
    out["ext_school_exclusion"] = emit("ext_school_exclusion", finish(
        "ext_school_exclusion", x, idx, ag, "school", tl, "EX", {
        "excl_exclusion_date": lambda o: dates(x["day"][o]), "excl_type": xr.label(x, "typ"),
        "excl_days": x["days"]}))

    yj = np.flatnonzero(kind == CHILD_KIND["youth_justice"])
    yr = Rows(outcome=("triage", "youth_caution", "youth_conditional_caution",
                       "referral_order", "youth_rehabilitation_order", "custody"))
    yr.add(True, child[yj], pop.ch_family[child[yj]], day[yj],
           outcome=rng.choice(6, len(yj), p=[0.3, 0.2, 0.15, 0.2, 0.12, 0.03]))
    y = yr.result()
    out["ext_youth_justice"] = finish("ext_youth_justice", y, idx, ag, "youth_justice", tl, "YJ", {
        "yjus_event_date": lambda o: dates(y["day"][o]), "yjus_outcome": yr.label(y, "outcome")})

    yc = np.flatnonzero(kind == CHILD_KIND["young_carer"])
    cr = Rows()
    cr.add(True, child[yc], pop.ch_family[child[yc]], day[yc],
           end=day[yc] + np.round(365 * np.exp(0.5 * rng.standard_normal(len(yc)))).astype(int))
    c = cr.result()
    out["ext_young_carer"] = finish("ext_young_carer", c, idx, ag, "young_carers", tl, "YC", {
        "ycar_assessment_date": lambda o: dates(c["day"][o]),
        "ycar_support_end_date": lambda o: dates(_end(c["end"][o], tl.end))}, spell_end="end")

    dec = pop.lsoa_decile[pop.fam_lsoa0[pop.ch_family]]
    two = rng.random(nc) < np.where(dec <= 4, 0.45, 0.08)
    universal = rng.random(nc) < 0.9
    eyr = Rows(funded=("N", "Y"))
    for take_up, s, e, funded in (
        (two, pop.ch_dob + 790, pop.ch_dob + 1095, 1),
        (universal, pop.ch_dob + 1155, _day(rec_y, 7, 22), 0),
    ):
        ok = take_up & (s <= tl.end) & (e >= tl.period_start) & (e > s)
        c_ = np.flatnonzero(ok)
        eyr.add(True, c_, pop.ch_family[c_], s[c_], end=e[c_],
                setting=400_000 + sector[c_] // 2, funded=funded)
    e_ = eyr.result()
    out["ext_early_years"] = emit("ext_early_years", finish(
        "ext_early_years", e_, idx, ag, "early_years", tl, "EY", {
        "eyrs_setting_id": lambda o: ids("EYS", e_["setting"][o], 6),
        "eyrs_start_date": lambda o: dates(e_["day"][o]),
        "eyrs_end_date": lambda o: dates(_end(e_["end"][o], tl.end)),
        "eyrs_two_year_old_funded": eyr.label(e_, "funded")}, spell_end="end"))
    return out
