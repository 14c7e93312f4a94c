"""The import on the synthetic LA generator's real output (the shared small LA).

Flags are placed on children with an open Early Help episode (scoring is
tested in its own area); the case material, teams, contacts and voice notes
must come through from the generated tables.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest
from earlywarning.app._db import create_schema, make_engine, make_sessionmaker
from earlywarning.app._models import CaseEvent, Flag, Person, ServiceInvolvement, VoiceNote
from earlywarning.app.services._import import import_from_warehouse
from sqlalchemy import select

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flagged_warehouse(small_warehouse, tmp_path_factory):
    path = tmp_path_factory.mktemp("realwh") / "warehouse.duckdb"
    shutil.copy(small_warehouse, path)
    con = duckdb.connect(str(path))
    as_of = con.execute("SELECT max(earl_episode_start_date) FROM ssd_early_help_episodes"
                        ).fetchone()[0]
    con.execute("""
        CREATE TABLE flags AS
        SELECT 'FL-' || e.earl_person_id AS flag_id, e.earl_person_id AS person_id,
               any_value(f.fami_family_id) AS family_id, ?::DATE AS as_of, 0.3 AS risk,
               'about 1 in 3 (high)' AS band,
               row_number() OVER (ORDER BY e.earl_person_id) AS rank,
               'earlywarning-demo' AS model_name, '1' AS model_version, 'r' AS run_id,
               now()::TIMESTAMP AS created_at
        FROM ssd_early_help_episodes e
        JOIN ssd_family f ON f.fami_person_id = e.earl_person_id
        WHERE e.earl_episode_start_date <= ?::DATE
          AND (e.earl_episode_end_date IS NULL OR e.earl_episode_end_date >= ?::DATE)
        GROUP BY e.earl_person_id
        ORDER BY e.earl_person_id LIMIT 40""", [as_of, as_of, as_of])
    con.execute("""CREATE TABLE flag_reasons AS SELECT flag_id, 'risk' AS direction,
        'police' AS agency, 'f' AS feature, 'A reason' AS text, 0.1 AS contribution,
        0 AS "order" FROM flags""")
    con.execute("""CREATE TABLE flag_provenance AS SELECT flag_id, 'police' AS agency,
        ?::DATE AS extract_date, 1.0 AS coverage, 'n' AS note FROM flags""", [as_of])
    con.close()
    return path


def test_generated_la_imports_with_teams_contacts_story_and_voice(flagged_warehouse, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_schema(engine)
    with make_sessionmaker(engine)() as db:
        summary = import_from_warehouse(db, flagged_warehouse)
        assert summary.n_flags == 40
        flags = db.scalars(select(Flag)).all()
        # every flagged child has an open Early Help episode, so a team
        assert all(f.team_id for f in flags)
        assert db.scalar(select(ServiceInvolvement).where(
            ServiceInvolvement.lead_email.is_not(None)).limit(1)) is not None
        assert db.scalars(select(CaseEvent)).first() is not None
        people = db.scalars(select(Person)).all()
        assert len(people) > 40 and any(p.forename for p in people)
        notes = db.scalars(select(VoiceNote)).all()
    con = duckdb.connect(str(flagged_warehouse), read_only=True)
    refused = {r[0] for r in con.execute(
        "SELECT voic_note_id FROM ext_family_voice WHERE voic_consent <> 'Y'").fetchall()}
    con.close()
    assert not refused & {n.id for n in notes}
