"""The LA's workforce: teams, staff and their allocations to children.

Builds ``ssd_department``, ``ssd_professionals`` and ``ssd_involvements``.

Each area has an Early Help team, an assessment and child-in-need team, a
child protection team and a children-in-care team (split into several teams
of about seven workers when the area is busy). Every Early Help episode, CIN
episode, CP plan and CLA episode gets an allocated worker (role ``CW``) from
the right team in the family's area; siblings whose episodes start on the same
day share a worker. Long episodes sometimes change worker: the chance of a
change grows with the episode's length (1 - exp(-days / 540)), and the
outgoing row carries the ``invo_worker_change_reason``.

Worked example: an EH episode for child P1 starts 2022-03-01 and is still open
at the extract date 2024-03-31 (761 days). With probability
1 - exp(-761/540) = 0.76 the worker changes, at a day drawn between 20% and
80% of the way through, say 2023-01-15: rows (2022-03-01, 2023-01-15, reason)
and (2023-01-15, open).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from earlywarning.data.synthetic._context import (
    AncillaryContext,
    make_frame,
    obj,
    sequential_ids,
    string_array,
    to_days,
)
from earlywarning.data.synthetic._fake_identity import (
    drama_phone_numbers,
    email_addresses,
    sample_forenames,
    sample_origins,
    sample_surnames,
)

__all__ = ["KINDS", "Workforce", "build_workforce"]


@dataclass(frozen=True)
class _Kind:
    key: str
    code: str
    team_label: str
    caseload: int
    titles: tuple[str, ...]
    title_p: tuple[float, ...]
    manager: str
    social_work: bool


KINDS = (
    _Kind("eh", "EH", "Early Help", 20,
          ("Early Help Practitioner", "Family Support Worker", "Senior Early Help Practitioner"),
          (0.55, 0.3, 0.15), "Early Help Team Leader", False),
    _Kind("cin", "AS", "Assessment and Child in Need", 17,
          ("Social Worker", "Senior Social Worker", "Advanced Practitioner",
           "Social Worker (ASYE)"), (0.5, 0.25, 0.1, 0.15), "Team Manager", True),
    _Kind("cp", "CP", "Child Protection", 15,
          ("Social Worker", "Senior Social Worker", "Advanced Practitioner"),
          (0.55, 0.3, 0.15), "Team Manager", True),
    _Kind("cla", "CL", "Children in Care", 15,
          ("Social Worker", "Senior Social Worker", "Advanced Practitioner"),
          (0.6, 0.3, 0.1), "Team Manager", True),
)  # fmt: skip
"""Kinds of allocation, each served by one kind of team per area."""

_EPISODE_SOURCES = (
    ("eh", "ssd_early_help_episodes", "earl_episode_id", "earl_person_id",
     "earl_episode_start_date", "earl_episode_end_date", None, "earl_recorded_at"),
    ("cin", "ssd_cin_episodes", "cine_referral_id", "cine_person_id", "cine_referral_date",
     "cine_close_date", "cine_referral_id", "cine_recorded_at"),
    ("cp", "ssd_cp_plans", "cppl_cp_plan_id", "cppl_person_id", "cppl_cp_plan_start_date",
     "cppl_cp_plan_end_date", "cppl_referral_id", "cppl_recorded_at"),
    ("cla", "ssd_cla_episodes", "clae_cla_episode_id", "clae_person_id",
     "clae_cla_episode_start_date", "clae_cla_episode_ceased_date", "clae_referral_id",
     "clae_recorded_at"),
)  # fmt: skip

_CHANGE_REASON_P = {
    "LEFTRL": 0.3, "ORGRST": 0.15, "MANAGE": 0.15, "ABSENC": 0.12, "TSPROC": 0.1,
    "CHCHAN": 0.05, "PCCHAN": 0.03, "FCONTA": 0.03, "OTHERS": 0.07,
}  # fmt: skip
_AREA_CODES = {"North": "N", "South": "S", "Central": "C", "East": "E", "West": "W",
               "Riverside": "R"}
_WORKERS_PER_TEAM = 7
_CHANGE_SCALE_DAYS = 540.0


@dataclass
class Workforce:
    """The workforce tables and, per episode, who led it.

    Attributes
    ----------
    department, professionals, involvements : pandas.DataFrame
        ``ssd_department``, ``ssd_professionals`` and ``ssd_involvements``.
    episodes : pandas.DataFrame
        One row per episode: ``row`` (position in its source table),
        ``kind`` (index into :data:`KINDS`), ``person`` (person code), ``start,
        end, recorded_at, first_prof, last_prof`` (positions in
        ``professionals`` of the first and latest allocated worker) and ``team``.
    """

    department: pd.DataFrame
    professionals: pd.DataFrame
    involvements: pd.DataFrame
    episodes: pd.DataFrame


def _collect_episodes(ctx: AncillaryContext) -> pd.DataFrame:
    parts = []
    for k, (_key, table, _id_col, pid, start, end, ref, rec) in enumerate(_EPISODE_SOURCES):
        df = ctx.table(table)
        parts.append(pd.DataFrame({
            "row": np.arange(len(df), dtype=np.int64),
            "kind": np.full(len(df), k, dtype=np.int64),
            "person": ctx.codes(table, pid),
            "start": to_days(df[start]),
            "end": to_days(df[end]),
            "referral_id": pd.Series(obj(df[ref]) if ref else np.full(len(df), None),
                                     dtype=object),
            "recorded_at": pd.to_datetime(df[rec]).to_numpy(dtype="datetime64[ns]"),
        }))
    eps = pd.concat(parts, ignore_index=True)
    eps = eps[eps["start"].notna() & (eps["start"] <= ctx.extract_date) & (eps["person"] >= 0)]
    eps.loc[eps["end"] > ctx.extract_date, "end"] = np.datetime64("NaT")
    eps = eps.reset_index(drop=True)
    person = eps["person"].to_numpy()
    eps["area"] = ctx.area_of(person)
    # siblings are allocated together: group by family (or by person when there is none)
    fam = ctx.family_of(person)
    eps["group"] = np.where(fam >= 0, fam, len(ctx.family_index) + person)
    return eps


def _staffing(ctx: AncillaryContext, eps: pd.DataFrame) -> np.ndarray:
    """Workers needed per (area, kind): average open cases over the period over caseload."""
    n_areas = len(ctx.area_names)
    window = max(int((ctx.extract_date - ctx.period_start) / np.timedelta64(1, "D")), 1)
    end = eps["end"].fillna(ctx.extract_date).to_numpy(dtype="datetime64[D]")
    start = np.maximum(eps["start"].to_numpy(dtype="datetime64[D]"), ctx.period_start)
    days = np.clip((end - start).astype(np.int64), 0, None)
    cell = eps["area"].to_numpy() * len(KINDS) + eps["kind"].to_numpy()
    mean_open = np.bincount(cell, weights=days, minlength=n_areas * len(KINDS)) / window
    open_now = np.bincount(cell, weights=eps["end"].isna().to_numpy(),
                           minlength=n_areas * len(KINDS))
    caseload = np.tile([k.caseload for k in KINDS], n_areas)
    need = np.ceil(np.maximum(mean_open, open_now) / caseload).astype(np.int64)
    return np.maximum(need, 2).reshape(n_areas, len(KINDS))


def _build_staff(
    ctx: AncillaryContext, need: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Teams and staff. Returns department, staff frame, worker offsets and counts per cell."""
    dept_rows = {"dept_team_id": ["LA"],
                 "dept_team_name": [f"{ctx.la_name} Children's Services"],
                 "dept_team_parent_id": [None], "dept_team_parent_name": [None]}
    staff_team, staff_title, staff_manager, staff_kind = [], [], [], []
    worker_offset = np.zeros(need.shape, dtype=np.int64)
    worker_rows: list[np.ndarray] = []
    for a, area in enumerate(ctx.area_names):  # at most 6 areas x 4 kinds: not per person
        area_id = f"AREA-{_AREA_CODES[area]}"
        dept_rows["dept_team_id"].append(area_id)
        dept_rows["dept_team_name"].append(f"{area} area")
        dept_rows["dept_team_parent_id"].append("LA")
        dept_rows["dept_team_parent_name"].append(f"{ctx.la_name} Children's Services")
        for k, kind in enumerate(KINDS):
            n_teams = int(np.ceil(need[a, k] / _WORKERS_PER_TEAM))
            team_ids = [f"{_AREA_CODES[area]}-{kind.code}{t + 1}" for t in range(n_teams)]
            for t, tid in enumerate(team_ids):
                suffix = f" {t + 1}" if n_teams > 1 else ""
                dept_rows["dept_team_id"].append(tid)
                dept_rows["dept_team_name"].append(f"{kind.team_label} {area}{suffix}")
                dept_rows["dept_team_parent_id"].append(area_id)
                dept_rows["dept_team_parent_name"].append(f"{area} area")
            teams = np.array(team_ids, dtype=object)
            # managers first, then workers spread round-robin over the cell's teams
            worker_offset[a, k] = len(staff_team) + n_teams
            staff_team += list(teams) + list(teams[np.arange(need[a, k]) % n_teams])
            staff_manager += [True] * n_teams + [False] * int(need[a, k])
            p = np.array(kind.title_p)
            staff_title += [kind.manager] * n_teams + list(
                np.array(kind.titles, dtype=object)[rng.choice(len(p), int(need[a, k]),
                                                               p=p / p.sum())])
            staff_kind += [k] * (n_teams + int(need[a, k]))
            worker_rows.append(np.arange(worker_offset[a, k], worker_offset[a, k] + need[a, k]))
    n = len(staff_team)
    origins = sample_origins(n, rng)
    sexes = np.where(rng.random(n) < 0.82, "F", "M").astype(object)
    fore = sample_forenames(origins, sexes, rng)
    sur = sample_surnames(origins, rng)
    kind_arr = np.array(staff_kind)
    social_work = np.array([KINDS[k].social_work for k in kind_arr], dtype=bool)
    manager = np.array(staff_manager, dtype=bool)
    agency = np.where(social_work & ~manager, rng.random(n) < 0.15, rng.random(n) < 0.03)
    swe = "SW" + pd.Series(rng.integers(10_000, 200_000, n)).astype(str)
    staff = pd.DataFrame({
        "prof_professional_id": [f"PROF{i + 1:06d}" for i in range(n)],
        "prof_staff_id": [f"STF{x:07d}" for x in rng.permutation(n) + 1000],
        "prof_professional_name": pd.Series(fore) + " " + pd.Series(sur),
        "prof_social_worker_registration_no": swe.where(social_work, None),
        "prof_agency_worker_flag": np.where(agency, "Y", "N"),
        "prof_professional_job_title": staff_title,
        "prof_professional_department": staff_team,
        "prof_full_time_equivalency": rng.choice([1.0, 0.8, 0.6, 0.5], n,
                                                 p=[0.75, 0.12, 0.08, 0.05]),
        "prof_contact_email": email_addresses(fore, sur, f"{ctx.la_slug}.gov.example"),
        "prof_contact_phone": drama_phone_numbers(n, rng),
    })
    dept = make_frame("ssd_department", dept_rows, len(dept_rows["dept_team_id"]))
    return dept, staff, worker_offset, need


