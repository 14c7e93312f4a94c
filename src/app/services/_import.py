"""Import flags and the case material of flagged families from the warehouse.

This is the only module of the app that reads the warehouse. It copies, for
the current flags only: the flags with their reasons and provenance (Flags
contract), the team and area each flag belongs to, the flagged families'
people, relationships, service involvements, consented voice notes and a
plain-language chronology. Restricted tables are read here, for authorised
app users, and nowhere in the analytics pipeline.

Team of a flag, first match wins: the child's open Early Help episode, the
child's open social care involvement, a family member's open Early Help
episode or involvement, then the most recent closed one. The area is the
team's parent in ``ssd_department``. A flag with none is "not allocated" and
only service-wide leads see it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
from earlywarning.app._models import (
    CaseEvent,
    Flag,
    FlagProvenance,
    FlagReason,
    ImportRecord,
    Person,
    Relationship,
    ServiceInvolvement,
    Team,
    VoiceNote,
)
from earlywarning.app.services import _audit
from earlywarning.app.services._case_material import (
    MAX_EVENTS_PER_FAMILY,
    _as_date,
    _chronology,
    _people,
    _records,
    _relationships,
    _services,
    _voice,
)
from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

__all__ = ["ImportSummary", "WarehouseImportError", "NoFlagsYet", "import_from_warehouse",
           "FLAG_COLUMNS", "MAX_EVENTS_PER_FAMILY"]

FLAG_COLUMNS = ("flag_id", "person_id", "family_id", "as_of", "risk", "band", "rank",
                "model_name", "model_version", "run_id", "created_at")
REASON_COLUMNS = ("flag_id", "direction", "agency", "feature", "text", "contribution", "order")
PROVENANCE_COLUMNS = ("flag_id", "agency", "extract_date", "coverage", "note")
MODEL_AGENCY = "model"
"""Provenance rows with this agency state the model's known limits (Flags contract)."""


class WarehouseImportError(RuntimeError):
    """The warehouse lacks what the app needs; the message names table and column."""


class NoFlagsYet(WarehouseImportError):
    """The warehouse has no ``flags`` table: nothing has been scored yet."""


@dataclass
class ImportSummary:
    """What an import brought into the app database."""

    flags_as_of: dt.date | None
    n_flags: int
    n_people: int
    n_events: int
    n_services: int
    n_voice_notes: int
    fingerprint: str | None


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}


def _require(con, tables: set[str], path: Path, table: str, columns: tuple[str, ...]) -> None:  # noqa: ANN001
    if table not in tables:
        raise (NoFlagsYet if table == "flags" else WarehouseImportError)(
            f"{path}: table {table} is missing; it is written by scoring (`earlywarning score`)"
        )
    have = {r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()}
    missing = [c for c in columns if c not in have]
    if missing:
        raise WarehouseImportError(f"{path}: table {table} lacks column(s) {missing}")


def _coverage(v: object) -> float | None:
    """Coverage as a share in [0, 1]; anything else (text, out of range) → ``None``."""
    try:
        value = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if 0.0 <= value <= 1.0 else None


def _chunks(ids: list[str], n: int = 500):  # noqa: ANN202
    for i in range(0, len(ids), n):
        yield ids[i:i + n]


def import_from_warehouse(
    db: Session, warehouse: Path, *, capacity: int | None = None
) -> ImportSummary:
    """Copy the current flags and their families' case material into the app database.

    Parameters
    ----------
    db : Session
        App database session; committed at the end.
    warehouse : Path
        DuckDB warehouse with the schema tables and ``flags``, ``flag_reasons``,
        ``flag_provenance`` (Flags contract).
    capacity : int, optional
        Keep flags with ``rank <= capacity`` only (default: every flag of the
        latest as-of date).

    Returns
    -------
    ImportSummary

    Raises
    ------
    WarehouseImportError
        If the file or a flags table or column is missing.
    """
    if not Path(warehouse).is_file():
        raise WarehouseImportError(f"{warehouse}: no warehouse file (run `earlywarning load`)")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return _import(db, con, Path(warehouse), capacity)
    finally:
        con.close()


