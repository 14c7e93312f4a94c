"""Partner-agency tables (``ext_*``) from the simulated events, with coverage and lags.

Family events are given to the people they involve at the time: a
domestic-abuse incident has the main carer as victim, the partner or second
carer at home as suspect (none when the abuser no longer lives there) and
each child at home present with probability 0.7, all sharing one incident id;
housing events belong to the main carer; adult social care to a carer or the
grandparent; adult mental-health and drug & alcohol contacts to an adult at
home. Every row then passes through its agency's coverage and lag
(``_frames.Agencies``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future

import numpy as np
import pandas as pd
from earlywarning.data.schema import HEALTH_SERVICE_AGENCY, get_table
from earlywarning.data.synthetic._columns import lexsort
from earlywarning.data.synthetic._events import CHILD_KIND, FAM_KIND
from earlywarning.data.synthetic._frames import Agencies, dates, frame, ids, labels
from earlywarning.data.synthetic._people import Ids, group_pairs, take
from earlywarning.data.synthetic._population import ROLE_GRANDPARENT, Population
from earlywarning.data.synthetic._schools import school_tables
from earlywarning.data.synthetic._timeline import DAYS_PER_YEAR, NEVER, Timeline

__all__ = ["agency_tables", "children_at_home"]

EIGHTEEN = int(18 * DAYS_PER_YEAR)


def children_at_home(pop: Population, fam: np.ndarray, day: np.ndarray,
                     p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(event row, child) pairs for children aged 0-17 in the family on the day, kept w.p. ``p``."""
    row, child = group_pairs(fam, pop.ch_family, pop.n_families)
    dob = pop.ch_dob[child]
    d = day[row]
    ok = (dob <= d) & (d < dob + EIGHTEEN) & (rng.random(len(child)) < p)
    return row[ok], child[ok]


def _adult_at_home(pop: Population, fam: np.ndarray, day: np.ndarray) -> dict[str, np.ndarray]:
    c2 = pop.fam_carer2[fam]
    c2_home = (c2 >= 0) & (day < pop.fam_sep[fam])
    pa_ = pop.fam_partner[fam]
    p_home = (pa_ >= 0) & (pop.fam_partner_start[fam] <= day) & (day < pop.fam_partner_end[fam])
    other = np.where(p_home, pa_, np.where(c2_home, c2, -1))
    return {"carer1": pop.fam_carer1[fam], "other": other,
            "violent": p_home & pop.fam_partner_violent[fam]}


def _end(day: np.ndarray, end: int) -> np.ndarray:
    return np.where(day > end, NEVER, day)


class _Rows:
    """Accumulates (person kind, person index, family, day, columns) for one table.

    String columns are stored as small-integer codes into a tuple of labels
    (``codes={"column": labels}``) and turned into strings once, at the end.
    """

    def __init__(self, **codes: tuple[str, ...]) -> None:
        self.parts: list[dict] = []
        self.codes = codes

    def add(self, is_child: np.ndarray | bool, person: np.ndarray, fam: np.ndarray,
            day: np.ndarray, **cols: np.ndarray | int) -> None:
        """Append rows; code columns may be an int (same code for every row)."""
        n = len(person)
        part = {"is_child": np.broadcast_to(is_child, (n,)).astype(bool),
                "person": person.astype(np.int64), "fam": fam.astype(np.int64),
                "day": day.astype(np.int64)}
        for k, v in cols.items():
            part[k] = np.broadcast_to(np.asarray(v), (n,)) if np.ndim(v) == 0 else v
        self.parts.append(part)

    def result(self) -> dict[str, np.ndarray]:
        """Concatenated columns."""
        keys = self.parts[0].keys()
        return {k: np.concatenate([p[k] for p in self.parts]) for k in keys}

    def label(self, rows: dict, column: str):  # noqa: ANN201
        """Return a column function for :func:`_finish` that turns codes into strings."""
        names = self.codes[column]
        return lambda o: labels(names, rows[column][o])


