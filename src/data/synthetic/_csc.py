"""Children's social care tables (SSD) from the simulated referrals and pathways.

Writes ``ssd_contacts``, ``ssd_cin_episodes``, ``ssd_cin_assessments``,
``ssd_assessment_factors``, ``ssd_s47_enquiry``, ``ssd_initial_cp_conference``,
``ssd_cp_plans``, ``ssd_cla_episodes``, ``ssd_legal_status``, ``ssd_missing`` and
``ssd_early_help_episodes``. A record is in the extract when it happened by
the end date and was still open at (or started after) the period start; steps
after the end date are not written and end dates after it are null.

Referral sources follow what happened just before: a family with a police
incident in the previous 60 days is most often referred by the police, one
with a suspension by the school, and so on (England mix otherwise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from earlywarning.data.synthetic._columns import lexsort
from earlywarning.data.synthetic._factors import cp_categories, factor_json
from earlywarning.data.synthetic._frames import Agencies, dates, frame, ids
from earlywarning.data.synthetic._timeline import DAYS_PER_YEAR, NEVER, Timeline

__all__ = ["SOURCES", "csc_tables", "recent"]

SOURCES = (  # (code, description, share, evidence key)
    ("6", "Police", 0.287, "police"),
    ("2A", "Schools", 0.182, "school"),
    ("3A", "Health services: GP", 0.05, "health"),
    ("3B", "Health services: health visitor", 0.04, "health"),
    ("3E", "Health services: A&E", 0.06, "health"),
    ("5A", "LA services: social care", 0.10, ""),
    ("5D", "LA services: early help", 0.041, "early_help"),
    ("1A", "Individual: family member", 0.06, ""),
    ("1C", "Individual: self", 0.021, ""),
    ("4", "Housing", 0.013, "housing"),
    ("7", "Other legal agency", 0.03, ""),
    ("8", "Other", 0.08, ""),
    ("9", "Anonymous", 0.016, ""),
    ("10", "Unknown", 0.019, ""),
)
NEEDS_REF = (("N1", 0.40), ("N2", 0.07), ("N3", 0.04), ("N4", 0.13), ("N5", 0.15),
             ("N6", 0.03), ("N7", 0.005), ("N8", 0.015), ("N9", 0.09), ("N0", 0.07))
NEEDS_ESC = (("N1", 0.75), ("N5", 0.10), ("N4", 0.09), ("N3", 0.03), ("N2", 0.03))


def recent(ev_fam: np.ndarray, ev_day: np.ndarray, fam: np.ndarray, day: np.ndarray,
           window: int) -> np.ndarray:
    """Flag (family, day) queries with an event of that family in the ``window`` days before."""
    if not len(ev_fam) or not len(fam):
        return np.zeros(len(fam), bool)
    key = ev_fam.astype(np.int64) * 2**20 + ev_day
    key = np.sort(key)
    q = fam.astype(np.int64) * 2**20 + day
    pos = np.searchsorted(key, q, side="right") - 1
    prev = key[np.maximum(pos, 0)]
    return (pos >= 0) & (prev // 2**20 == fam) & (q - prev <= window)


def _pick(rng: np.random.Generator, choices: tuple, n: int) -> np.ndarray:
    codes = np.array([c for c, _ in choices], dtype=object)
    p = np.array([w for _, w in choices], dtype=float)
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]


def _sources(rng: np.random.Generator, evidence: dict[str, np.ndarray], n: int) -> np.ndarray:
    w = np.tile(np.array([s[2] for s in SOURCES]), (n, 1))
    for j, s in enumerate(SOURCES):
        if s[3] in evidence:
            w[:, j] *= 1 + 8 * evidence[s[3]]
    w /= w.sum(axis=1, keepdims=True)
    return (rng.random(n)[:, None] > np.cumsum(w, axis=1)).sum(axis=1).clip(0, len(SOURCES) - 1)


def _nullable_end(day: np.ndarray, end: int) -> np.ndarray:
    return np.where(day > end, NEVER, day)


def _yn(x: np.ndarray) -> np.ndarray:
    return np.where(x, "Y", "N")


def csc_tables(tl: Timeline, ref: dict, child_pid: pd.Series, child_fam: np.ndarray,
               child_disabled: np.ndarray, child_dob: np.ndarray, evidence: dict,
               extra_contacts: dict, missing: dict, early_help: dict, ag: Agencies,
               rng: np.random.Generator, n_children: int) -> dict[str, pd.DataFrame]:
    """Build the SSD tables. ``ref`` holds referral pathways (UASC ones included).

    Returns
    -------
    dict of str to pandas.DataFrame
    """
    end, p0 = tl.end, tl.period_start
    keep = (ref["day"] <= end) & (ref["close"] >= p0)
    r = {k: v[keep] for k, v in ref.items()}
    order = lexsort((r["child"], r["day"]))
    r = {k: v[order] for k, v in r.items()}
    n = len(r["day"])
    pid = child_pid.take(r["child"]).reset_index(drop=True)
    fam = child_fam[r["child"]]
    ref_id = ids("RF", np.arange(1, n + 1), 8)
    n_workers = max(20, n_children // 400)
    n_teams = max(3, n_children // 8000)
    worker = ids("W", rng.integers(1, n_workers + 1, n), 5)
    team = ids("T", rng.integers(1, n_teams + 1, n), 2)
    uasc = r["uasc"]
    ev = {k: v[keep][order] for k, v in evidence.items()}
    src = _sources(rng, ev, n)
    src = np.where(uasc, 0, src)
    src_code = np.array([s[0] for s in SOURCES], dtype=object)[src]
    src_desc = np.array([s[1] for s in SOURCES], dtype=object)[src]
    need = np.where(r["esc"], _pick(rng, NEEDS_ESC, n), _pick(rng, NEEDS_REF, n))
    need = np.where(uasc, "N8", need)
    close = _nullable_end(r["close"], end)
    out: dict[str, pd.DataFrame] = {}
    _, rec = ag.observe("csc", fam, r["day"], csc=True)
    out["ssd_cin_episodes"] = frame("ssd_cin_episodes", {
        "cine_referral_id": ref_id, "cine_person_id": pid,
        "cine_referral_date": dates(r["day"]), "cine_cin_primary_need_code": need,
        "cine_referral_source_code": src_code, "cine_referral_source_desc": src_desc,
        "cine_referral_outcome_json": np.where(
            r["nfa"], '{"NFA_FLAG": "Y", "OUTCOME_SINGLE_ASSESSMENT_FLAG": "N"}',
            '{"NFA_FLAG": "N", "OUTCOME_SINGLE_ASSESSMENT_FLAG": "Y"}'),
        "cine_referral_nfa": _yn(r["nfa"]),
        "cine_close_reason": np.where(close >= NEVER, None,
                                      np.char.add("RC", r["close_reason"].astype(str))),
        "cine_close_date": dates(close), "cine_referral_team": team,
        "cine_referral_worker_id": worker, "cine_recorded_at": rec,
    })

    # contacts: one before each referral, plus contacts that stop at the front door
    c_day = np.maximum(r["day"] - rng.integers(0, 3, n), child_dob[r["child"]])
    cx = extra_contacts
    cx_keep = (cx["day"] >= p0) & (cx["day"] <= end)
    m = int(cx_keep.sum())
    all_child = np.concatenate([r["child"], cx["child"][cx_keep]])
    all_day = np.concatenate([c_day, cx["day"][cx_keep]])
    in_p = all_day >= p0
    cx_src = np.concatenate([src, cx["source"][cx_keep]])[in_p]
    outcome = np.concatenate([
        np.full(n, '{"NEW_REFERRAL_FLAG": "Y", "NFA_FLAG": "N"}', dtype=object),
        np.where(rng.random(m) < 0.6, '{"NEW_REFERRAL_FLAG": "N", "NFA_FLAG": "Y"}',
                 '{"NEW_REFERRAL_FLAG": "N", "ADVICE_FLAG": "Y", "NFA_FLAG": "Y"}'),
    ])[in_p]
    all_child, all_day = all_child[in_p], all_day[in_p]
    o = lexsort((all_child, all_day))
    _, rec = ag.observe("csc", child_fam[all_child[o]], all_day[o], csc=True)
    out["ssd_contacts"] = frame("ssd_contacts", {
        "cont_contact_id": ids("CT", np.arange(1, len(o) + 1), 8),
        "cont_person_id": child_pid.take(all_child[o]).reset_index(drop=True),
        "cont_contact_date": dates(all_day[o]),
        "cont_contact_source_code": np.array([s[0] for s in SOURCES], dtype=object)[cx_src[o]],
        "cont_contact_source_desc": np.array([s[1] for s in SOURCES], dtype=object)[cx_src[o]],
        "cont_contact_outcome_json": outcome[o], "cont_recorded_at": rec,
    })

    # assessments and their factors
    a = np.flatnonzero(r["assess"] & (r["assess_start"] <= end))
    auth = _nullable_end(r["assess_auth"][a], end)
    na = len(a)
    ass_id = ids("AS", np.arange(1, na + 1), 8)
    nfa_after = (r["close_reason"][a] != 7) & ~r["esc"][a] & ~r["s47"][a]
    _, rec = ag.observe("csc", fam[a], r["assess_start"][a], csc=True)
    out["ssd_cin_assessments"] = frame("ssd_cin_assessments", {
        "cina_assessment_id": ass_id, "cina_person_id": pid.take(a).reset_index(drop=True),
        "cina_referral_id": ref_id.take(a).reset_index(drop=True),
        "cina_assessment_start_date": dates(r["assess_start"][a]),
        "cina_assessment_child_seen": _yn(rng.random(na) < 0.95),
        "cina_assessment_auth_date": dates(auth),
        "cina_assessment_outcome_json": np.where(
            auth >= NEVER, None, np.where(nfa_after, '{"NFA_FLAG": "Y"}', '{"NFA_FLAG": "N"}')),
        "cina_assessment_outcome_nfa": np.where(auth >= NEVER, None, _yn(nfa_after)),
        "cina_assessment_team": team.take(a).reset_index(drop=True),
        "cina_assessment_worker_id": worker.take(a).reset_index(drop=True),
        "cina_recorded_at": rec,
    })
    done = auth < NEVER
    fa = a[done]
    codes = factor_json(r["terms"][fa], r["dom"][fa], child_disabled[r["child"][fa]], rng)
    codes = np.where(uasc[fa], '["9A"]', codes)
    _, rec = ag.observe("csc", fam[fa], auth[done], csc=True)
    out["ssd_assessment_factors"] = frame("ssd_assessment_factors", {
        "cinf_table_id": ids("AF", np.arange(1, len(fa) + 1), 8),
        "cinf_assessment_id": ass_id[done].reset_index(drop=True),
        "cinf_assessment_factors_json": codes, "cinf_recorded_at": rec,
    })

    # s47 enquiries and initial conferences
    s = np.flatnonzero(r["s47"] & (r["s47_day"] <= end))
    s_end = _nullable_end(r["s47_end"][s], end)
    conf = r["icpc"][s]
    s47_id = ids("SE", np.arange(1, len(s) + 1), 8)
    s_nfa = ~conf & (rng.random(len(s)) < 0.5)
    _, rec = ag.observe("csc", fam[s], r["s47_day"][s], csc=True)
    out["ssd_s47_enquiry"] = frame("ssd_s47_enquiry", {
        "s47e_s47_enquiry_id": s47_id, "s47e_referral_id": ref_id.take(s).reset_index(drop=True),
        "s47e_person_id": pid.take(s).reset_index(drop=True),
        "s47e_s47_start_date": dates(r["s47_day"][s]), "s47e_s47_end_date": dates(s_end),
        "s47e_s47_nfa": _yn(s_nfa),
        "s47e_s47_outcome_json": np.where(conf, '{"CP_CONFERENCE_FLAG": "Y", "NFA_FLAG": "N"}',
                                          np.where(s_nfa, '{"CP_CONFERENCE_FLAG": "N", '
                                                   '"NFA_FLAG": "Y"}',
                                                   '{"CP_CONFERENCE_FLAG": "N", "NFA_FLAG": "N"}')),
        "s47e_s47_completed_by_team": team.take(s).reset_index(drop=True),
        "s47e_s47_completed_by_worker_id": worker.take(s).reset_index(drop=True),
        "s47e_recorded_at": rec,
    })
    ic = s[conf & (r["icpc_day"][s] <= end)]
    ic_pos = np.searchsorted(s, ic)
    nic = len(ic)
    icpc_id = ids("IC", np.arange(1, nic + 1), 8)
    plan = r["cp"][ic] & (r["cp_start"][ic] <= end)
    cp_rows = ic[plan]
    cp_id = ids("CP", np.arange(1, len(cp_rows) + 1), 8)
    cp_id_full = pd.Series([None] * nic, dtype="str")
    cp_id_full[plan] = cp_id.to_numpy()
    _, rec = ag.observe("csc", fam[ic], r["icpc_day"][ic], csc=True)
    out["ssd_initial_cp_conference"] = frame("ssd_initial_cp_conference", {
        "icpc_icpc_id": icpc_id, "icpc_icpc_meeting_id": ids("MT", np.arange(1, nic + 1), 8),
        "icpc_s47_enquiry_id": s47_id.take(ic_pos).reset_index(drop=True),
        "icpc_person_id": pid.take(ic).reset_index(drop=True), "icpc_cp_plan_id": cp_id_full,
        "icpc_referral_id": ref_id.take(ic).reset_index(drop=True),
        "icpc_icpc_transfer_in": np.full(nic, "N"),
        "icpc_icpc_target_date": dates(r["s47_day"][ic] + 21),
        "icpc_icpc_date": dates(r["icpc_day"][ic]),
        "icpc_icpc_outcome_cp_flag": _yn(plan),
        "icpc_icpc_outcome_json": np.where(plan, '{"CP_FLAG": "Y"}', '{"CP_FLAG": "N"}'),
        "icpc_icpc_team": team.take(ic).reset_index(drop=True),
        "icpc_icpc_worker_id": worker.take(ic).reset_index(drop=True), "icpc_recorded_at": rec,
    })
    cp_end = _nullable_end(r["cp_end"][cp_rows], end)
    keep_cp = (cp_end >= p0)
    cats = cp_categories(r["terms"][cp_rows], r["dom"][cp_rows], rng)
    latest = np.where(rng.random(len(cp_rows)) < 0.1, cp_categories(
        r["terms"][cp_rows], r["dom"][cp_rows], rng), cats)
    _, rec = ag.observe("csc", fam[cp_rows], r["cp_start"][cp_rows], csc=True)
    out["ssd_cp_plans"] = frame("ssd_cp_plans", {
        "cppl_cp_plan_id": cp_id, "cppl_referral_id": ref_id.take(cp_rows).reset_index(drop=True),
        "cppl_icpc_id": icpc_id[plan].reset_index(drop=True),
        "cppl_person_id": pid.take(cp_rows).reset_index(drop=True),
        "cppl_cp_plan_start_date": dates(r["cp_start"][cp_rows]),
        "cppl_cp_plan_end_date": dates(cp_end), "cppl_cp_plan_ola": np.full(len(cp_rows), "N"),
        "cppl_cp_plan_initial_category": cats, "cppl_cp_plan_latest_category": latest,
        "cppl_recorded_at": rec,
    })[keep_cp].reset_index(drop=True)
    out.update(_care(tl, r, pid, ref_id, fam, child_dob, ag, rng))
    out["ssd_missing"] = _missing(tl, missing, child_pid, child_fam, ag, rng)
    out["ssd_early_help_episodes"] = _early_help(tl, early_help, child_pid, ag, rng)
    return out


def _care(tl, r, pid, ref_id, fam, child_dob, ag, rng) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    end, p0 = tl.end, tl.period_start
    c = np.flatnonzero(r["care"] & (r["care_start"] <= end) & (r["care_end"] >= p0))
    n = len(c)
    start = r["care_start"][c]
    stop = _nullable_end(r["care_end"][c], end)
    uasc = r["uasc"][c]
    age = (start - child_dob[r["child"][c]]) / DAYS_PER_YEAR
    eighteen = child_dob[r["child"][c]] + int(18 * DAYS_PER_YEAR)
    aged_out = r["care_end"][c] >= eighteen
    young = age < 5
    u = rng.random(n)
    reason = np.where(aged_out, np.where(u < 0.4, "E17", np.where(u < 0.8, "E5", "E6")),
                      np.where(young & (stop - start > 500),
                               np.where(u < 0.25, "E11", np.where(u < 0.45, "E12", np.where(
                                   u < 0.65, "E46", "E4A"))),
                               np.where(u < 0.5, "E4A", np.where(u < 0.65, "E13", np.where(
                                   u < 0.75, "E8", np.where(u < 0.85, "E4B", np.where(
                                       u < 0.92, "E41", "E3")))))))
    reason = np.where(stop >= NEVER, None, reason)
    need = np.where(uasc, "N8", np.where(rng.random(n) < 0.72, "N1", np.where(
        rng.random(n) < 0.5, "N5", np.where(rng.random(n) < 0.5, "N4", "N3"))))
    cla = ids("CL", np.arange(1, n + 1), 8)
    _, rec = ag.observe("csc", fam[c], start, csc=True)
    out = {"ssd_cla_episodes": frame("ssd_cla_episodes", {
        "clae_cla_episode_id": cla, "clae_person_id": pid.take(c).reset_index(drop=True),
        "clae_cla_placement_id": ids("PL", np.arange(1, n + 1), 8),
        "clae_cla_episode_start_date": dates(start),
        "clae_cla_episode_start_reason": np.full(n, "S"), "clae_cla_primary_need_code": need,
        "clae_cla_episode_ceased_date": dates(stop), "clae_cla_episode_ceased_reason": reason,
        "clae_cla_id": ids("PC", np.arange(1, n + 1), 8),
        "clae_referral_id": ref_id.take(c).reset_index(drop=True),
        "clae_cla_last_iro_contact_date": dates(np.minimum(start + 120, np.minimum(stop, end))),
        "clae_entered_care_date": dates(start), "clae_recorded_at": rec,
    })}
    direct = r["direct"][c]
    u = rng.random(n)
    status = np.where(uasc, np.where(u < 0.95, "V2", "L1"), np.where(
        direct, np.where(u < 0.50, "V2", np.where(u < 0.80, "C1", np.where(
            u < 0.96, "L1", np.where(u < 0.98, "L2", "J2")))),
        np.where(u < 0.25, "V2", "C1")))
    ico_long = (status == "C1") & (stop - start > 300)
    s1_end = np.where(ico_long, start + 280, stop)
    l_person = np.concatenate([c, c[ico_long]])
    l_start = np.concatenate([start, start[ico_long] + 281])
    l_end = np.concatenate([s1_end, stop[ico_long]])
    l_status = np.concatenate([status, np.full(int(ico_long.sum()), "C2")])
    keep = (l_start <= end) & ((l_end >= p0))
    l_end = _nullable_end(l_end, end)
    m = int(keep.sum())
    _, rec = ag.observe("csc", fam[l_person[keep]], l_start[keep], csc=True)
    out["ssd_legal_status"] = frame("ssd_legal_status", {
        "lega_legal_status_id": ids("LS", np.arange(1, m + 1), 8),
        "lega_person_id": pid.take(l_person[keep]).reset_index(drop=True),
        "lega_legal_status": l_status[keep], "lega_legal_status_start_date": dates(l_start[keep]),
        "lega_legal_status_end_date": dates(l_end[keep]), "lega_recorded_at": rec,
    })
    return out


def _missing(tl, missing, child_pid, child_fam, ag, rng) -> pd.DataFrame:  # noqa: ANN001
    k = (missing["day"] >= tl.period_start) & (missing["day"] <= tl.end)
    child, day = missing["child"][k], missing["day"][k]
    o = lexsort((child, day))
    child, day = child[o], day[o]
    n = len(day)
    dur = np.where(rng.random(n) < 0.6, 0, rng.integers(1, 8, n))
    stop = _nullable_end(day + dur, tl.end)
    typ = np.where(rng.random(n) < 0.85, "M", "A")
    offered = np.where(typ == "A", "NA", np.where(rng.random(n) < 0.85, "Y", "N"))
    accepted = np.where(offered == "Y", np.where(rng.random(n) < 0.5, "Y", "N"), "NA")
    _, rec = ag.observe("csc", child_fam[child], day, csc=True)
    return frame("ssd_missing", {
        "miss_table_id": ids("MS", np.arange(1, n + 1), 8),
        "miss_person_id": child_pid.take(child).reset_index(drop=True),
        "miss_missing_episode_start_date": dates(day), "miss_missing_episode_type": typ,
        "miss_missing_episode_end_date": dates(stop), "miss_missing_rhi_offered": offered,
        "miss_missing_rhi_accepted": accepted, "miss_recorded_at": rec,
    })


EH_REASONS = ("Family support", "Parenting", "School attendance", "Domestic abuse",
              "Parental mental health", "Housing", "Child behaviour")
EH_ORGS = ("Early Help Hub", "School", "Health visiting", "Family hub", "Voluntary sector")
EH_ENDS = (("Outcomes met", 0.6), ("Family disengaged", 0.15), ("Stepped up to CSC", 0.1),
           ("Moved away", 0.05), ("Other", 0.1))


def _early_help(tl, eh, child_pid, ag, rng) -> pd.DataFrame:  # noqa: ANN001
    """One row per child aged under 18 in the family when the episode starts."""
    kids = eh["kids"]
    start, stop = eh["start"][kids["episode"]], eh["end"][kids["episode"]]
    k = (start <= tl.end) & (stop >= tl.period_start)
    child, start, stop = kids["child"][k], start[k], stop[k]
    step = eh["reason"][kids["episode"]][k] == 1
    o = lexsort((child, start))
    child, start, stop, step = child[o], start[o], stop[o], step[o]
    n = len(child)
    reason = np.where(step, "Step-down from children's social care",
                      np.array(EH_REASONS, dtype=object)[rng.integers(0, len(EH_REASONS), n)])
    stop_n = _nullable_end(stop, tl.end)
    _, rec = ag.observe("early_help", np.full(n, -1), start, csc=True)
    return frame("ssd_early_help_episodes", {
        "earl_episode_id": ids("EH", np.arange(1, n + 1), 8),
        "earl_person_id": child_pid.take(child).reset_index(drop=True),
        "earl_episode_start_date": dates(start), "earl_episode_end_date": dates(stop_n),
        "earl_episode_reason": reason,
        "earl_episode_end_reason": np.where(stop_n >= NEVER, None, _pick(rng, EH_ENDS, n)),
        "earl_episode_organisation": np.array(EH_ORGS, dtype=object)[
            rng.integers(0, len(EH_ORGS), n)],
        # allocated later to a real Early Help team and worker (``_workforce``)
        "earl_episode_worker_id": np.full(n, None, dtype=object),
        "earl_episode_team": np.full(n, None, dtype=object),
        "earl_recorded_at": rec,
    })