def _import(db: Session, con, path: Path, capacity: int | None) -> ImportSummary:  # noqa: ANN001
    tables = _tables(con)
    _require(con, tables, path, "flags", FLAG_COLUMNS)
    _require(con, tables, path, "flag_reasons", REASON_COLUMNS)
    _require(con, tables, path, "flag_provenance", PROVENANCE_COLUMNS)
    meta = {}
    if "_warehouse_meta" in tables:
        meta = dict(con.execute("SELECT key, value FROM _warehouse_meta").fetchall())

    cap = "AND rank <= ?" if capacity else ""
    flags = con.execute(
        f"SELECT {', '.join(FLAG_COLUMNS)} FROM flags "
        f"WHERE as_of = (SELECT max(as_of) FROM flags) {cap} ORDER BY rank",
        [capacity] if capacity else [],
    ).df()
    as_of = _as_date(flags["as_of"].iloc[0]) if len(flags) else None
    con.register("_ew_flags", flags[["flag_id", "person_id", "family_id", "as_of"]])
    reasons = con.execute(
        'SELECT r.flag_id, direction, agency, feature, text, contribution, "order" '
        "FROM flag_reasons r JOIN _ew_flags f USING (flag_id)").df()
    prov = con.execute(
        "SELECT p.flag_id, agency, extract_date, coverage, note "
        "FROM flag_provenance p JOIN _ew_flags f USING (flag_id)").df()

    members = _members(con, tables, flags)
    con.register("_ew_members", members)
    teams = _team_assignment(con, tables)
    people = _people(con, tables, members)
    events = _chronology(con, tables)

    flag_ids = flags["flag_id"].astype(str).tolist()
    families = sorted({str(f) for f in members["family_id"].dropna()})
    person_ids = sorted({str(p) for p in members["person_id"]})
    sources = prov[prov["agency"] != MODEL_AGENCY] if len(prov) else prov
    freshness = (sources.groupby("flag_id")["extract_date"].min().to_dict()
                 if len(sources) else {})

    db.execute(update(Flag).values(current=False))
    existing = {f.flag_id: f for chunk in _chunks(flag_ids)
                for f in db.query(Flag).filter(Flag.flag_id.in_(chunk))}
    for rec in _records(flags):
        fid = str(rec["flag_id"])
        team = teams.get(str(rec["person_id"]), (None, None))
        values = dict(
            person_id=str(rec["person_id"]), family_id=rec["family_id"],
            as_of=_as_date(rec["as_of"]), risk=float(rec["risk"]), band=str(rec["band"]),
            rank=int(rec["rank"]), model_name=str(rec["model_name"]),
            model_version=str(rec["model_version"]), run_id=rec["run_id"],
            created_at=rec["created_at"], team_id=team[0], area_id=team[1],
            data_as_of=_as_date(freshness.get(fid)), current=True,
        )
        if fid in existing:
            for k, v in values.items():
                setattr(existing[fid], k, v)
        else:
            db.add(Flag(flag_id=fid, **values))
    db.flush()
    for chunk in _chunks(flag_ids):
        db.execute(delete(FlagReason).where(FlagReason.flag_id.in_(chunk)))
        db.execute(delete(FlagProvenance).where(FlagProvenance.flag_id.in_(chunk)))
    if len(reasons):
        db.execute(insert(FlagReason), _records(reasons))
    if len(prov):
        prov_recs = _records(prov)
        for r in prov_recs:
            r["extract_date"] = _as_date(r["extract_date"])
            r["coverage"] = _coverage(r["coverage"])
        db.execute(insert(FlagProvenance), prov_recs)

    _replace_teams(db, con, tables)
    for chunk in _chunks(person_ids):
        db.execute(delete(Person).where(Person.person_id.in_(chunk)))
        db.execute(delete(Relationship).where(Relationship.person_id.in_(chunk)))
    for chunk in _chunks(families):
        for model in (CaseEvent, ServiceInvolvement, VoiceNote):
            db.execute(delete(model).where(model.family_id.in_(chunk)))
    if people:
        db.execute(insert(Person), people)
    rels = _relationships(con, tables)
    if rels:
        db.execute(insert(Relationship), rels)
    if events:
        db.execute(insert(CaseEvent), events)
    services = _services(con, tables)
    if services:
        db.execute(insert(ServiceInvolvement), services)
    notes = _voice(con, tables)
    if notes:
        db.execute(insert(VoiceNote), notes)
    db.add(ImportRecord(source_path=str(path), warehouse_fingerprint=meta.get("fingerprint"),
                        warehouse_loaded_at=meta.get("loaded_at"), flags_as_of=as_of,
                        n_flags=len(flags)))
    _audit.record(db, "import", username="system", target=f"warehouse:{path.name}",
                  detail={"n_flags": len(flags), "as_of": as_of}, commit=False)
    db.commit()
    return ImportSummary(as_of, len(flags), len(people), len(events), len(services), len(notes),
                         meta.get("fingerprint"))


