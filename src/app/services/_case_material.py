"""Case material of flagged families, read from the warehouse for the child page.

People (names from the restricted identity table), relationships to the
child, a plain-language chronology (:mod:`._chronology`), every service
involved with its lead professional, and the family's own words (only with
consent). Called by :mod:`._import`, the app's only reader of the warehouse;
every query joins the registered ``_ew_flags`` / ``_ew_members`` frames.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from earlywarning.app.services._chronology import EVENT_SPECS
from earlywarning.data.schema import ETHNICITY_MAJOR_GROUP

MAX_EVENTS_PER_FAMILY = 120
CHRONOLOGY_YEARS = 6


def _none(v: object) -> object:
    """Pandas missing values (NaN, NaT, NA) → None, timestamps → python objects."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _none(v) for k, v in row.items()} for row in df.to_dict("records")]


def _as_date(v: object) -> dt.date | None:
    v = _none(v)
    if isinstance(v, dt.datetime):
        return v.date()
    return v  # type: ignore[return-value]


def _people(con, tables: set[str], members: pd.DataFrame) -> list[dict]:  # noqa: ANN001
    if "ssd_person" not in tables:
        return [{"person_id": str(r["person_id"]), "family_id": _none(r["family_id"]),
                 "is_child": bool(r["flagged"])} for r in members.to_dict("records")]
    ident = ("LEFT JOIN ext_person_identity i ON i.iden_person_id = m.person_id"
             if "ext_person_identity" in tables else "")
    names = "i.iden_forename, i.iden_surname" if ident else "NULL, NULL"
    disab = ("""(SELECT CASE WHEN count(*) FILTER (WHERE disa_disability_code <> 'NONE') > 0
                THEN 'Y' ELSE 'N' END FROM ssd_disability WHERE disa_person_id = m.person_id)"""
             if "ssd_disability" in tables else "NULL")
    imd = ("""(SELECT addr_imd_decile FROM ssd_address WHERE addr_person_id = m.person_id
               AND addr_address_start_date <= m.as_of
               ORDER BY addr_address_start_date DESC, addr_address_end_date DESC NULLS FIRST,
                        addr_table_id DESC
               LIMIT 1)""" if "ssd_address" in tables else "NULL")
    df = con.execute(f"""
        SELECT m.person_id, m.family_id, {names}, p.pers_dob, p.pers_sex, p.pers_is_child,
               p.pers_ethnicity, {disab} AS disability, {imd} AS imd_decile
        FROM _ew_members m LEFT JOIN ssd_person p ON p.pers_person_id = m.person_id {ident}
    """).fetchall()
    out = []
    for pid, fam, fn, sn, dob, sex, is_child, eth, dis, imd_dec in df:
        out.append({
            "person_id": str(pid), "family_id": fam, "forename": fn, "surname": sn,
            "birth_month": _as_date(dob), "sex": sex, "is_child": is_child == "Y",
            "ethnic_group": ETHNICITY_MAJOR_GROUP.get(eth) if eth else None,
            "disability": dis, "imd_quintile": math.ceil(imd_dec / 2) if imd_dec else None,
        })
    return out


def _relationships(con, tables: set[str]) -> list[dict]:  # noqa: ANN001
    if "ext_person_relationship" not in tables:
        return []
    rows = con.execute("""
        SELECT rela_person_id, rela_related_person_id, rela_relationship, rela_same_household
        FROM ext_person_relationship r JOIN _ew_flags f ON f.person_id = r.rela_person_id
        WHERE rela_start_date <= f.as_of
    """).fetchall()
    return [{"person_id": a, "related_person_id": b, "relationship": c,
             "same_household": d == "Y"} for a, b, c, d in rows]


def _chronology(con, tables: set[str]) -> list[dict]:  # noqa: ANN001
    out: list[dict] = []
    for spec in EVENT_SPECS:
        if spec.table not in tables:
            continue
        cols = "".join(f', t."{c}"' for c in spec.columns)
        extra = f"AND ({spec.where})" if spec.where else ""
        rows = con.execute(f"""
            SELECT m.family_id, t."{spec.person_col}", t."{spec.date_col}" {cols}
            FROM "{spec.table}" t JOIN _ew_members m ON m.person_id = t."{spec.person_col}"
            WHERE t."{spec.date_col}" <= m.as_of
              AND t."{spec.date_col}" > m.as_of - INTERVAL {CHRONOLOGY_YEARS} YEAR {extra}
        """).fetchall()
        for fam, pid, date, *vals in rows:
            text = spec.sentence(dict(zip(spec.columns, vals, strict=True)))
            if text and fam is not None:
                out.append({"family_id": str(fam), "person_id": str(pid),
                            "event_date": _as_date(date), "agency": spec.agency, "text": text})
    out.sort(key=lambda e: (e["family_id"], e["event_date"]), reverse=True)
    kept: list[dict] = []
    per_family: dict[str, int] = {}
    for e in out:
        n = per_family.get(e["family_id"], 0)
        if n < MAX_EVENTS_PER_FAMILY:
            kept.append(e)
            per_family[e["family_id"]] = n + 1
    return kept


def _services(con, tables: set[str]) -> list[dict]:  # noqa: ANN001
    if "ext_service_involvement" not in tables:
        return []
    df = con.execute("""
        SELECT DISTINCT serv_involvement_id AS id, m.family_id, serv_person_id AS person_id,
               serv_service AS service, serv_agency AS agency, serv_status AS status,
               serv_start_date AS start_date, serv_end_date AS end_date,
               serv_lead_name AS lead_name, serv_lead_role AS lead_role,
               serv_lead_email AS lead_email, serv_lead_phone AS lead_phone
        FROM ext_service_involvement s JOIN _ew_members m ON m.person_id = s.serv_person_id
        WHERE s.serv_start_date <= m.as_of
    """).df()
    recs = _records(df.drop_duplicates("id"))
    for r in recs:
        r["start_date"] = _as_date(r["start_date"])
        r["end_date"] = _as_date(r["end_date"])
    return recs


def _voice(con, tables: set[str]) -> list[dict]:  # noqa: ANN001
    if "ext_family_voice" not in tables:
        return []
    df = con.execute("""
        SELECT DISTINCT voic_note_id AS id, m.family_id, voic_person_id AS person_id,
               voic_author_role AS author_role, voic_text AS text, voic_recorded_at AS recorded_at
        FROM ext_family_voice v JOIN _ew_members m ON m.person_id = v.voic_person_id
        WHERE v.voic_consent = 'Y' AND CAST(v.voic_recorded_at AS DATE) <= m.as_of
    """).df()
    return _records(df.drop_duplicates("id"))
