"""Small fake core tables for the ancillary-table and defect tests.

A stand-in for the core generator's output: families with one or two parents
and children, addresses in a few LSOAs, Early Help / CIN / CP / CLA episodes
and partner-agency events, typed and shaped exactly as ``schema.py`` says.
Built with numpy in bulk so the same builder can make a large LA for a timing
check.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from earlywarning.data.schema import get_table

END = pd.Timestamp("2024-03-31")
START = pd.Timestamp("2018-04-01")


def frame(name: str, n: int, **cols) -> pd.DataFrame:
    out = {}
    for c in get_table(name).columns:
        v = cols.get(c.name)
        if v is None:
            v = np.full(n, None, dtype=object)
        if c.dtype in ("date", "timestamp"):
            out[c.name] = pd.to_datetime(pd.Series(v)).astype("datetime64[ns]").to_numpy()
        elif c.dtype == "int":
            out[c.name] = pd.array(v, dtype="Int64")
        elif c.dtype == "float":
            out[c.name] = np.asarray(v, dtype=float)
        else:
            out[c.name] = pd.array(np.asarray(v, dtype=object), dtype="string")
    return pd.DataFrame(out)


def _days(rng: np.random.Generator, n: int, lo: pd.Timestamp, hi: pd.Timestamp) -> np.ndarray:
    span = (hi - lo).days
    return (np.datetime64(lo.date()) + rng.integers(0, span, n).astype("timedelta64[D]"))


def _rec(rng: np.random.Generator, d: np.ndarray) -> np.ndarray:
    lag = rng.integers(0, 20 * 86_400, len(d)).astype("timedelta64[s]")
    return np.minimum(d.astype("datetime64[s]") + lag, np.datetime64(END.date(), "s"))


def make_core_tables(n_families: int = 300, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Core tables for ``n_families`` households (about 2.2 children each)."""
    rng = np.random.default_rng(seed)
    nf = n_families
    n_par = np.where(rng.random(nf) < 0.55, 2, 1)
    n_kid = rng.integers(1, 5, nf)
    size = n_par + n_kid
    fam_of = np.repeat(np.arange(nf), size)
    pos = np.arange(len(fam_of)) - np.repeat(np.cumsum(size) - size, size)
    is_par = pos < np.repeat(n_par, size)
    n = len(fam_of)
    pid = np.array([f"P{i:07d}" for i in range(n)], dtype=object)
    fid = np.array([f"F{i:06d}" for i in range(nf)], dtype=object)
    eth = np.array(["WBRI", "APKN", "BAFR", "MWBC", "WOTH", "CHNE", "BCRB", "OOTH"])
    fam_eth = eth[rng.choice(len(eth), nf, p=[0.6, 0.1, 0.07, 0.07, 0.07, 0.03, 0.03, 0.03])]
    sex = np.where(is_par & (pos == 0), "F", np.where(is_par, "M", rng.choice(["F", "M"], n)))
    age_days = np.where(is_par, rng.integers(20 * 365, 50 * 365, n), rng.integers(0, 18 * 365, n))
    dob = (np.datetime64(END.date()) - age_days.astype("timedelta64[D]")).astype("datetime64[M]")
    person = frame("ssd_person", n, pers_person_id=pid, pers_sex=sex,
                   pers_ethnicity=fam_eth[fam_of], pers_dob=dob.astype("datetime64[D]"),
                   pers_is_child=np.where(is_par, "N", "Y"))

    fam_start = np.minimum(dob.astype("datetime64[D]"), np.datetime64("2015-01-01"))
    family = frame("ssd_family", n, fami_table_id=[f"FM{i:07d}" for i in range(n)],
                   fami_family_id=fid[fam_of], fami_person_id=pid, fami_start_date=fam_start,
                   fami_recorded_at=fam_start.astype("datetime64[s]"))

    # relationships: each child -> each parent (parent 0 = mother; parent 1 is a partner 30%)
    first_par = np.cumsum(size) - size
    kid = np.flatnonzero(~is_par)
    rel_rows = []
    for p in (0, 1):
        has = n_par[fam_of[kid]] > p
        k = kid[has]
        par = first_par[fam_of[k]] + p
        kind = np.where((p == 1) & (rng.random(len(k)) < 0.3), "partner_of_parent", "parent")
        rel_rows.append((k, par, kind))
    rk = np.concatenate([r[0] for r in rel_rows])
    rp = np.concatenate([r[1] for r in rel_rows])
    rkind = np.concatenate([r[2] for r in rel_rows])
    m = len(rk)
    rel = frame("ext_person_relationship", m,
                rela_relationship_id=[f"R{i:07d}" for i in range(m)], rela_person_id=pid[rk],
                rela_related_person_id=pid[rp], rela_relationship=rkind,
                rela_same_household=np.full(m, "Y"), rela_start_date=fam_start[rk],
                rela_recorded_at=fam_start[rk].astype("datetime64[s]"))

    # addresses: one per person, 20% moved once (the move's LSOA may differ)
    lsoa = np.array([f"E0100{i:04d}" for i in range(40)])
    fam_lsoa = rng.integers(0, 40, nf)
    moved = rng.random(nf) < 0.2
    a_start = np.datetime64("2014-01-01")
    move_day = _days(rng, nf, START, END)
    a1 = np.arange(n)
    a2 = np.flatnonzero(moved[fam_of])
    new_lsoa = rng.integers(0, 40, nf)
    addr_person = np.concatenate([a1, a2])
    addr_start = np.concatenate([np.full(n, a_start), move_day[fam_of[a2]]])
    addr_end = np.concatenate([np.where(moved[fam_of], move_day[fam_of],
                                        np.datetime64("NaT")), np.full(len(a2), "NaT",
                                                                       "datetime64[D]")])
    addr_lsoa = np.concatenate([lsoa[fam_lsoa[fam_of]], lsoa[new_lsoa[fam_of[a2]]]])
    na = len(addr_person)
    address = frame("ssd_address", na, addr_table_id=[f"A{i:07d}" for i in range(na)],
                    addr_person_id=pid[addr_person], addr_address_start_date=addr_start,
                    addr_address_end_date=addr_end, addr_lsoa_code=addr_lsoa,
                    addr_imd_decile=rng.integers(1, 11, na),
                    addr_recorded_at=addr_start.astype("datetime64[s]"))

    def episodes(frac: float, mean_days: int, open_p: float):
        who = kid[rng.random(len(kid)) < frac]
        st = _days(rng, len(who), START, END - pd.Timedelta(days=5))
        en = st + rng.integers(5, 2 * mean_days, len(who)).astype("timedelta64[D]")
        en = np.where((rng.random(len(who)) < open_p) | (en > np.datetime64(END.date())),
                      np.datetime64("NaT"), en)
        return who, st, en

    w, st, en = episodes(0.15, 200, 0.1)
    k = len(w)
    eh = frame("ssd_early_help_episodes", k, earl_episode_id=[f"EH{i:06d}" for i in range(k)],
               earl_person_id=pid[w], earl_episode_start_date=st, earl_episode_end_date=en,
               earl_recorded_at=_rec(rng, st))
    w, st, en = episodes(0.12, 150, 0.08)
    k = len(w)
    ref_ids = np.array([f"REF{i:06d}" for i in range(k)], dtype=object)
    cin = frame("ssd_cin_episodes", k, cine_referral_id=ref_ids, cine_person_id=pid[w],
                cine_referral_date=st, cine_close_date=en, cine_recorded_at=_rec(rng, st),
                cine_cin_primary_need_code=rng.choice(["N1", "N2", "N3", "N4"], k))
    cina = frame("ssd_cin_assessments", k, cina_assessment_id=[f"AS{i:06d}" for i in range(k)],
                 cina_person_id=pid[w], cina_referral_id=ref_ids, cina_assessment_start_date=st,
                 cina_recorded_at=_rec(rng, st))
    s = rng.random(k) < 0.3
    ks = int(s.sum())
    s47 = frame("ssd_s47_enquiry", ks, s47e_s47_enquiry_id=[f"S47{i:05d}" for i in range(ks)],
                s47e_referral_id=ref_ids[s], s47e_person_id=pid[w][s], s47e_s47_start_date=st[s],
                s47e_recorded_at=_rec(rng, st[s]))
    w, st, en = episodes(0.03, 300, 0.2)
    k = len(w)
    cp = frame("ssd_cp_plans", k, cppl_cp_plan_id=[f"CP{i:06d}" for i in range(k)],
               cppl_person_id=pid[w], cppl_cp_plan_start_date=st, cppl_cp_plan_end_date=en,
               cppl_cp_plan_initial_category=np.full(k, "Neglect"),
               cppl_recorded_at=_rec(rng, st))
    w, st, en = episodes(0.02, 500, 0.4)
    k = len(w)
    cla = frame("ssd_cla_episodes", k, clae_cla_episode_id=[f"CL{i:06d}" for i in range(k)],
                clae_person_id=pid[w], clae_cla_episode_start_date=st,
                clae_cla_episode_ceased_date=en, clae_recorded_at=_rec(rng, st))

    adults = np.flatnonzero(is_par)

    def events(who_pool, rate):
        cnt = rng.poisson(rate, len(who_pool))
        who = np.repeat(who_pool, cnt)
        return who, _days(rng, len(who), START, END)

    w, d = events(adults, 0.6)
    k = len(w)
    police = frame("ext_police_event", k, poli_event_id=[f"PE{i:07d}" for i in range(k)],
                   poli_incident_id=[f"PI{i:07d}" for i in range(k)], poli_person_id=pid[w],
                   poli_event_date=d,
                   poli_event_type=rng.choice(["domestic_abuse", "arrest", "asb",
                                               "missing_person", "violent_crime"], k),
                   poli_role=rng.choice(["victim", "suspect", "subject"], k),
                   poli_recorded_at=_rec(rng, d))
    w, d = events(adults, 0.25)
    k = len(w)
    housing = frame("ext_housing_event", k, hous_event_id=[f"HE{i:07d}" for i in range(k)],
                    hous_person_id=pid[w], hous_event_date=d,
                    hous_event_type=rng.choice(["homelessness_application", "rent_arrears",
                                                "asb_case", "temporary_accommodation"], k),
                    hous_recorded_at=_rec(rng, d))
    w, d = events(adults, 0.05)
    k = len(w)
    asc_end = np.where(rng.random(k) < 0.5, d + rng.integers(30, 400, k).astype("timedelta64[D]"),
                       np.datetime64("NaT"))
    asc_end = np.where(asc_end > np.datetime64(END.date()), np.datetime64("NaT"), asc_end)
    asc = frame("ext_asc_involvement", k, asci_involvement_id=[f"AC{i:06d}" for i in range(k)],
                asci_person_id=pid[w], asci_service_type=np.full(k, "home_care"),
                asci_start_date=d, asci_end_date=asc_end, asci_recorded_at=_rec(rng, d))
    w, d = events(adults, 0.5)
    k = len(w)
    health = frame("ext_health_event", k, heal_event_id=[f"HL{i:07d}" for i in range(k)],
                   heal_person_id=pid[w],
                   heal_service=rng.choice(["adult_mental_health", "drug_alcohol", "gp_concern",
                                            "a_and_e"], k),
                   heal_event_type=np.full(k, "contact"), heal_event_date=d,
                   heal_recorded_at=_rec(rng, d))
    w, d = events(kid, 0.03)
    k = len(w)
    yj = frame("ext_youth_justice", k, yjus_event_id=[f"YJ{i:06d}" for i in range(k)],
               yjus_person_id=pid[w], yjus_event_date=d, yjus_outcome=np.full(k, "triage"),
               yjus_recorded_at=_rec(rng, d))
    w, d = events(kid, 0.02)
    k = len(w)
    yc = frame("ext_young_carer", k, ycar_event_id=[f"YC{i:06d}" for i in range(k)],
               ycar_person_id=pid[w], ycar_assessment_date=d, ycar_recorded_at=_rec(rng, d))
    school_age = kid[age_days[kid] >= 4 * 365]
    k = len(school_age)
    sd = _days(rng, k, START, END)
    school = frame("ext_school_enrolment", k, scho_enrolment_id=[f"SE{i:07d}" for i in range(k)],
                   scho_person_id=pid[school_age],
                   scho_school_id=rng.choice(["URN100001", "URN100002", "URN100003"], k),
                   scho_phase=np.full(k, "primary"), scho_start_date=sd,
                   scho_sen_status=rng.choice(["N", "K", "E"], k, p=[0.8, 0.15, 0.05]),
                   scho_recorded_at=_rec(rng, sd))
    return {
        "ssd_person": person, "ssd_family": family, "ext_person_relationship": rel,
        "ssd_address": address, "ssd_early_help_episodes": eh, "ssd_cin_episodes": cin,
        "ssd_cin_assessments": cina, "ssd_s47_enquiry": s47, "ssd_cp_plans": cp,
        "ssd_cla_episodes": cla, "ext_police_event": police, "ext_housing_event": housing,
        "ext_asc_involvement": asc, "ext_health_event": health, "ext_youth_justice": yj,
        "ext_young_carer": yc, "ext_school_enrolment": school,
    }


CONFIG = SimpleNamespace(end_date=END.date(), start_date=START.date(), la_name="Ashvale")