def _members(con, tables: set[str], flags: pd.DataFrame) -> pd.DataFrame:  # noqa: ANN001
    """Select the flagged children and everyone in their family at the flag's as-of date."""
    base = flags[["person_id", "family_id", "as_of"]].assign(flagged=True)
    if "ssd_family" not in tables or not len(flags):
        return base
    others = con.execute("""
        SELECT DISTINCT m.fami_person_id AS person_id, f.family_id, f.as_of, false AS flagged
        FROM _ew_flags f JOIN ssd_family m ON m.fami_family_id = f.family_id
        WHERE m.fami_start_date <= f.as_of
          AND (m.fami_end_date IS NULL OR m.fami_end_date >= f.as_of)
    """).df()
    both = pd.concat([base, others[~others["person_id"].isin(base["person_id"])]])
    return both.drop_duplicates("person_id").reset_index(drop=True)


def _team_assignment(con, tables: set[str]) -> dict[str, tuple[str | None, str | None]]:  # noqa: ANN001
    parts = []
    if "ssd_early_help_episodes" in tables:
        parts.append("""SELECT earl_person_id AS pid, earl_episode_team AS team,
            earl_episode_start_date AS s, earl_episode_end_date AS e, 0 AS kind
            FROM ssd_early_help_episodes WHERE earl_episode_team IS NOT NULL""")
    if "ssd_involvements" in tables:
        parts.append("""SELECT invo_person_id, invo_professional_team,
            invo_involvement_start_date, invo_involvement_end_date, 1
            FROM ssd_involvements WHERE invo_professional_team IS NOT NULL""")
    if not parts:
        return {}
    dept = ("LEFT JOIN ssd_department d ON d.dept_team_id = b.team"
            if "ssd_department" in tables else "")
    area = "d.dept_team_parent_id" if dept else "NULL"
    rows = con.execute(f"""
        WITH inv AS ({' UNION ALL '.join(parts)}),
        cand AS (
          SELECT f.person_id, i.team,
                 (CASE WHEN i.e IS NULL OR i.e >= f.as_of THEN 0 ELSE 4 END)
                 + (CASE WHEN i.pid = f.person_id THEN 0 ELSE 2 END) + i.kind AS priority,
                 coalesce(i.e, i.s) AS recency
          FROM _ew_flags f
          JOIN _ew_members m ON m.family_id = f.family_id OR m.person_id = f.person_id
          JOIN inv i ON i.pid = m.person_id AND i.s <= f.as_of
        ),
        best AS (
          SELECT person_id, team, row_number() OVER (
            PARTITION BY person_id ORDER BY priority, recency DESC, team) AS rn FROM cand
        )
        SELECT b.person_id, b.team, {area} FROM best b {dept} WHERE b.rn = 1
    """).fetchall()
    return {str(p): (t, a) for p, t, a in rows}


def _replace_teams(db: Session, con, tables: set[str]) -> None:  # noqa: ANN001
    if "ssd_department" not in tables:
        return
    df = con.execute("""SELECT dept_team_id AS team_id, dept_team_name AS team_name,
        dept_team_parent_id AS area_id, dept_team_parent_name AS area_name
        FROM ssd_department""").df()
    db.execute(delete(Team))
    if len(df):
        db.execute(insert(Team), _records(df))
