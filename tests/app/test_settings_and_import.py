"""Settings validation, the warehouse import and demo users."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from argon2 import PasswordHasher
from earlywarning.app import SettingsError, load_settings
from earlywarning.app._db import create_schema, make_engine, make_sessionmaker
from earlywarning.app._models import (
    CaseEvent,
    Flag,
    FlagProvenance,
    FlagReason,
    Person,
    ServiceInvolvement,
    VoiceNote,
)
from earlywarning.app._sample_warehouse import SAMPLE_TEAMS, build_sample_warehouse
from earlywarning.app.services._children import risk_in_words, split_band, voice_byline
from earlywarning.app.services._import import WarehouseImportError, import_from_warehouse
from earlywarning.models.scoring import risk_band
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select


@pytest.mark.parametrize("secret, problem", [
    ("", "not set"), ("changethis", "a placeholder ('changethis')"), ("short", "too short")])
def test_settings_refuse_placeholder_secrets_outside_demo_mode(secret, problem):
    with pytest.raises(SettingsError) as err:
        load_settings(environ={"EW_SECRET_KEY": secret})
    assert str(err.value).startswith(f"EW_SECRET_KEY is {problem}: set it to a random value")


def test_settings_accept_a_real_secret_and_read_env_vars():
    s = load_settings(environ={"EW_SECRET_KEY": "k" * 40, "EW_COUNCIL_NAME": "Testshire",
                               "EW_CAPACITY": "25"})
    assert (s.council_name, s.capacity, s.demo_mode) == ("Testshire", 25, False)


def test_demo_mode_needs_no_secret_but_still_signs():
    s = load_settings(environ={"EW_DEMO_MODE": "1"})
    assert len(s.effective_secret_key) >= 32


def test_bad_setting_names_the_variable():
    with pytest.raises(SettingsError, match=r"^EW_DATABASE_URL: EW_DATABASE_URL = 'mysql://x'"):
        load_settings(environ={"EW_DEMO_MODE": "1", "EW_DATABASE_URL": "mysql://x"})
    with pytest.raises(SettingsError, match="^EW_CAPACITY: "):
        load_settings(environ={"EW_DEMO_MODE": "1", "EW_CAPACITY": "0"})


def test_production_hasher_is_argon2id_with_the_library_default_profile():
    from earlywarning.app._security import PasswordHasher as used

    assert used is PasswordHasher
    h = PasswordHasher().hash("x")
    assert h.startswith("$argon2id$")


@pytest.mark.parametrize("risk, words", [(0.2, "about 1 in 5"), (0.34, "about 1 in 3"),
                                         (0.62, "about 6 in 10"), (0.004, "fewer than 1 in 100"),
                                         (0.949, "about 9 in 10"), (0.97, "about 97 in 100"),
                                         (0.995, "more than 99 in 100")])
def test_risk_in_words(risk, words):
    assert risk_in_words(risk) == words


def test_band_text_from_scoring_is_used_as_written():
    assert split_band("about 1 in 5 (high)", 0.17) == ("about 1 in 5", "high")
    assert split_band("Fewer than 1 in 100", 0.001) == ("fewer than 1 in 100", None)
    assert split_band("high", 0.25) == ("about 1 in 4", "high")


def test_a_voice_note_names_its_author_once():
    assert voice_byline("mother", "Shazia Islam (mother)") == "Shazia Islam (mother)"
    assert voice_byline("young person", "Xiaoling Shah (half-sister)") == (
        "Young person, Xiaoling Shah (half-sister)")
    assert voice_byline("child", "Manpreet Shah") == "Child, Manpreet Shah"
    assert voice_byline("practitioner (in the mother's words)", None) == (
        "Practitioner (in the mother's words)")
    assert voice_byline(None, None) == "Family member"


def test_every_band_scoring_writes_splits_into_its_frequency_and_level():
    risks = np.concatenate([np.linspace(0, 1, 2001), [1e-5, 0.9999]])
    for risk, band in zip(risks, risk_band(risks, {"high": 0.3, "medium": 0.1}), strict=True):
        frequency, level = split_band(band, float(risk))
        assert f"{frequency} ({level})" == band


def _db(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_schema(engine)
    return make_sessionmaker(engine)


def test_import_copies_flags_reasons_provenance_and_case_material(tmp_path, sample_warehouse):
    factory = _db(tmp_path)
    with factory() as db:
        summary = import_from_warehouse(db, sample_warehouse)
        assert summary.n_flags == 40 and summary.fingerprint == "sample-3-40"
        flags = db.scalars(select(Flag)).all()
        assert len(flags) == 40 and all(f.current for f in flags)
        assert {r.direction for r in db.scalars(select(FlagReason))} == {
            "risk", "protective", "missing_data"}
        assert db.scalar(select(FlagProvenance).where(FlagProvenance.agency == "gp")).coverage == 0
        notes = db.scalars(select(VoiceNote)).all()
        assert len(notes) == 40 and not any("NOT CONSENTED" in n.text for n in notes)
        assert db.scalar(select(ServiceInvolvement).limit(1)).lead_email.endswith("@example.org")
        assert db.scalar(select(Person).where(Person.person_id == "P00000C")).forename
        assert db.scalars(select(CaseEvent).where(CaseEvent.family_id == "F00000")).all()


def test_team_and_area_come_from_early_help_episodes_and_departments(tmp_path, sample_warehouse):
    with _db(tmp_path)() as db:
        import_from_warehouse(db, sample_warehouse)
        by_rank = {f.rank: f for f in db.scalars(select(Flag))}
    teams = {t[0]: t[2] for t in SAMPLE_TEAMS}
    for rank, flag in by_rank.items():
        i = rank - 1
        if i % 6 == 5:
            assert flag.team_id is None and flag.area_id is None
        else:
            assert flag.team_id == SAMPLE_TEAMS[i % 4][0]
            assert flag.area_id == teams[flag.team_id]


def test_freshness_is_the_oldest_source_extract_not_the_model_limits(tmp_path,
                                                                     sample_warehouse):
    with _db(tmp_path)() as db:
        import_from_warehouse(db, sample_warehouse)
        f = db.scalar(select(Flag).where(Flag.rank == 1))
        dates = [p.extract_date for p in db.scalars(
            select(FlagProvenance).where(FlagProvenance.flag_id == f.flag_id))]
    assert f.data_as_of == min(d for d in dates if d is not None)


def test_capacity_keeps_the_top_ranked_flags(tmp_path, sample_warehouse):
    with _db(tmp_path)() as db:
        assert import_from_warehouse(db, sample_warehouse, capacity=7).n_flags == 7
        assert max(f.rank for f in db.scalars(select(Flag))) == 7


def test_reimport_keeps_decided_flags_and_marks_old_ones_not_current(tmp_path, sample_warehouse):
    import datetime as dt

    factory = _db(tmp_path)
    with factory() as db:
        import_from_warehouse(db, sample_warehouse)
    later = build_sample_warehouse(tmp_path / "later.duckdb", n_families=5, seed=9,
                                   as_of=dt.date(2025, 7, 1))
    with factory() as db:
        import_from_warehouse(db, later)
        assert db.query(Flag).count() == 45
        assert db.query(Flag).filter(Flag.current.is_(True)).count() == 5


def test_missing_flags_table_is_a_clear_error(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    with _db(tmp_path)() as db, pytest.raises(WarehouseImportError) as err:
        import_from_warehouse(db, path)
    assert str(err.value) == (f"{path}: table flags is missing; it is written by scoring "
                              "(`earlywarning score`)")


def test_missing_flags_column_is_named(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE flags (flag_id VARCHAR, person_id VARCHAR)")
    con.close()
    with _db(tmp_path)() as db, pytest.raises(WarehouseImportError, match="lacks column"):
        import_from_warehouse(db, path)


def test_app_init_command_prints_users_once_and_writes_them_owner_only(tmp_path,
                                                                     sample_warehouse):
    from appkit import run_cli

    out = run_cli("app-init", "--warehouse", sample_warehouse, "--database-url",
                  f"sqlite:///{tmp_path / 'app.db'}", "--users-file", tmp_path / "users.txt")
    assert "Imported 40 flags" in out
    text = (tmp_path / "users.txt").read_text()
    for line in text.splitlines()[1:]:
        username, password = line.split("\t")[:2]
        assert username in out and password in out
    assert (tmp_path / "users.txt").stat().st_mode & 0o077 == 0


def test_council_name_and_logo_come_from_config(tmp_path, sample_warehouse, template_env):
    from appkit import build_env

    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    env = build_env(tmp_path / "env", sample_warehouse, template=template_env,
                    council_name="Testshire County Council", council_logo_path=logo)
    page = env.client().get("/sign-in").text
    assert 'src="/council-logo" alt="Testshire County Council"' in page
    r = env.client().get("/council-logo")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    with pytest.raises(SettingsError, match="^EW_COUNCIL_LOGO_PATH: "):
        load_settings(environ={"EW_DEMO_MODE": "1", "EW_COUNCIL_LOGO_PATH": "/nope.gif"})


def test_app_init_before_any_scoring_still_creates_the_app(tmp_path):
    from appkit import run_cli

    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    out = run_cli("app-init", "--warehouse", warehouse, "--database-url",
                  f"sqlite:///{tmp_path / 'app.db'}", "--users-file", tmp_path / "users.txt")
    assert "No flags imported yet" in out and "table flags is missing" in out
    assert "ethics" in (tmp_path / "users.txt").read_text()


@settings(max_examples=300, deadline=None)
@given(st.floats(0.01, 0.99))
def test_risk_in_words_is_near_the_risk_and_never_certain(risk):
    a, b = risk_in_words(risk).removeprefix("about ").split(" in ")
    said = int(a) / int(b)
    assert said < 1.0
    assert abs(said - risk) <= max(0.05, 0.25 * risk)
