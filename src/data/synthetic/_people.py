"""People, household membership, relationships, addresses, disability, immigration.

Also draws the unaccompanied asylum-seeking children (UASC): about
``escalation.uasc_per_10k`` arrivals a year, mostly boys aged 16-17, with no
prior history, who come into care within days of arrival. They have their own
one-person family, a placement address and a ``UASC`` immigration status, and
are excluded from the ground truth (escalation models exclude them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from earlywarning.data.schema import DISABILITY_CODES
from earlywarning.data.synthetic._columns import lexsort
from earlywarning.data.synthetic._config import SyntheticConfig
from earlywarning.data.synthetic._frames import Agencies, dates, frame, ids, labels
from earlywarning.data.synthetic._population import (
    ROLE_CARER1,
    ROLE_CARER2,
    ROLE_GRANDPARENT,
    ROLE_PARTNER,
    Population,
)
from earlywarning.data.synthetic._timeline import DAYS_PER_YEAR, NEVER, Timeline

__all__ = ["Ids", "Uasc", "draw_uasc", "household_tables", "make_ids", "people_tables",
           "group_pairs", "ragged_pairs"]

NATIONALITIES = ("Afghanistan", "Sudan", "Eritrea", "Iran", "Vietnam", "Syria", "Albania",
                 "Iraq", "Ethiopia")
UASC_CODES = ("AOTH", "BAFR", "OOTH", "WOTH", "BOTH")
_REL = ("parent", "step_parent", "partner_of_parent", "grandparent", "sibling", "half_sibling")


@dataclass
class Uasc:
    """Unaccompanied asylum-seeking children arriving in the LA."""

    dob: np.ndarray
    arrival: np.ndarray
    male: np.ndarray
    eth: np.ndarray
    nationality: np.ndarray


@dataclass
class Ids:
    """Pseudonymous id strings for children, adults, UASC and families."""

    child: pd.Series
    adult: pd.Series
    uasc: pd.Series
    family: pd.Series
    uasc_family: pd.Series
    child_pa: pa.Array
    adult_pa: pa.Array
    family_pa: pa.Array
    person_pa: pa.Array
    n_children: int


def draw_uasc(cfg: SyntheticConfig, tl: Timeline, rng: np.random.Generator) -> Uasc:
    """Arrivals of unaccompanied asylum-seeking children over the simulation."""
    years = (tl.end - tl.sim_start) / DAYS_PER_YEAR
    n = int(rng.poisson(cfg.escalation.uasc_per_10k * cfg.children / 10_000 * years))
    arrival = np.sort(rng.integers(tl.sim_start, tl.end + 1, n))
    age = np.where(rng.random(n) < 0.8, rng.uniform(16, 17.9, n), rng.uniform(12, 16, n))
    return Uasc(
        dob=arrival - (age * DAYS_PER_YEAR).astype(np.int64), arrival=arrival,
        male=rng.random(n) < 0.9, eth=rng.integers(0, len(UASC_CODES), n),
        nationality=rng.integers(0, len(NATIONALITIES), n),
    )


def make_ids(pop: Population, uasc: Uasc, rng: np.random.Generator) -> Ids:
    """Random pseudonymous numbers for everyone (ids carry no order or meaning)."""
    nc, na, nu = pop.n_children, len(pop.ad_family), len(uasc.dob)
    nums = rng.permutation(nc + na + nu) + 1
    width = max(7, len(str(nc + na + nu)))
    every = ids("P", nums, width)
    fn = rng.permutation(pop.n_families + nu) + 1
    fam = ids("F", fn, max(7, len(str(len(fn)))))
    arr = pa.array(every, type=pa.string())
    farr = pa.array(fam, type=pa.string())
    return Ids(
        child=every.iloc[:nc].reset_index(drop=True),
        adult=every.iloc[nc:nc + na].reset_index(drop=True),
        uasc=every.iloc[nc + na:].reset_index(drop=True),
        family=fam.iloc[: pop.n_families].reset_index(drop=True),
        uasc_family=fam.iloc[pop.n_families:].reset_index(drop=True),
        child_pa=arr.slice(0, nc), adult_pa=arr.slice(nc, na),
        family_pa=farr.slice(0, pop.n_families), person_pa=arr, n_children=nc,
    )


def take(arr: pa.Array, idx: np.ndarray) -> pd.Series:
    """Strings of ``arr`` at positions ``idx`` as a pandas ``str`` Series."""
    return arr.take(pa.array(np.asarray(idx, dtype=np.int64))).to_pandas()


def group_pairs(left: np.ndarray, right: np.ndarray,
                n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``left[i] == right[j]``, without Python loops.

    Pairs come in order of ``i``, and of ``j`` within one ``i``.
    """
    order = np.argsort(right, kind="stable")
    cnt = np.bincount(right, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    k = cnt[left]
    i = np.repeat(np.arange(len(left)), k)
    offs = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    return i, order[np.repeat(start[left], k) + offs]


def ragged_pairs(group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (i, j), i != j, of items sharing a group, without Python loops."""
    left, right = group_pairs(group, group, n_groups)
    keep = left != right
    return left[keep], right[keep]


def _month(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return d.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def household_tables(cfg: SyntheticConfig, tl: Timeline, pop: Population, uasc: Uasc,
                     idx: Ids, sen: np.ndarray, ag: Agencies) -> dict:
    """Build the tables that need no simulation: people, households and relationships.

    Returns ``ssd_person``, ``ssd_family`` and ``ext_person_relationship``, and
    under ``"_members"`` the household membership spells :func:`people_tables`
    needs for addresses. ``ag`` is this builder's own fork (:meth:`Agencies.fork`), so
    building them before (or during) the simulation changes no value.
    """
    out: dict = {}
    nc, na, nu = pop.n_children, len(pop.ad_family), len(uasc.dob)
    codes = np.array(pop.eth_codes)
    female_carer = (pop.ad_sex & (pop.ad_role != ROLE_GRANDPARENT))
    out["ssd_person"] = frame("ssd_person", {
        "pers_person_id": pd.concat([idx.child, idx.adult, idx.uasc], ignore_index=True),
        "pers_sex": np.concatenate([np.where(pop.ch_sex, "M", "F"), np.where(pop.ad_sex, "F", "M"),
                                    np.where(uasc.male, "M", "F")]),
        "pers_gender": np.concatenate([np.where(pop.ch_sex, "01", "02"),
                                       np.where(pop.ad_sex, "02", "01"),
                                       np.where(uasc.male, "01", "02")]),
        "pers_ethnicity": labels((*codes, *UASC_CODES), np.concatenate(
            [pop.ch_eth, pop.ad_eth, len(codes) + uasc.eth])),
        "pers_dob": dates(_month(np.concatenate([pop.ch_dob, pop.ad_dob, uasc.dob]))),
        "pers_is_child": np.repeat(np.array(["Y", "N", "Y"]), [nc, na, nu]),
        # codes into labels, -1 for null: no Python string per person
        "pers_send_flag": labels(("N", "Y"), np.concatenate(
            [(sen == 2).astype(np.int8), np.full(na, -1, np.int8), np.zeros(nu, np.int8)])),
        "pers_is_mother": labels(("N", "Y"), np.concatenate(
            [np.full(nc, -1, np.int8), female_carer.astype(np.int8), np.full(nu, -1, np.int8)])),
        "pers_nationality": labels(NATIONALITIES, np.concatenate(
            [np.full(nc + na, -1, np.int64), np.asarray(uasc.nationality, np.int64)])),
    })

    # --- household membership spells ---------------------------------------------
    in_home = (pop.ad_start < NEVER)
    mem_fam = np.concatenate([pop.ch_family, pop.ad_family[in_home], np.arange(nu)])
    mem_start = np.concatenate([pop.ch_dob, pop.ad_start[in_home], uasc.arrival])
    mem_end = np.concatenate([np.full(nc, NEVER), pop.ad_end[in_home], np.full(nu, NEVER)])
    mem_pid = pd.concat([idx.child, idx.adult[in_home], idx.uasc], ignore_index=True)
    mem_is_uasc = np.repeat([False, True], [nc + int(in_home.sum()), nu])
    fam_ids = pd.concat([idx.family, idx.uasc_family], ignore_index=True)
    keep = ((mem_end >= tl.period_start) | (mem_end >= NEVER)) & (mem_start <= tl.end)
    mem_end = np.where(mem_end > tl.end, NEVER, mem_end)
    fam_all = np.where(mem_is_uasc, pop.n_families + mem_fam, mem_fam)
    _, rec = ag.observe("csc", np.full(int(keep.sum()), -1), mem_start[keep], csc=True)
    n = int(keep.sum())
    out["ssd_family"] = frame("ssd_family", {
        "fami_table_id": ids("FM", np.arange(1, n + 1), 8),
        "fami_family_id": fam_ids.take(fam_all[keep]).reset_index(drop=True),
        "fami_person_id": mem_pid[keep].reset_index(drop=True),
        "fami_start_date": dates(mem_start[keep]), "fami_end_date": dates(mem_end[keep]),
        "fami_recorded_at": rec,
    })
    out["ext_person_relationship"] = _relationships(tl, pop, idx, ag)
    out["_members"] = (mem_fam, mem_start, mem_end, mem_pid, mem_is_uasc)
    return out


def people_tables(cfg: SyntheticConfig, tl: Timeline, pop: Population, uasc: Uasc, idx: Ids,
                  moves: dict, sen: np.ndarray, ag: Agencies, rng: np.random.Generator,
                  households: dict | None = None) -> dict[str, pd.DataFrame]:
    """Build the people, household, relationship, address and status tables.

    ``households`` is what :func:`household_tables` returned, when it was built
    ahead (it is built here otherwise).

    Returns ``ssd_person``, ``ssd_family``, ``ext_person_relationship``,
    ``ssd_address``, ``ssd_disability`` and ``ssd_immigration_status``.
    """
    out = dict(households if households is not None
               else household_tables(cfg, tl, pop, uasc, idx, sen, ag))
    mem_fam, mem_start, mem_end, mem_pid, mem_is_uasc = out.pop("_members")
    out["ssd_address"] = _addresses(cfg, tl, pop, uasc, idx, moves, mem_fam, mem_start,
                                    mem_end, mem_pid, mem_is_uasc, ag, rng)
    dis = np.flatnonzero(pop.ch_disability > 0)
    out["ssd_disability"] = frame("ssd_disability", {
        "disa_table_id": ids("DI", np.arange(1, len(dis) + 1), 8),
        "disa_person_id": idx.child.take(dis).reset_index(drop=True),
        "disa_disability_code": np.array(DISABILITY_CODES)[pop.ch_disability[dis]],
    })
    eighteen = uasc.dob + int(18 * DAYS_PER_YEAR)
    keep_u = (eighteen >= tl.period_start)
    _, rec_u = ag.observe("csc", np.full(int(keep_u.sum()), -1), uasc.arrival[keep_u], csc=True)
    end_u = np.where(eighteen[keep_u] > tl.end, NEVER, eighteen[keep_u])
    out["ssd_immigration_status"] = frame("ssd_immigration_status", {
        "immi_immigration_status_id": ids("IM", np.arange(1, int(keep_u.sum()) + 1), 8),
        "immi_person_id": idx.uasc[keep_u].reset_index(drop=True),
        "immi_immigration_status": np.full(int(keep_u.sum()), "UASC"),
        "immi_immigration_status_start_date": dates(uasc.arrival[keep_u]),
        "immi_immigration_status_end_date": dates(end_u), "immi_recorded_at": rec_u,
    })
    return out


def _relationships(tl: Timeline, pop: Population, idx: Ids, ag: Agencies) -> pd.DataFrame:
    """Child -> parent / step-parent / partner / sibling / half-sibling / grandparent rows."""
    nf = pop.n_families
    ci, aj = group_pairs(pop.ch_family, pop.ad_family, nf)  # each child with each adult
    role = pop.ad_role[aj]
    dob = pop.ch_dob[ci]
    is_father = pop.ch_father[ci] == aj
    eighteen = dob + int(18 * DAYS_PER_YEAR)
    start = dob.copy()
    end = np.full(len(ci), NEVER)
    kind = np.full(len(ci), _REL.index("parent"), dtype=np.int8)
    home = np.ones(len(ci), bool)
    c2 = role == ROLE_CARER2
    home = np.where(c2, pop.ad_end[aj] >= NEVER, home)
    partner = (role == ROLE_PARTNER) & ~is_father
    kind = np.where(partner, np.where(pop.ad_partner_type[aj] == 1, _REL.index("step_parent"),
                                      _REL.index("partner_of_parent")), kind)
    start = np.where(role == ROLE_PARTNER, np.maximum(dob, pop.ad_start[aj]), start)
    end = np.where(role == ROLE_PARTNER, pop.ad_end[aj], end)
    home = np.where(role == ROLE_PARTNER, pop.ad_end[aj] >= NEVER, home)
    gp = role == ROLE_GRANDPARENT
    kind = np.where(gp, _REL.index("grandparent"), kind)
    home = np.where(gp, pop.ad_start[aj] < NEVER, home)
    valid = (role == ROLE_CARER1) | gp | ((role == ROLE_CARER2) & is_father) | (
        (role == ROLE_PARTNER) & (is_father | (pop.ad_start[aj] < eighteen)) & (start <= end))
    sib_i, sib_j = ragged_pairs(pop.ch_family, nf)
    same = pop.ch_father[sib_i] == pop.ch_father[sib_j]
    person = np.concatenate([ci[valid], sib_i])
    s_all = np.concatenate([start[valid], np.maximum(pop.ch_dob[sib_i], pop.ch_dob[sib_j])])
    e_all = np.concatenate([end[valid], np.full(len(sib_i), NEVER)])
    e_all = np.where(e_all > tl.end, NEVER, e_all)
    keep = ((e_all >= tl.period_start) & (s_all <= tl.end))
    related = pd.concat([take(idx.adult_pa, aj[valid]), take(idx.child_pa, sib_j)],
                        ignore_index=True)
    kinds = np.concatenate([kind[valid], np.where(same, _REL.index("sibling"),
                                                  _REL.index("half_sibling"))])
    homes = np.concatenate([home[valid], np.ones(len(sib_i), bool)])
    n = int(keep.sum())
    _, rec = ag.observe("csc", np.full(n, -1), s_all[keep], csc=True)
    return frame("ext_person_relationship", {
        "rela_relationship_id": ids("RL", np.arange(1, n + 1), 9),
        "rela_person_id": take(idx.child_pa, person[keep]),
        "rela_related_person_id": related[keep].reset_index(drop=True),
        "rela_relationship": labels(_REL, kinds[keep]),
        "rela_same_household": labels(("N", "Y"), homes[keep].astype(np.int8)),
        "rela_start_date": dates(s_all[keep]), "rela_end_date": dates(e_all[keep]),
        "rela_recorded_at": rec,
    })


def _addresses(cfg, tl, pop, uasc, idx, moves, mem_fam, mem_start, mem_end, mem_pid,  # noqa: ANN001
               mem_is_uasc, ag, rng) -> pd.DataFrame:
    """Address spells: each family's homes (moves from the simulation) x its members."""
    nf, nu = pop.n_families, len(uasc.dob)
    sp_fam = np.concatenate([np.arange(nf), moves["fam"], nf + np.arange(nu)])
    sp_day = np.concatenate([np.minimum(pop.fam_start, tl.sim_start), moves["day"],
                             uasc.arrival])
    sp_lsoa = np.concatenate([pop.fam_lsoa0, moves["lsoa"],
                              rng.integers(0, len(pop.lsoa_decile), nu)])
    sp_type = np.concatenate([np.zeros(nf, np.int8), moves["temp"], np.full(nu, 2, np.int8)])
    o = lexsort((sp_day, sp_fam))
    sp_fam, sp_day, sp_lsoa, sp_type = sp_fam[o], sp_day[o], sp_lsoa[o], sp_type[o]
    nxt_same = np.append(sp_fam[1:] == sp_fam[:-1], False)
    sp_end = np.where(nxt_same, np.append(sp_day[1:], NEVER) - 1, NEVER)
    sp_fam_all = sp_fam
    mem_fam_all = np.where(mem_is_uasc, nf + mem_fam, mem_fam)
    spells = pd.DataFrame({"f": sp_fam_all, "s": sp_day, "e": sp_end, "l": sp_lsoa,
                           "t": sp_type, "sp": np.arange(len(sp_fam_all))})
    mems = pd.DataFrame({"f": mem_fam_all, "ms": mem_start, "me": mem_end,
                         "m": np.arange(len(mem_fam_all))})
    j = spells.merge(mems, on="f", how="inner", sort=False)
    s = np.maximum(j["s"].to_numpy(), j["ms"].to_numpy())
    e = np.minimum(j["e"].to_numpy(), j["me"].to_numpy())
    keep = (s <= e) & (s <= tl.end) & (e >= tl.period_start)
    j = j[keep]
    s, e = s[keep], e[keep]
    o = lexsort((s, j["m"].to_numpy()))
    j = j.iloc[o]
    s, e = s[o], e[o]
    e = np.where(e > tl.end, NEVER, e)
    n = len(j)
    lsoa = j["l"].to_numpy()
    n_lsoa = len(pop.lsoa_decile)
    lsoa_codes = ids("E01", rng.permutation(n_lsoa) + 10_000, 6)
    sector = pop.lsoa_sector
    area = cfg.places.postcode_area
    pcs = [f"{area}{s // 10 + 1} {s % 10}" for s in range(int(sector.max()) + 1)]
    _, rec = ag.observe("csc", np.full(n, -1), s, csc=True)
    return frame("ssd_address", {
        "addr_table_id": ids("AD", np.arange(1, n + 1), 9),
        "addr_person_id": mem_pid.take(j["m"].to_numpy()).reset_index(drop=True),
        "addr_address_type": labels(("home", "temporary", "placement"), j["t"].to_numpy()),
        "addr_address_start_date": dates(s), "addr_address_end_date": dates(e),
        "addr_address_postcode": labels(pcs, sector[lsoa]),
        "addr_lsoa_code": lsoa_codes.take(lsoa).reset_index(drop=True),
        "addr_imd_decile": pop.lsoa_decile[lsoa].astype(np.int64),
        "addr_recorded_at": rec,
    })