def _finish(table: str, rows: dict, idx: Ids, ag: Agencies, agency: str | np.ndarray,
            tl: Timeline, id_prefix: str, cols: dict, spell_end: str | None = None,
            agency_names: tuple[str, ...] | None = None, first_id: int = 1) -> pd.DataFrame:
    """Apply period, coverage and lag; sort; name ids; build the frame.

    Point events are kept when dated inside the period; spells (``spell_end``
    names their end column) when they start by the end date and are open at the
    period start; the lag of a spell that began before the period runs from the
    period start (the day the extract first holds it). ``agency`` is one agency
    code, or per-row codes into ``agency_names``. Row ids count from ``first_id``.
    """
    day = rows["day"]
    if spell_end is None:
        lag_day = day
        in_p = (day <= tl.end) & (day >= tl.period_start)
    else:
        lag_day = np.maximum(day, tl.period_start)
        in_p = (day <= tl.end) & (rows[spell_end] >= tl.period_start)
    n = len(day)
    keep = np.zeros(n, bool)
    rec = np.empty(n, "datetime64[ns]")
    if agency_names is None:
        groups = [(str(agency), np.flatnonzero(in_p))]
    else:
        groups = [(name, np.flatnonzero(in_p & (agency == k)))
                  for k, name in enumerate(agency_names)]
    for name, m in groups:
        k, r = ag.observe(name, rows["fam"][m], lag_day[m])
        keep[m[k]] = True
        rec[m[k]] = r
    sel = np.flatnonzero(keep)
    o = sel[lexsort((rows["person"][sel], rows["is_child"][sel], day[sel]))]
    glob = rows["person"][o] + np.where(rows["is_child"][o], 0, idx.n_children)
    t = {k: (v(o) if callable(v) else v[o]) for k, v in cols.items()}
    p = get_table(table).prefix
    out = {f"{p}person_id": take(idx.person_pa, glob), f"{p}recorded_at": rec[o], **t}
    out[get_table(table).column_names[0]] = ids(id_prefix,
                                                np.arange(first_id, first_id + len(o)), 9)
    return frame(table, out)


POLICE_TYPES = ("domestic_abuse", "concern_for_welfare", "asb", "arrest", "violent_crime",
                "other_crime", "missing_person")
POLICE_ROLES = ("victim", "suspect", "witness", "child_present", "subject")
HOUSING_TYPES = ("rent_arrears", "eviction_notice", "homelessness_application", "asb_case",
                 "temporary_accommodation")
ASC_SERVICES = ("assessment", "home_care", "day_care", "carer_support", "reablement",
                "residential", "safeguarding_adults")
HEALTH_SERVICES = tuple(HEALTH_SERVICE_AGENCY)
HEALTH_TYPES = ("referral", "contact", "concern", "attendance", "discharge")


def _choose(rng: np.random.Generator, p: list[float], n: int) -> np.ndarray:
    cum = np.cumsum(p) / np.sum(p)
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(p) - 1)


SECTIONS = ("police", "housing", "asc", "health", "school")
"""The builders of :func:`agency_tables`, each with its own random streams (``_streams``)."""


def _streams(cfg, ag: Agencies, section: str) -> tuple[Agencies, np.random.Generator]:  # noqa: ANN001
    """Return a section's recording lags and event draws (independent of other sections').

    Lag forks 11-15 (``_build.LAGS`` holds the others' keys, from 1), event streams
    ``[seed, 7, 1..5]``.
    """
    k = SECTIONS.index(section) + 1
    return ag.fork(10 + k), np.random.default_rng([cfg.seed, 7, k])


class _FirstFree:
    """A job run once, by whichever thread asks first (:meth:`take`); :meth:`result` waits."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self._fn, self._lock, self._taken = fn, threading.Lock(), False
        self._done: Future = Future()

    def take(self) -> None:
        """Run the job here, unless another thread already took it."""
        with self._lock:
            if self._taken:
                return
            self._taken = True
        try:
            self._done.set_result(self._fn())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the result
            self._done.set_exception(exc)

    def result(self) -> object:
        """Return the job's result: run here if no thread took it, else waited for."""
        self.take()
        return self._done.result()


