"""Measured rates of a synthetic LA beside the England targets of ``REFERENCE.md``.

:func:`calibration_report` works from the tables alone (as a user's analyst
would), per year ending 31 March, so it can be run on any extract.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from earlywarning.data.synthetic._columns import (
    KeyIndex,
    arrow_strings,
    equal_codes,
    lexsort,
)

__all__ = ["TARGETS", "calibration_report"]

TARGETS: dict[str, tuple[float, str, str]] = {
    # measure: (target, unit, source)
    "referrals_per_10k": (517.0, "per 10,000 children", "DfE CIN 2025; SCHEMA.md 3,100/60k"),
    "rereferral_pct": (22.6, "% of referrals", "DfE CIN 2025"),
    "s47_per_10k": (190.0, "per 10,000 children", "DfE CIN 2025; SCHEMA.md 1,140/60k"),
    "icpc_per_10k": (59.2, "per 10,000 children", "DfE CIN 2025"),
    "cp_starts_per_10k": (50.0, "per 10,000 children", "DfE CIN 2025; SCHEMA.md 300/60k"),
    "cp_stock_per_10k": (41.7, "per 10,000 children", "DfE CIN 2025; SCHEMA.md 250/60k"),
    "care_starts_excl_uasc_per_10k": (20.8, "per 10,000 children", "SCHEMA.md 125/60k"),
    "care_starts_per_10k": (26.7, "per 10,000 children", "DfE CLA 2025; SCHEMA.md 160/60k"),
    "cla_stock_per_10k": (66.7, "per 10,000 children", "DfE CLA 2025; SCHEMA.md 400/60k"),
    "uasc_share_of_care_starts_pct": (22.0, "% of care starts", "DfE CLA 2025"),
    "care_start_age_under1_pct": (16.0, "% of care starts", "DfE CLA 2025"),
    "care_start_age_1_4_pct": (14.0, "% of care starts", "DfE CLA 2025"),
    "care_start_age_5_9_pct": (15.0, "% of care starts", "DfE CLA 2025"),
    "care_start_age_10_15_pct": (27.0, "% of care starts", "DfE CLA 2025"),
    "care_start_age_16_plus_pct": (28.0, "% of care starts", "DfE CLA 2025"),
    "care_rate_ratio_decile1_vs_10": (10.6, "ratio", "CWIP (1 in 60 vs 1 in 660)"),
    "second_cp_plan_pct": (24.5, "% of CP starts", "DfE CIN 2025"),
    "cp_neglect_pct": (50.5, "% of CP plans", "DfE CIN 2020"),
    "cp_emotional_pct": (35.7, "% of CP plans", "DfE CIN 2020"),
    "factors_per_assessment": (2.75, "codes", "DfE CIN 2025"),
    "factor_4B_pct": (33.5, "% of assessments", "DfE CIN 2025"),
    "factor_3B_pct": (31.7, "% of assessments", "DfE CIN 2025"),
    "assessment_working_days_median": (33.0, "working days", "DfE CIN"),
    "s47_to_icpc_working_days_median": (14.0, "working days", "DfE CIN"),
    "cp_plan_months_median": (9.0, "months", "DfE CIN"),
    "persistent_absence_pct": (20.0, "% of pupils", "DfE 2023/24"),
    "persistent_absence_cin_pct": (47.8, "% of children in need", "DfE 2023/24"),
    "suspensions_per_100_pupils": (11.3, "per 100 pupils", "DfE 2023/24"),
    "da_incidents_per_1000_people": (24.0, "per 1,000 people", "ONS 2024 (incidents+crimes)"),
    "temporary_accommodation_per_1000_children": (13.6, "per 1,000 children", "MHCLG Dec 2024"),
    "early_help_pct_children": (4.3, "% of children a year", "DfE 2019/20"),
}


def _d(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s).to_numpy(dtype="datetime64[D]")


def _sortable(days: np.ndarray) -> np.ndarray:
    """Days as integers that sort as numpy sorts dates (NaT last)."""
    as_int = days.astype(np.int64)
    return np.where(np.isnat(days), np.iinfo(np.int64).max, as_int)


def _id_codes(people: KeyIndex, *ids: pd.Series) -> tuple[list[np.ndarray], int]:
    """Integer codes of person ids shared across columns, without hashing Python strings.

    An id of ``ssd_person`` (the keys of ``people``) takes its position there (the
    generator's numbered ids are parsed, not hashed); any other id (an orphan in a
    loaded extract) takes a code of its own after those, and every missing id one
    shared extra code. Returns the codes of each of ``ids`` and the number of codes.
    """
    columns = [arrow_strings(i) for i in ids]
    codes = people.positions(columns)
    n = len(people.keys)
    absent = [np.flatnonzero(c < 0) for c in codes]
    if not any(len(a) for a in absent):
        return codes, n + 1
    rest = pa.concat_arrays([c.take(a) for c, a in zip(columns, absent, strict=True)])
    enc = rest.dictionary_encode()
    uniq = enc.dictionary
    extra = enc.indices.fill_null(len(uniq)).to_numpy(zero_copy_only=False).astype(np.int64) + n
    cuts = np.cumsum([len(a) for a in absent])[:-1]
    for c, a, e in zip(codes, absent, np.split(extra, cuts), strict=True):
        c[a] = e
    return codes, n + len(uniq) + 1


def _count_in(days: np.ndarray, lo: np.datetime64, hi: np.datetime64) -> int:
    return int(((days >= lo) & (days <= hi)).sum())


def _open_at(start: np.ndarray, end: np.ndarray, day: np.datetime64) -> np.ndarray:
    return (start <= day) & (np.isnat(end) | (end > day))


def calibration_report(tables: dict[str, pd.DataFrame], years: int | None = None) -> pd.DataFrame:
    """Measured rates per year ending 31 March beside the ``REFERENCE.md`` targets.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        A synthetic LA's tables (clean or loaded from its files).
    years : int, optional
        Only the last ``years`` complete years (default: all complete years).

    Returns
    -------
    pandas.DataFrame
        Columns ``measure, year, value, target, unit, ratio, within_20pct``.
        ``year`` is the calendar year in which the year ends (``"all"`` for
        measures pooled over the years reported).
    """
    person = tables["ssd_person"]
    uasc_ids = set(tables["ssd_immigration_status"]["immi_person_id"])
    kids = person.loc[(person["pers_is_child"] == "Y") & ~person["pers_person_id"].isin(uasc_ids),
                      ["pers_person_id", "pers_dob"]]
    dob = _d(kids["pers_dob"])
    last = max(_d(tables["ssd_cin_episodes"]["cine_referral_date"]).max(),
               _d(tables["ssd_contacts"]["cont_contact_date"]).max())
    first = _d(tables["ssd_contacts"]["cont_contact_date"]).min()
    ends = [np.datetime64(f"{y}-03-31") for y in range(int(str(first)[:4]) + 1,
                                                       int(str(last)[:4]) + 1)]
    ends = [e for e in ends if e <= last and e - np.timedelta64(364, "D") >= first]
    if years is not None:
        ends = ends[-years:]
    ref = tables["ssd_cin_episodes"]
    ref_day = _d(ref["cine_referral_date"])
    people = KeyIndex(arrow_strings(person["pers_person_id"]))
    ref_pid = _id_codes(people, ref["cine_person_id"])[0][0]
    o = lexsort((_sortable(ref_day), ref_pid))
    same = np.r_[False, ref_pid[o][1:] == ref_pid[o][:-1]]
    gap = np.r_[np.timedelta64(10**5, "D"), np.diff(ref_day[o])]
    rerf = np.zeros(len(ref), bool)
    rerf[o] = same & (gap <= np.timedelta64(365, "D"))
    s47 = _d(tables["ssd_s47_enquiry"]["s47e_s47_start_date"])
    icpc = _d(tables["ssd_initial_cp_conference"]["icpc_icpc_date"])
    cp = tables["ssd_cp_plans"]
    cp_s, cp_e = _d(cp["cppl_cp_plan_start_date"]), _d(cp["cppl_cp_plan_end_date"])
    cla = tables["ssd_cla_episodes"]
    cla_s, cla_e = _d(cla["clae_cla_episode_start_date"]), _d(cla["clae_cla_episode_ceased_date"])
    cla_uasc = cla["clae_person_id"].isin(uasc_ids).to_numpy()
    rows: list[tuple[str, str, float]] = []
    for e in ends:
        b = e - np.timedelta64(364, "D")
        age = (e - dob).astype(int) / 365.25
        n = max(int(((age >= 0) & (age < 18)).sum()), 1)
        per = 10_000 / n
        y = str(e)[:4]
        in_y = (ref_day >= b) & (ref_day <= e)
        rows += [
            ("children", y, float(n)),
            ("referrals_per_10k", y, in_y.sum() * per),
            ("rereferral_pct", y, 100 * rerf[in_y].mean() if in_y.any() else np.nan),
            ("s47_per_10k", y, _count_in(s47, b, e) * per),
            ("icpc_per_10k", y, _count_in(icpc, b, e) * per),
            ("cp_starts_per_10k", y, _count_in(cp_s, b, e) * per),
            ("cp_stock_per_10k", y, _open_at(cp_s, cp_e, e).sum() * per),
            ("care_starts_excl_uasc_per_10k", y, _count_in(cla_s[~cla_uasc], b, e) * per),
            ("care_starts_per_10k", y, _count_in(cla_s, b, e) * per),
            ("cla_stock_per_10k", y, _open_at(cla_s, cla_e, e).sum() * per),
        ]
    if ends:
        rows += _pooled(tables, people, ends, kids, dob, cla_s, cla_uasc, cla, cp, cp_s, cp_e)
    df = pd.DataFrame(rows, columns=["measure", "year", "value"])
    df["target"] = df["measure"].map(lambda m: TARGETS.get(m, (np.nan,))[0])
    df["unit"] = df["measure"].map(lambda m: TARGETS.get(m, (0, "children"))[1])
    df["ratio"] = df["value"] / df["target"]
    df["within_20pct"] = (df["ratio"] - 1).abs() <= 0.2
    return df


def _pooled(tables, people, ends, kids, dob, cla_s, cla_uasc, cla, cp, cp_s, cp_e):  # noqa: ANN001, ANN202, PLR0913
    b, e = ends[0] - np.timedelta64(364, "D"), ends[-1]
    out: list[tuple[str, str, float]] = []
    in_p = (cla_s >= b) & (cla_s <= e)
    person, addr = tables["ssd_person"], tables["ssd_address"]
    (p_code, c_code, a_code, k_code), n_ids = _id_codes(
        people, person["pers_person_id"], cla["clae_person_id"], addr["addr_person_id"],
        kids["pers_person_id"])
    pdob = np.full(n_ids, np.datetime64("NaT"), dtype="datetime64[D]")
    pdob[p_code] = _d(person["pers_dob"])
    cdob = pdob[c_code[in_p]]
    age = (cla_s[in_p] - cdob).astype(int) / 365.25
    if len(age):
        out.append(("uasc_share_of_care_starts_pct", "all", 100 * cla_uasc[in_p].mean()))
        for name, lo, hi in (("under1", 0, 1), ("1_4", 1, 5), ("5_9", 5, 10),
                             ("10_15", 10, 16), ("16_plus", 16, 99)):
            out.append((f"care_start_age_{name}_pct", "all",
                        100 * ((age >= lo) & (age < hi)).mean()))
    a_s = _d(addr["addr_address_start_date"])
    a_dec = addr["addr_imd_decile"].to_numpy(dtype=float, na_value=np.nan)
    o = lexsort((_sortable(a_s), a_code))
    first = np.r_[True, a_code[o][1:] != a_code[o][:-1]]
    first_dec = np.full(n_ids, np.nan)  # decile of each person's first address
    first_dec[a_code[o][first]] = a_dec[o][first]
    kid_dec = first_dec[k_code]
    age_e = (e - dob).astype(int) / 365.25
    pop_dec = pd.Series(kid_dec[(age_e >= 0) & (age_e < 18)]).value_counts()
    st_dec = pd.Series(first_dec[c_code[in_p & ~cla_uasc]]).value_counts()
    # log-linear fit of the care-start rate on decile (stable where one decile has few starts)
    dec = np.arange(1, 11)
    starts = np.array([st_dec.get(d, 0) for d in dec], dtype=float) + 0.5
    popn = np.array([max(pop_dec.get(d, 0), 1) for d in dec], dtype=float)
    slope = np.polyfit(dec, np.log(starts / popn), 1, w=np.sqrt(starts))[0]
    out.append(("care_rate_ratio_decile1_vs_10", "all", float(np.exp(-9 * slope))))
    in_cp = (cp_s >= b) & (cp_s <= e)
    if in_cp.any():
        pid = _id_codes(people, cp["cppl_person_id"])[0][0]
        earlier = pd.Series(cp_s).groupby(pid).transform("min").to_numpy()
        out.append(("second_cp_plan_pct", "all", 100 * (cp_s[in_cp] > earlier[in_cp]).mean()))
        cat = cp["cppl_cp_plan_initial_category"][in_cp]
        out.append(("cp_neglect_pct", "all", 100 * (cat == "Neglect").mean()))
        out.append(("cp_emotional_pct", "all", 100 * (cat == "Emotional abuse").mean()))
        ended = in_cp & ~np.isnat(cp_e)
        if ended.any():  # a small LA may have no plan ended yet
            out.append(("cp_plan_months_median", "all",
                        float(np.median((cp_e[ended] - cp_s[ended]).astype(int))) / 30.44))
    f = tables["ssd_assessment_factors"]["cinf_assessment_factors_json"]
    if len(f):
        no_factor = f.str.contains('"21"')
        n_codes = f.str.count('"') / 2
        out.append(("factors_per_assessment", "all", float(n_codes[~no_factor].mean())))
        for code in ("4B", "3B"):
            out.append((f"factor_{code}_pct", "all", 100 * f.str.contains(f'"{code}"').mean()))
    asm = tables["ssd_cin_assessments"]
    s, a = _d(asm["cina_assessment_start_date"]), _d(asm["cina_assessment_auth_date"])
    ok = np.flatnonzero(~np.isnat(a))[:20_000]  # a median needs no more
    out.append(("assessment_working_days_median", "all",
                float(np.median(np.busday_count(s[ok], a[ok])))))
    ic = tables["ssd_initial_cp_conference"].merge(
        tables["ssd_s47_enquiry"], left_on="icpc_s47_enquiry_id", right_on="s47e_s47_enquiry_id")
    if len(ic):
        out.append(("s47_to_icpc_working_days_median", "all", float(np.median(np.busday_count(
            _d(ic["s47e_s47_start_date"]), _d(ic["icpc_icpc_date"]))))))
    out += _partner(tables, people, b, e, kids, dob, ends)
    return out


def _partner(tables, people, b, e, kids, dob, ends):  # noqa: ANN001, ANN202
    out: list[tuple[str, str, float]] = []
    att = tables["ext_school_attendance"]
    te = _d(att["atte_term_end_date"])
    last_year = (te > ends[-1] - np.timedelta64(365, "D")) & (te <= ends[-1])
    ref = tables["ssd_cin_episodes"]
    rd = _d(ref["cine_referral_date"])
    recent = (rd > ends[-1] - np.timedelta64(365, "D")) & (rd <= ends[-1])
    (a_code, r_code), n_ids = _id_codes(people, att["atte_person_id"][last_year],
                                        ref["cine_person_id"][recent])
    # sessions per pupil over the year (a missing id is nobody's: its shared code is dropped)
    possible, missed = (np.bincount(a_code, minlength=n_ids, weights=att[c].to_numpy(
        dtype=float, na_value=0)[last_year]) for c in ("atte_sessions_possible",
                                                         "atte_sessions_missed"))
    pupil = np.bincount(a_code, minlength=n_ids) > 0
    pupil[n_ids - 1] = False
    persistent = missed[pupil] / np.maximum(possible[pupil], 1) >= 0.1
    out.append(("persistent_absence_pct", "all",
                100 * float(persistent.mean()) if pupil.any() else np.nan))
    cin = np.zeros(n_ids, bool)
    cin[r_code] = True
    pa_cin = persistent[cin[pupil]]
    out.append(("persistent_absence_cin_pct", "all",
                100 * float(pa_cin.mean()) if len(pa_cin) else np.nan))
    age_e = (ends[-1] - dob).astype(int) / 365.25
    pupils = int(((age_e >= 5) & (age_e < 16)).sum())
    ex = tables["ext_school_exclusion"]
    xd = _d(ex["excl_exclusion_date"])
    n_y = len(ends)
    b_last = ends[-1] - np.timedelta64(364, "D")
    sus = ((ex["excl_type"] == "suspension").to_numpy() & (xd >= b_last) & (xd <= e)).sum()
    out.append(("suspensions_per_100_pupils", "all", 100 * sus / max(pupils, 1)))
    pol = tables["ext_police_event"]
    pdd = _d(pol["poli_event_date"])
    da = (pol["poli_event_type"] == "domestic_abuse").to_numpy() & (pdd >= b) & (pdd <= e)
    incidents = pc.count_distinct(arrow_strings(pol["poli_incident_id"]).filter(pa.array(da)))
    out.append(("da_incidents_per_1000_people", "all",
                1000 * incidents.as_py() / max(len(people.keys), 1) / n_y))
    h = tables["ext_housing_event"]
    ta = h[h["hous_event_type"] == "temporary_accommodation"]
    open_ta = _open_at(_d(ta["hous_event_date"]), _d(ta["hous_end_date"]), ends[-1])
    fam = tables["ssd_family"]
    kid_now = kids["pers_person_id"][(age_e >= 0) & (age_e < 18)]
    (f_code, t_code, k_code), n_ids = _id_codes(people, fam["fami_person_id"],
                                                ta["hous_person_id"][open_ta], kid_now)
    fam_of = np.full(n_ids, -1, dtype=np.int64)  # each person's (last listed) family
    fam_of[f_code] = equal_codes(fam["fami_family_id"])
    ta_fams = fam_of[t_code]
    kid_fam = fam_of[k_code]
    in_ta = int(((kid_fam >= 0) & np.isin(kid_fam, ta_fams[ta_fams >= 0])).sum())
    out.append(("temporary_accommodation_per_1000_children", "all",
                1000 * in_ta / max(len(kid_now), 1)))
    eh = tables["ssd_early_help_episodes"]
    ed = _d(eh["earl_episode_start_date"])
    last = (ed > ends[-1] - np.timedelta64(365, "D")) & (ed <= ends[-1])
    out.append(("early_help_pct_children", "all",
                100 * eh["earl_person_id"][last].nunique() / max(len(kid_now), 1)))
    return out
