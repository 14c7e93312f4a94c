"""A small synthetic warehouse with just what the web app reads.

For the app's tests and benchmark when no demo warehouse with flags exists:
schema tables are created from :mod:`earlywarning.data.schema` declarations
(so column names and types are the contract's), filled with a few coherent
families, plus ``flags``, ``flag_reasons`` and ``flag_provenance`` shaped as
the Flags contract says. It is not a model of an LA: the synthetic LA
generator is.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import pandas as pd
from earlywarning.data.schema import TABLES

__all__ = ["build_sample_warehouse", "SAMPLE_TEAMS", "XSS_NOTE"]

_SQL_TYPES = {"string": "VARCHAR", "json": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
              "int": "BIGINT", "float": "DOUBLE"}
SAMPLE_TEAMS = (
    ("T-EH-N1", "Early Help North 1", "A-NORTH", "North locality"),
    ("T-EH-N2", "Early Help North 2", "A-NORTH", "North locality"),
    ("T-EH-S1", "Early Help South 1", "A-SOUTH", "South locality"),
    ("T-EH-S2", "Early Help South 2", "A-SOUTH", "South locality"),
)
XSS_NOTE = '<script>alert("voice")</script> We want help <b>now</b> & "soon"'
"""A voice note carrying markup; the app must show it as text."""

_ETHNICITIES = ("WBRI", "BAFR", "APKN", "MWBC")
_FORENAMES = ("Alex", "Sam", "Jordan", "Riley", "Casey", "Morgan", "Taylor", "Jamie", "Robin",
              "Charlie", "Avery", "Quinn", "Rowan", "Skyler", "Emerson", "Finley")
_SURNAMES = ("Ashdown", "Birchall", "Calloway", "Dunmore", "Ellery", "Fairbank", "Greenhalgh",
             "Hollins", "Ivers", "Jessop", "Kettering", "Lomax")
_SERVICES = (
    ("Adult mental health team", "adult_mental_health", "Care coordinator"),
    ("Drug and alcohol service", "drug_alcohol", "Recovery worker"),
    ("Health visiting", "health_visiting", "Health visitor"),
    ("Primary school", "school", "Designated safeguarding lead"),
    ("Neighbourhood policing", "police", "Police community support officer"),
    ("Housing options", "housing", "Housing officer"),
    ("Early Help", "early_help", "Family support worker"),
)
_REASONS_RISK = (
    ("police", "police_da_household_count_365d", "Police recorded {n} domestic abuse incidents "
     "at the child's home in the last year"),
    ("school", "school_absence_rate_365d", "The child missed {n}% of school sessions last year"),
    ("adult_mental_health", "parent_mh_referral_count_730d",
     "A parent was referred to adult mental health services {n} times in two years"),
    ("housing", "housing_crisis_count_365d", "The family had {n} housing crises in the last year"),
)
_REASONS_PROTECTIVE = (
    ("early_help", "early_help_engaged_365d", "The family took part in Early Help support"),
    ("school", "school_attendance_good_365d", "The child's attendance is good this term"),
)


def _create(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    t = TABLES[name]
    cols = ", ".join(f'"{c.name}" {_SQL_TYPES[c.dtype]}' for c in t.columns)
    con.execute(f'CREATE TABLE "{name}" ({cols})')
    return t.column_names


def _insert(con: duckdb.DuckDBPyConnection, name: str, rows: list[dict]) -> None:
    if not rows:
        return
    cols = TABLES[name].column_names if name in TABLES else list(rows[0])
    frame = pd.DataFrame([[r.get(c) for c in cols] for r in rows], columns=cols, dtype=object)
    con.register("_ew_rows", frame)
    names = ", ".join(f'"{c}"' for c in cols)
    con.execute(f'INSERT INTO "{name}" ({names}) SELECT {names} FROM _ew_rows')
    con.unregister("_ew_rows")


def build_sample_warehouse(
    path: Path, *, n_families: int = 40, seed: int = 1, as_of: dt.date = dt.date(2025, 6, 1),
    xss_note: bool = True,
) -> Path:
    """Write a DuckDB warehouse at ``path`` with ``n_families`` flagged families.

    Every family has one flagged child (rank 1 = highest risk), a parent and
    sometimes a sibling; roughly one family in six has no team (not allocated).

    Returns
    -------
    Path
        ``path``.
    """
    rng = random.Random(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    needed = ("ssd_person", "ext_person_identity", "ssd_family", "ext_person_relationship",
              "ssd_address", "ssd_disability", "ssd_department", "ssd_professionals",
              "ssd_involvements", "ssd_early_help_episodes", "ext_service_involvement",
              "ext_family_voice", "ext_police_event", "ext_housing_event", "ext_health_event",
              "ssd_cin_episodes", "ext_school_attendance")
    for name in needed:
        _create(con, name)
    con.execute("""CREATE TABLE flags (flag_id VARCHAR, person_id VARCHAR, family_id VARCHAR,
        as_of DATE, risk DOUBLE, band VARCHAR, rank BIGINT, model_name VARCHAR,
        model_version VARCHAR, run_id VARCHAR, created_at TIMESTAMP)""")
    con.execute("""CREATE TABLE flag_reasons (flag_id VARCHAR, direction VARCHAR, agency VARCHAR,
        feature VARCHAR, text VARCHAR, contribution DOUBLE, "order" BIGINT)""")
    con.execute("""CREATE TABLE flag_provenance (flag_id VARCHAR, agency VARCHAR,
        extract_date DATE, coverage VARCHAR, note VARCHAR)""")
    con.execute("CREATE TABLE _warehouse_meta (key VARCHAR, value VARCHAR)")

    rows: dict[str, list[dict]] = {n: [] for n in needed}
    flags, reasons, prov = [], [], []
    rec = dt.datetime.combine(as_of, dt.time()) - dt.timedelta(days=1)
    for t_id, t_name, a_id, a_name in SAMPLE_TEAMS:
        rows["ssd_department"].append({"dept_team_id": t_id, "dept_team_name": t_name,
                                       "dept_team_parent_id": a_id,
                                       "dept_team_parent_name": a_name})
    risks = sorted((rng.uniform(0.08, 0.7) for _ in range(n_families)), reverse=True)
    for i in range(n_families):
        fam = f"F{i:05d}"
        child, parent, sib = f"P{i:05d}C", f"P{i:05d}A", f"P{i:05d}S"
        surname = rng.choice(_SURNAMES)
        born = as_of.replace(year=as_of.year - rng.randint(2, 15), day=1)
        members = [(child, "Y", rng.choice("FM"), born),
                   (parent, "N", "F", as_of.replace(year=as_of.year - rng.randint(24, 45), day=1))]
        if rng.random() < 0.5:
            members.append((sib, "Y", rng.choice("FM"),
                            as_of.replace(year=as_of.year - rng.randint(1, 16), day=1)))
        for pid, is_child, sex, dob in members:
            rows["ssd_person"].append({"pers_person_id": pid, "pers_sex": sex,
                                       "pers_ethnicity": rng.choice(_ETHNICITIES),
                                       "pers_dob": dob, "pers_is_child": is_child})
            rows["ext_person_identity"].append({"iden_person_id": pid,
                                                "iden_forename": rng.choice(_FORENAMES),
                                                "iden_surname": surname, "iden_dob": dob})
            rows["ssd_family"].append({"fami_table_id": f"FM{pid}", "fami_family_id": fam,
                                       "fami_person_id": pid, "fami_start_date": dob,
                                       "fami_recorded_at": rec})
            rows["ssd_address"].append({"addr_table_id": f"AD{pid}", "addr_person_id": pid,
                                        "addr_address_start_date": dob,
                                        "addr_lsoa_code": "E01000001",
                                        "addr_imd_decile": rng.randint(1, 10),
                                        "addr_recorded_at": rec})
            if pid != child:
                rel = "parent" if is_child == "N" else "sibling"
                rows["ext_person_relationship"].append({
                    "rela_relationship_id": f"R{pid}", "rela_person_id": child,
                    "rela_related_person_id": pid, "rela_relationship": rel,
                    "rela_same_household": "Y", "rela_start_date": members[0][3],
                    "rela_recorded_at": rec})
        rows["ssd_disability"].append({"disa_table_id": f"DI{child}", "disa_person_id": child,
                                       "disa_disability_code": rng.choice(("NONE", "NONE", "AUT"))})
        team = None if i % 6 == 5 else SAMPLE_TEAMS[i % 4]
        if team:
            rows["ssd_early_help_episodes"].append({
                "earl_episode_id": f"EH{i}", "earl_person_id": child,
                "earl_episode_start_date": as_of - dt.timedelta(days=rng.randint(30, 300)),
                "earl_episode_reason": "parenting_support", "earl_episode_team": team[0],
                "earl_recorded_at": rec})
        for k in range(rng.randint(1, 4)):
            rows["ext_police_event"].append({
                "poli_event_id": f"PE{i}-{k}", "poli_incident_id": f"PI{i}-{k}",
                "poli_person_id": parent,
                "poli_event_date": as_of - dt.timedelta(days=rng.randint(5, 700)),
                "poli_event_type": "domestic_abuse", "poli_role": "victim",
                "poli_recorded_at": rec})
        rows["ext_housing_event"].append({
            "hous_event_id": f"HE{i}", "hous_person_id": parent,
            "hous_event_date": as_of - dt.timedelta(days=rng.randint(5, 900)),
            "hous_event_type": "rent_arrears", "hous_recorded_at": rec})
        rows["ext_health_event"].append({
            "heal_event_id": f"HL{i}", "heal_person_id": parent, "heal_service":
            "adult_mental_health", "heal_event_type": "referral",
            "heal_event_date": as_of - dt.timedelta(days=rng.randint(5, 900)),
            "heal_recorded_at": rec})
        rows["ext_school_attendance"].append({
            "atte_attendance_id": f"AT{i}", "atte_person_id": child,
            "atte_term_start_date": as_of - dt.timedelta(days=120),
            "atte_term_end_date": as_of - dt.timedelta(days=30), "atte_sessions_possible": 120,
            "atte_sessions_missed": rng.randint(0, 30), "atte_recorded_at": rec})
        for k, (service, agency, role) in enumerate(rng.sample(_SERVICES, 3)):
            lead = f"{rng.choice(_FORENAMES)} {rng.choice(_SURNAMES)}"
            current = k < 2
            rows["ext_service_involvement"].append({
                "serv_involvement_id": f"SV{i}-{k}", "serv_person_id": rng.choice(
                    [m[0] for m in members]),
                "serv_family_id": fam, "serv_service": service, "serv_agency": agency,
                "serv_status": "current" if current else "historic",
                "serv_start_date": as_of - dt.timedelta(days=rng.randint(200, 1500)),
                "serv_end_date": None if current else as_of - dt.timedelta(days=100),
                "serv_lead_name": lead, "serv_lead_role": role,
                "serv_lead_email": lead.lower().replace(" ", ".") + "@example.org",
                "serv_lead_phone": f"01632 {rng.randint(100000, 999999)}",
                "serv_recorded_at": rec})
        text = XSS_NOTE if (xss_note and i == 0) else rng.choice((
            "We are struggling since the move and want someone to talk to.",
            "Mum says school has been helpful; she worries about money.",
            "I would like help with my son's sleep and behaviour."))
        rows["ext_family_voice"].append({
            "voic_note_id": f"VN{i}", "voic_person_id": parent, "voic_family_id": fam,
            "voic_author_role": "parent", "voic_text": text, "voic_consent": "Y",
            "voic_recorded_at": rec - dt.timedelta(days=rng.randint(1, 200))})
        rows["ext_family_voice"].append({
            "voic_note_id": f"VX{i}", "voic_person_id": parent, "voic_family_id": fam,
            "voic_author_role": "parent", "voic_text": "NOT CONSENTED NOTE", "voic_consent": "N",
            "voic_recorded_at": rec})
        fid = f"FL-{as_of:%Y%m}-{i:05d}"
        risk = risks[i]
        band = f"about 1 in {max(2, round(1 / risk))} ({'high' if risk >= 0.4 else 'raised'})"
        flags.append({"flag_id": fid, "person_id": child, "family_id": fam, "as_of": as_of,
                      "risk": risk, "band": band, "rank": i + 1,
                      "model_name": "earlywarning-demo", "model_version": "1",
                      "run_id": "sample-run", "created_at": rec})
        for o, (agency, feat, text) in enumerate(rng.sample(_REASONS_RISK, 3)):
            reasons.append({"flag_id": fid, "direction": "risk", "agency": agency,
                            "feature": feat, "text": text.format(n=rng.randint(2, 20)),
                            "contribution": 0.3 - 0.05 * o, "order": o})
        agency, feat, text = rng.choice(_REASONS_PROTECTIVE)
        reasons.append({"flag_id": fid, "direction": "protective", "agency": agency,
                        "feature": feat, "text": text, "contribution": -0.1, "order": 3})
        reasons.append({"flag_id": fid, "direction": "missing_data", "agency": "gp",
                        "feature": "coverage_gp", "text": "GP records are not linked for this "
                        "family, so health concerns seen by the GP are not counted",
                        "contribution": None, "order": 4})
        for agency, days, cov, note in (
                ("police", 10, 1.0, "its records raised this child's risk"),
                ("school", 40, 0.75, "its records lowered this child's risk"),
                ("gp", 400, 0.0, "no data linked for this child, so the model could not use it"),
                ("csc", 5, None, "the council's own records: no coverage measure"),
        ):
            prov.append({"flag_id": fid, "agency": agency,
                         "extract_date": as_of - dt.timedelta(days=days), "coverage": cov,
                         "note": note})
        prov.append({"flag_id": fid, "agency": "model", "extract_date": None, "coverage": None,
                     "note": "Trained on recorded events only; families who were never "
                             "referred are under-represented"})
    for name, rs in rows.items():
        _insert(con, name, rs)
    for tname, rs in (("flags", flags), ("flag_reasons", reasons), ("flag_provenance", prov)):
        _insert(con, tname, rs)
    con.executemany("INSERT INTO _warehouse_meta VALUES (?, ?)",
                    [("fingerprint", f"sample-{seed}-{n_families}"),
                     ("loaded_at", rec.isoformat()), ("source_path", "sample")])
    con.close()
    return path