def agency_tables(cfg, tl: Timeline, pop: Population, sim, idx: Ids, ag: Agencies,  # noqa: ANN001
                  sen: np.ndarray, emit=None, side: Executor | None = None,  # noqa: ANN001
                  meanwhile: Callable[[dict, Callable[[], None]], None] | None = None,
                  ) -> tuple[dict, dict]:
    """Build every ``ext_*`` event table and ``ext_source_coverage``.

    ``emit(name, df, part=None)``, when given, receives the largest tables as
    soon as they are built (to write them and free memory) and returns what to
    keep; the school attendance table comes in parts (``part=(k, last)``).
    With ``side`` the school tables are built on that executor while the rest
    are built here; every section draws from its own streams, so the tables are
    the same either way.

    ``meanwhile(police_da_children, share)``, when given, is called here once the
    police, housing, ASC and health tables are built, before waiting for the
    school tables: the caller's own tables then overlap them. ``share()`` builds
    the source coverage table here unless the second thread, done with the school
    tables, has already started it; the caller calls it where this thread could
    take the work (at 60,000 children the school tables take longer than all the
    others, at 1M the people and CSC tables built here take longer).

    Returns
    -------
    tables : dict of str to pandas.DataFrame
    police_da_children : dict
        ``child`` and ``day`` of children present at domestic-abuse incidents
        (some become contacts to children's social care).
    """
    emit_or_keep = emit or (lambda name, df, part=None: df)
    lags, draws = _streams(cfg, ag, "school")
    school_args = (cfg, tl, pop, sim, idx, lags, sen, draws, _Rows, _finish, emit_or_keep)
    coverage = _FirstFree(lambda: emit_or_keep("ext_source_coverage",
                                                _coverage_table(pop, idx, ag)))

    def school_then_coverage() -> dict[str, pd.DataFrame]:
        tables = school_tables(*school_args)
        coverage.take()
        return tables

    school = side.submit(school_then_coverage) if side is not None else None
    out: dict[str, pd.DataFrame] = {}
    out["ext_police_event"], da_children = _police(tl, pop, sim, idx, *_streams(cfg, ag, "police"))
    out["ext_housing_event"] = _housing(tl, pop, sim, idx, *_streams(cfg, ag, "housing"))
    out["ext_asc_involvement"] = _asc(tl, pop, sim, idx, *_streams(cfg, ag, "asc"))
    out["ext_health_event"] = _health(tl, pop, sim.fam_events, sim.child_events, idx,
                                      *_streams(cfg, ag, "health"))
    if meanwhile is not None:
        meanwhile(da_children, coverage.take)
    out.update(school.result() if school is not None else school_tables(*school_args))
    out["ext_source_coverage"] = coverage.result()
    return out, da_children


def _coverage_table(pop: Population, idx: Ids, ag: Agencies) -> pd.DataFrame:
    """``ext_source_coverage``: a row per linked family and source (from the link date)."""
    cov = ag.coverage_rows(pop.fam_start)  # in order of family, then source
    return frame("ext_source_coverage", {
        "cove_coverage_id": ids("CV", np.arange(1, len(cov["fam"]) + 1), 9),
        "cove_family_id": take(idx.family_pa, cov["fam"]),
        "cove_source": labels(cov["names"], cov["src"]),
        "cove_start_date": dates(cov["start"]),
    })