def _allocate(
    ctx: AncillaryContext, eps: pd.DataFrame, offset: np.ndarray, count: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Allocation rows (one or two per episode) as positions into the staff frame."""
    start_day = eps["start"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    composite = (eps["group"].to_numpy() * len(KINDS) + eps["kind"].to_numpy()) * 200_000 + (
        start_day - (start_day.min() if len(start_day) else 0))
    key = pd.factorize(composite)[0]
    n_keys = int(key.max()) + 1 if len(key) else 0
    u_worker, u_change, frac, u_new = (rng.random(n_keys) for _ in range(4))
    reasons = np.array(list(_CHANGE_REASON_P), dtype=object)
    p = np.array(list(_CHANGE_REASON_P.values()))
    reason_key = reasons[rng.choice(len(reasons), n_keys, p=p / p.sum())]

    area, kind = eps["area"].to_numpy(), eps["kind"].to_numpy()
    n = count[area, kind]
    local = np.floor(u_worker[key] * n).astype(np.int64)
    first = offset[area, kind] + local
    second = offset[area, kind] + (local + 1 + np.floor(u_new[key] * (n - 1)).astype(np.int64)) % n

    start = eps["start"].to_numpy(dtype="datetime64[D]")
    end = eps["end"].to_numpy(dtype="datetime64[D]")
    stop = np.where(np.isnat(end), ctx.extract_date, end)
    dur = (stop - start).astype(np.int64)
    key_dur = np.zeros(n_keys, dtype=np.int64)
    np.maximum.at(key_dur, key, dur)
    change_day = start + np.maximum(1, np.floor(frac[key] * key_dur[key])).astype("timedelta64[D]")
    change = (u_change[key] < 1 - np.exp(-key_dur[key] / _CHANGE_SCALE_DAYS)) & (
        (change_day < end) | (np.isnat(end) & (change_day <= ctx.extract_date)))

    row_ep = np.concatenate([np.arange(len(eps)), np.flatnonzero(change)])
    return pd.DataFrame({
        "ep": row_ep,
        "prof": np.concatenate([first, second[change]]),
        "start": np.concatenate([start, change_day[change]]),
        "end": np.concatenate([np.where(change, change_day, end), end[change]]),
        "reason": np.concatenate([np.where(change, reason_key[key], None),
                                  np.full(int(change.sum()), None, dtype=object)]),
    })


def build_workforce(ctx: AncillaryContext, rng: np.random.Generator) -> Workforce:
    """Build teams, staff and allocations for every EH, CIN, CP and CLA episode.

    Parameters
    ----------
    ctx : AncillaryContext
        Context from the core tables.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    Workforce
    """
    eps = _collect_episodes(ctx)
    need = _staffing(ctx, eps)
    dept, staff, offset, count = _build_staff(ctx, need, rng)
    alloc = _allocate(ctx, eps, offset, count, rng)

    lag = rng.integers(0, 3 * 86_400, len(alloc)).astype("timedelta64[s]")
    rec = np.minimum(alloc["start"].to_numpy(dtype="datetime64[ns]") + lag, ctx.extract_ts)
    team = staff["prof_professional_department"].to_numpy(dtype=object)
    prof_id = staff["prof_professional_id"].to_numpy(dtype=object)
    ep_rows = alloc["ep"].to_numpy()
    invo = make_frame("ssd_involvements", {
        "invo_involvements_id": sequential_ids("INV", len(alloc), 8),
        "invo_professional_id": prof_id[alloc["prof"]],
        "invo_professional_role_id": np.full(len(alloc), "CW", dtype=object),
        "invo_professional_team": team[alloc["prof"]],
        "invo_person_id": ctx.person_ids(eps["person"].to_numpy()[ep_rows]),
        "invo_involvement_start_date": alloc["start"].to_numpy(),
        "invo_involvement_end_date": alloc["end"].to_numpy(),
        "invo_worker_change_reason": alloc["reason"].to_numpy(dtype=object),
        "invo_referral_id": eps["referral_id"].to_numpy(dtype=object)[ep_rows],
        "invo_recorded_at": rec,
    }, len(alloc))

    open_now = alloc["end"].isna().to_numpy()
    caseload = np.bincount(alloc["prof"].to_numpy()[open_now], minlength=len(staff))
    staff["prof_professional_caseload"] = caseload
    professionals = make_frame("ssd_professionals", staff.to_dict("series"), len(staff))

    last = alloc.drop_duplicates("ep", keep="last").sort_values("ep")
    eps["first_prof"] = alloc["prof"].to_numpy()[: len(eps)]
    eps["last_prof"] = last["prof"].to_numpy()
    eps["team"] = team[eps["first_prof"].to_numpy()] if len(eps) else []
    return Workforce(dept, professionals, invo, eps)


def fill_episode_allocations(
    tables: dict[str, pd.DataFrame], wf: Workforce
) -> dict[str, pd.DataFrame]:
    """Set team and worker columns of the CSC tables where they are null.

    Early Help episodes get ``earl_episode_team`` / ``earl_episode_worker_id``;
    CIN episodes, their assessments and s47 enquiries get the team and worker
    allocated to the referral.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Tables to update (copies are made of the ones changed).
    wf : Workforce
        The allocations.

    Returns
    -------
    dict of str to pandas.DataFrame
    """
    out = dict(tables)
    prof_id = obj(wf.professionals["prof_professional_id"])
    eps = wf.episodes
    kind, row = eps["kind"].to_numpy(), eps["row"].to_numpy()
    worker = prof_id[eps["first_prof"].to_numpy()] if len(eps) else np.array([], dtype=object)
    team = obj(eps["team"])

    def by_row(table: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(out[table]) if table in out else 0
        w, t = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
        sel = kind == k
        w[row[sel]], t[row[sel]] = worker[sel], team[sel]
        return w, t

    fills: dict[str, dict[str, np.ndarray]] = {}
    if "ssd_early_help_episodes" in out:
        w, t = by_row("ssd_early_help_episodes", 0)
        fills["ssd_early_help_episodes"] = {"earl_episode_team": t, "earl_episode_worker_id": w}
    if "ssd_cin_episodes" in out:
        w, t = by_row("ssd_cin_episodes", 1)
        fills["ssd_cin_episodes"] = {"cine_referral_team": t, "cine_referral_worker_id": w}
        cin_ids = pd.Index(obj(out["ssd_cin_episodes"]["cine_referral_id"]), dtype=object)
        for table, ref, team_col, worker_col in (
            ("ssd_cin_assessments", "cina_referral_id", "cina_assessment_team",
             "cina_assessment_worker_id"),
            ("ssd_s47_enquiry", "s47e_referral_id", "s47e_s47_completed_by_team",
             "s47e_s47_completed_by_worker_id"),
        ):
            if table in out and len(cin_ids):
                pos = cin_ids.get_indexer(obj(out[table][ref]))
                fills[table] = {team_col: np.where(pos >= 0, t[np.maximum(pos, 0)], None),
                                worker_col: np.where(pos >= 0, w[np.maximum(pos, 0)], None)}
    for table, cols in fills.items():
        df = out[table]
        if not len(df):
            continue
        new = {}
        for col, values in cols.items():
            current = obj(df[col]) if col in df.columns else np.full(len(df), None, dtype=object)
            new[col] = string_array(np.where(pd.isna(current), values, current))
        out[table] = df.assign(**new)
    return out