def _police(tl: Timeline, pop: Population, sim, idx: Ids, ag: Agencies,  # noqa: ANN001
            rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Police events (family incidents, missing children, youth arrests) and DA children."""
    fe, ce = sim.fam_events, sim.child_events
    fam, day, kind = fe["fam"], fe["day"], fe["kind"]
    T, R = POLICE_TYPES.index, POLICE_ROLES.index  # noqa: N806
    pol = _Rows(etype=POLICE_TYPES, role=POLICE_ROLES)
    da = np.flatnonzero(kind == FAM_KIND["police_da"])
    wf = np.flatnonzero(kind == FAM_KIND["police_welfare"])
    ot = np.flatnonzero(kind == FAM_KIND["police_other"])
    n_inc = len(da) + len(wf) + len(ot)
    inc_da, inc_wf = np.arange(len(da)), len(da) + np.arange(len(wf))
    inc_ot = len(da) + len(wf) + np.arange(len(ot))
    h = _adult_at_home(pop, fam[da], day[da])
    c1_female = pop.ad_sex[h["carer1"]]
    victim = np.where(c1_female | (h["other"] < 0), h["carer1"], h["other"])
    suspect = np.where(c1_female, h["other"], np.where(h["other"] >= 0, h["carer1"], -1))
    pol.add(False, victim, fam[da], day[da], inc=inc_da, etype=T("domestic_abuse"),
            role=R("victim"))
    s = suspect >= 0
    pol.add(False, suspect[s], fam[da][s], day[da][s], inc=inc_da[s], etype=T("domestic_abuse"),
            role=R("suspect"))
    r_, ch = children_at_home(pop, fam[da], day[da], 0.7, rng)
    pol.add(True, ch, fam[da][r_], day[da][r_], inc=inc_da[r_], etype=T("domestic_abuse"),
            role=R("child_present"))
    da_children = {"child": ch, "day": day[da][r_]}
    pol.add(False, pop.fam_carer1[fam[wf]], fam[wf], day[wf], inc=inc_wf,
            etype=T("concern_for_welfare"), role=R("subject"))
    r_, ch = children_at_home(pop, fam[wf], day[wf], 0.5, rng)
    pol.add(True, ch, fam[wf][r_], day[wf][r_], inc=inc_wf[r_], etype=T("concern_for_welfare"),
            role=R("child_present"))
    h = _adult_at_home(pop, fam[ot], day[ot])
    who = np.where((h["other"] >= 0) & (rng.random(len(ot)) < 0.6), h["other"], h["carer1"])
    et = 2 + _choose(rng, [0.3, 0.25, 0.15, 0.3], len(ot))  # asb, arrest, violent, other
    half = rng.random(len(ot)) < 0.5
    role = np.select([et == T("asb"), et == T("arrest"), half, et == T("violent_crime")],
                     [R("subject"), R("suspect"), R("victim"), R("suspect")], R("witness"))
    pol.add(False, who, fam[ot], day[ot], inc=inc_ot, etype=et, role=role)
    cchild, cday, ckind = ce["child"], ce["day"], ce["kind"]
    mi = np.flatnonzero((ckind == CHILD_KIND["missing"]) & (rng.random(len(ckind)) < 0.9))
    yj = np.flatnonzero(ckind == CHILD_KIND["youth_justice"])
    extra = n_inc + np.arange(len(mi) + len(yj))
    pol.add(True, cchild[mi], pop.ch_family[cchild[mi]], cday[mi], inc=extra[: len(mi)],
            etype=T("missing_person"), role=R("subject"))
    arrest_day = cday[yj] - rng.integers(7, 60, len(yj))
    pol.add(True, cchild[yj], pop.ch_family[cchild[yj]], arrest_day, inc=extra[len(mi):],
            etype=T("arrest"), role=R("suspect"))
    p = pol.result()
    table = _finish("ext_police_event", p, idx, ag, "police", tl, "PE", {
        "poli_incident_id": lambda o: ids("PI", p["inc"][o] + 1, 9),
        "poli_event_date": lambda o: dates(p["day"][o]),
        "poli_event_type": pol.label(p, "etype"), "poli_role": pol.label(p, "role")})
    return table, da_children


def _housing(tl: Timeline, pop: Population, sim, idx: Ids, ag: Agencies,  # noqa: ANN001
             rng: np.random.Generator) -> pd.DataFrame:
    """Housing events and temporary-accommodation spells of main carers."""
    fe = sim.fam_events
    fam, day, kind = fe["fam"], fe["day"], fe["kind"]
    hs = np.flatnonzero(kind == FAM_KIND["housing"])
    ta = np.flatnonzero(kind == FAM_KIND["temporary_accommodation"])
    hr = _Rows(etype=HOUSING_TYPES)
    hr.add(False, pop.fam_carer1[fam[hs]], fam[hs], day[hs], end=day[hs],
           etype=_choose(rng, [0.45, 0.2, 0.25, 0.1], len(hs)), is_ta=False)
    hr.add(False, pop.fam_carer1[fam[ta]], fam[ta], day[ta], end=fe["end"][ta],
           etype=HOUSING_TYPES.index("temporary_accommodation"), is_ta=True)
    h_ = hr.result()
    return _finish("ext_housing_event", h_, idx, ag, "housing", tl, "HE", {
        "hous_event_date": lambda o: dates(h_["day"][o]), "hous_event_type": hr.label(h_, "etype"),
        "hous_end_date": lambda o: dates(np.where(h_["is_ta"][o], _end(h_["end"][o], tl.end),
                                                  NEVER))},
        spell_end="end")


def _asc(tl: Timeline, pop: Population, sim, idx: Ids, ag: Agencies,  # noqa: ANN001
         rng: np.random.Generator) -> pd.DataFrame:
    """Adult social care involvements of carers and grandparents."""
    fe = sim.fam_events
    fam, day, kind = fe["fam"], fe["day"], fe["kind"]
    asc = np.flatnonzero(kind == FAM_KIND["asc"])
    h = _adult_at_home(pop, fam[asc], day[asc])
    gp_idx = _grandparent_of(pop)[fam[asc]]
    u = rng.random(len(asc))
    who = np.where((u < 0.25) & (gp_idx >= 0), gp_idx,
                   np.where((u < 0.45) & (h["other"] >= 0), h["other"], h["carer1"]))
    ar = _Rows(svc=ASC_SERVICES)
    ar.add(False, who, fam[asc], day[asc],
           svc=_choose(rng, [0.35, 0.2, 0.1, 0.15, 0.1, 0.02, 0.08], len(asc)),
           end=fe["end"][asc])
    a_ = ar.result()
    return _finish("ext_asc_involvement", a_, idx, ag, "asc", tl, "AC", {
        "asci_service_type": ar.label(a_, "svc"), "asci_start_date": lambda o: dates(a_["day"][o]),
        "asci_end_date": lambda o: dates(_end(a_["end"][o], tl.end))}, spell_end="end")


def _grandparent_of(pop: Population) -> np.ndarray:
    out = np.full(pop.n_families, -1, np.int64)
    m = pop.ad_role == ROLE_GRANDPARENT
    out[pop.ad_family[m]] = np.flatnonzero(m)
    return out


def _health(tl, pop, fe, ce, idx, ag, rng) -> pd.DataFrame:  # noqa: ANN001
    fam, day, kind = fe["fam"], fe["day"], fe["kind"]
    S, E = HEALTH_SERVICES.index, HEALTH_TYPES.index  # noqa: N806
    hr = _Rows(svc=HEALTH_SERVICES, et=HEALTH_TYPES)
    for k in ("adult_mental_health", "drug_alcohol"):
        ev = np.flatnonzero(kind == FAM_KIND[k])
        h = _adult_at_home(pop, fam[ev], day[ev])
        who = np.where((h["other"] >= 0) & (rng.random(len(ev)) < 0.3), h["other"], h["carer1"])
        et = np.array([E("referral"), E("contact"), E("discharge")])[
            _choose(rng, [0.35, 0.5, 0.15], len(ev))]
        hr.add(False, who, fam[ev], day[ev], svc=S(k), et=et)
    gp = np.flatnonzero(kind == FAM_KIND["gp_concern"])
    r_, ch = children_at_home(pop, fam[gp], day[gp], 1.0, rng)
    first = np.unique(r_, return_index=True)[1]  # one child per concern, when one is at home
    r_, ch = r_[first], ch[first]
    child_pick = rng.random(len(r_)) < 0.5
    on_child = np.zeros(len(gp), bool)
    on_child[r_[child_pick]] = True
    g_c = gp[r_[child_pick]]
    hr.add(True, ch[child_pick], fam[g_c], day[g_c], svc=S("gp_concern"), et=E("concern"))
    g_a = gp[~on_child]
    hr.add(False, pop.fam_carer1[fam[g_a]], fam[g_a], day[g_a], svc=S("gp_concern"),
           et=E("concern"))
    cchild, cday, ckind = ce["child"], ce["day"], ce["kind"]
    for k, service, et in (("a_and_e", "a_and_e", "attendance"),
                           ("hv_concern", "health_visiting", "concern")):
        m = np.flatnonzero(ckind == CHILD_KIND[k])
        hr.add(True, cchild[m], pop.ch_family[cchild[m]], cday[m], svc=S(service), et=E(et))
    born = np.flatnonzero((pop.ch_dob >= tl.period_start - 900) & (pop.ch_dob <= tl.end))
    for offset in (12, 49, 365, 800):
        d = pop.ch_dob[born] + offset + rng.integers(-5, 6, len(born))
        ok = (d <= tl.end) & (rng.random(len(born)) < 0.9)
        hr.add(True, born[ok], pop.ch_family[born[ok]], d[ok], svc=S("health_visiting"),
               et=E("contact"))
    h_ = hr.result()
    agency_of = tuple(HEALTH_SERVICE_AGENCY[s] for s in HEALTH_SERVICES)
    return _finish("ext_health_event", h_, idx, ag, h_["svc"], tl, "HL", {
        "heal_service": hr.label(h_, "svc"), "heal_event_type": hr.label(h_, "et"),
        "heal_event_date": lambda o: dates(h_["day"][o])}, agency_names=agency_of)
