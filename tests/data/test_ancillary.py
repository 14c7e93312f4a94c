"""Ancillary tables of the synthetic LA: identity, workforce, services, voice, metadata."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from ancillary_fixtures import CONFIG, END, make_core_tables
from earlywarning.data.schema import TABLES, pandera_schema
from earlywarning.data.synthetic._ancillary import ANCILLARY_TABLES, add_ancillary_tables
from earlywarning.data.synthetic._fake_identity import nhs_check_digit, upn_check_letter
from earlywarning.data.synthetic._services import MERGE_GAP_DAYS, SERVICES


@pytest.fixture(scope="module")
def core() -> dict[str, pd.DataFrame]:
    return make_core_tables(300, seed=3)


@pytest.fixture(scope="module")
def out(core) -> dict[str, pd.DataFrame]:
    return add_ancillary_tables(core, CONFIG, np.random.default_rng(11))


@pytest.mark.parametrize("name", [*ANCILLARY_TABLES, "ssd_early_help_episodes",
                                  "ssd_cin_episodes", "ssd_cin_assessments", "ssd_s47_enquiry"])
def test_tables_validate_against_schema(out, name):
    df = out[name]
    assert list(df.columns) == TABLES[name].column_names
    assert len(df) > 0
    pandera_schema(name).validate(df)


def test_same_rng_state_gives_identical_tables(core, out):
    again = add_ancillary_tables(core, CONFIG, np.random.default_rng(11))
    for name in ANCILLARY_TABLES:
        pd.testing.assert_frame_equal(out[name], again[name])


@pytest.mark.parametrize("beside", [(), ("voice",), ("identity",)])
def test_building_one_table_after_another_gives_the_same_tables(core, out, beside):
    """A large LA builds some ancillary tables without the second thread, and waits (in
    ``context_ready``) for its calibration report before the first table: same output."""
    events: list[str] = []

    def emit(name, df, part=None):  # noqa: ANN001, ANN202
        events.append(name)
        return df

    alone = add_ancillary_tables(dict(core), CONFIG, np.random.default_rng(11),
                                 beside=beside, emit=emit,
                                 context_ready=lambda: events.append("context ready"))
    assert events[0] == "context ready" and events.count("context ready") == 1
    assert {"ext_person_identity", "ext_family_voice"} <= set(events[1:])
    assert set(alone) == set(out)
    for name in ANCILLARY_TABLES:
        pd.testing.assert_frame_equal(alone[name], out[name])


def test_only_identity_and_voice_can_be_built_beside(core):
    with pytest.raises(ValueError, match="beside=\\['workforce'\\]"):
        add_ancillary_tables(dict(core), CONFIG, np.random.default_rng(11),
                             beside=("voice", "workforce"))


def test_different_seed_gives_different_names(core, out):
    other = add_ancillary_tables(core, CONFIG, np.random.default_rng(12))
    assert not out["ext_person_identity"]["iden_forename"].equals(
        other["ext_person_identity"]["iden_forename"])


def test_input_tables_are_not_modified(core):
    before = core["ssd_early_help_episodes"].copy()
    add_ancillary_tables(core, CONFIG, np.random.default_rng(0))
    pd.testing.assert_frame_equal(core["ssd_early_help_episodes"], before)


def test_every_person_has_an_identity_with_dob_in_the_recorded_month(core, out):
    iden = out["ext_person_identity"].set_index("iden_person_id")
    person = core["ssd_person"].set_index("pers_person_id")
    assert set(iden.index) == set(person.index)
    full = iden.loc[person.index, "iden_dob"]
    assert (full.dt.to_period("M") == person["pers_dob"].dt.to_period("M")).all()
    assert iden["iden_forename"].notna().all() and iden["iden_surname"].notna().all()


def test_children_share_their_familys_surname(core, out):
    iden = out["ext_person_identity"].set_index("iden_person_id")
    fam = core["ssd_family"].set_index("fami_person_id")["fami_family_id"]
    person = core["ssd_person"].set_index("pers_person_id")
    kids = person.index[person["pers_is_child"] == "Y"]
    per_family = iden.loc[kids, "iden_surname"].groupby(fam.loc[kids]).nunique()
    assert (per_family == 1).all()


def test_nhs_numbers_are_test_range_with_valid_check_digit(out):
    nhs = out["ext_person_identity"]["iden_nhs_number"].dropna().astype(str)
    assert nhs.str.fullmatch(r"999\d{7}").all()
    digits = nhs.astype(np.int64).to_numpy()
    assert (nhs_check_digit(digits // 10) == digits % 10).all()
    assert nhs.is_unique


def test_upns_only_for_school_age_children_with_valid_check_letter(core, out):
    iden = out["ext_person_identity"].set_index("iden_person_id")
    person = core["ssd_person"].set_index("pers_person_id")
    upn = iden["iden_upn"].dropna().astype(str)
    assert len(upn) > 0
    assert (person.loc[upn.index, "pers_is_child"] == "Y").all()
    age = (END - person.loc[upn.index, "pers_dob"]).dt.days / 365.25
    assert (age >= 3.5).all()
    assert upn.str.fullmatch(r"[A-Z]999\d{9}").all()
    assert (upn_check_letter(upn.str[1:].to_numpy()) == upn.str[0].to_numpy()).all()


def test_every_family_member_maps_to_one_area_across_teams(core, out):
    dept = out["ssd_department"].set_index("dept_team_id")
    invo = out["ssd_involvements"]
    eh = out["ssd_early_help_episodes"]
    area = pd.concat([
        pd.DataFrame({"person": invo["invo_person_id"],
                      "area": invo["invo_professional_team"].map(dept["dept_team_parent_id"])}),
        pd.DataFrame({"person": eh["earl_person_id"],
                      "area": eh["earl_episode_team"].map(dept["dept_team_parent_id"])}),
    ])
    assert area["area"].notna().all()
    fam = core["ssd_family"].set_index("fami_person_id")["fami_family_id"]
    area["family"] = area["person"].map(fam)
    assert (area.groupby("family")["area"].nunique() == 1).all()


def test_departments_form_la_area_team_tree_with_3_to_6_areas(out):
    dept = out["ssd_department"]
    areas = dept[dept["dept_team_parent_id"] == "LA"]
    assert 3 <= len(areas) <= 6
    teams = dept[dept["dept_team_parent_id"].isin(areas["dept_team_id"])]
    assert len(teams) + len(areas) + 1 == len(dept)
    assert teams["dept_team_name"].str.contains("Early Help").any()
    assert teams["dept_team_name"].str.contains("Child Protection").any()


def test_involvements_reference_professionals_and_people(core, out):
    invo = out["ssd_involvements"]
    prof = out["ssd_professionals"]
    assert invo["invo_professional_id"].isin(prof["prof_professional_id"]).all()
    assert invo["invo_person_id"].isin(core["ssd_person"]["pers_person_id"]).all()
    team_of = prof.set_index("prof_professional_id")["prof_professional_department"]
    assert (invo["invo_professional_team"] == invo["invo_professional_id"].map(team_of)).all()
    assert prof["prof_professional_department"].isin(out["ssd_department"]["dept_team_id"]).all()


def test_every_episode_is_allocated_from_its_start(core, out):
    invo = out["ssd_involvements"]
    allocated = pd.MultiIndex.from_arrays([invo["invo_person_id"],
                                           invo["invo_involvement_start_date"]])
    for table, pid, start in (
        ("ssd_early_help_episodes", "earl_person_id", "earl_episode_start_date"),
        ("ssd_cin_episodes", "cine_person_id", "cine_referral_date"),
        ("ssd_cp_plans", "cppl_person_id", "cppl_cp_plan_start_date"),
        ("ssd_cla_episodes", "clae_person_id", "clae_cla_episode_start_date"),
    ):
        eps = core[table]
        assert pd.MultiIndex.from_arrays([eps[pid], eps[start]]).isin(allocated).all(), table


def test_worker_changes_hand_over_on_the_same_day(out):
    invo = out["ssd_involvements"]
    changed = invo[invo["invo_worker_change_reason"].notna()]
    assert len(changed) > 0
    assert changed["invo_involvement_end_date"].notna().all()
    starts = pd.MultiIndex.from_arrays([invo["invo_person_id"],
                                        invo["invo_involvement_start_date"]])
    handover = pd.MultiIndex.from_arrays([changed["invo_person_id"],
                                          changed["invo_involvement_end_date"]])
    assert handover.isin(starts).all()


def test_early_help_episodes_get_team_and_worker(out):
    eh = out["ssd_early_help_episodes"]
    assert eh["earl_episode_team"].notna().all()
    assert eh["earl_episode_worker_id"].isin(out["ssd_professionals"]["prof_professional_id"]).all()
    assert eh["earl_episode_team"].str.contains("-EH").all()


def test_existing_team_values_are_kept(core):
    tables = dict(core)
    eh = core["ssd_early_help_episodes"].copy()
    eh.loc[0, "earl_episode_team"] = "KEEP-ME"
    tables["ssd_early_help_episodes"] = eh
    res = add_ancillary_tables(tables, CONFIG, np.random.default_rng(1))
    assert res["ssd_early_help_episodes"].loc[0, "earl_episode_team"] == "KEEP-ME"


def test_caseload_counts_open_allocations(out):
    invo, prof = out["ssd_involvements"], out["ssd_professionals"]
    open_now = invo[invo["invo_involvement_end_date"].isna()]
    counts = open_now["invo_professional_id"].value_counts()
    caseload = prof.set_index("prof_professional_id")["prof_professional_caseload"]
    assert (caseload.reindex(counts.index) == counts).all()
    assert caseload.drop(counts.index).eq(0).all()


def test_contact_details_use_reserved_domains_and_drama_numbers(out):
    emails = pd.concat([out["ssd_professionals"]["prof_contact_email"],
                        out["ext_service_involvement"]["serv_lead_email"]]).dropna()
    assert emails.str.fullmatch(r"[a-z]+\.[a-z]+\d*@[a-z0-9.]+\.example").all()
    phones = pd.concat([out["ssd_professionals"]["prof_contact_phone"],
                        out["ext_service_involvement"]["serv_lead_phone"]]).dropna()
    drama = r"(01632 960|01\d1 496 0|0113 496 0|0114 496 0|0115 496 0|0116 496 0|0117 496 0|" \
            r"0118 496 0|020 7946 0|07700 900)\d{3}"
    assert phones.str.fullmatch(drama).all()
    assert out["ssd_professionals"]["prof_contact_email"].is_unique


def _police_spells(core: dict, person: str, service_type: str) -> list[tuple]:
    pol = core["ext_police_event"]
    d = np.sort(pol.loc[(pol["poli_person_id"] == person)
                        & (pol["poli_event_type"] == service_type), "poli_event_date"].to_numpy())
    follow = np.timedelta64(next(s.follow_up_days for s in SERVICES if s.key == "police_da"), "D")
    spells, s, e = [], None, None
    for x in d:  # a reference implementation, per person, to check the vectorised one
        if s is None or x > e + np.timedelta64(MERGE_GAP_DAYS, "D"):
            if s is not None:
                spells.append((s, e))
            s, e = x, x + follow
        else:
            e = max(e, x + follow)
    if s is not None:
        spells.append((s, e))
    return spells


def test_police_da_involvements_match_the_events(core, out):
    serv = out["ext_service_involvement"]
    da = serv[serv["serv_service"] == "Police: domestic abuse"]
    assert len(da) > 0
    end = np.datetime64(END.date())
    for person in da["serv_person_id"].unique()[:40]:
        expected = _police_spells(core, person, "domestic_abuse")
        got = da[da["serv_person_id"] == person].sort_values("serv_start_date")
        assert list(got["serv_start_date"].to_numpy()) == [s for s, _ in expected]
        for (_, e), (_, row) in zip(expected, got.iterrows(), strict=True):
            if e >= end:
                assert row["serv_status"] == "current" and pd.isna(row["serv_end_date"])
            else:
                assert row["serv_status"] == "historic" and row["serv_end_date"] == e


def test_every_service_row_starts_on_a_real_event(core, out):
    serv = out["ext_service_involvement"]
    sources = {
        "police": ("ext_police_event", "poli_person_id", "poli_event_date"),
        "housing": ("ext_housing_event", "hous_person_id", "hous_event_date"),
        "asc": ("ext_asc_involvement", "asci_person_id", "asci_start_date"),
        "adult_mental_health": ("ext_health_event", "heal_person_id", "heal_event_date"),
        "drug_alcohol": ("ext_health_event", "heal_person_id", "heal_event_date"),
        "gp": ("ext_health_event", "heal_person_id", "heal_event_date"),
        "youth_justice": ("ext_youth_justice", "yjus_person_id", "yjus_event_date"),
        "young_carers": ("ext_young_carer", "ycar_person_id", "ycar_assessment_date"),
        "school": ("ext_school_enrolment", "scho_person_id", "scho_start_date"),
        "early_help": ("ssd_early_help_episodes", "earl_person_id", "earl_episode_start_date"),
    }
    for agency, (table, pid, date) in sources.items():
        rows = serv[serv["serv_agency"] == agency]
        assert len(rows) > 0, agency
        ev = pd.MultiIndex.from_arrays([core[table][pid], core[table][date]])
        got = pd.MultiIndex.from_arrays([rows["serv_person_id"], rows["serv_start_date"]])
        assert got.isin(ev).all(), agency
    current = serv["serv_status"] == "current"
    assert serv.loc[current, "serv_end_date"].isna().all()
    assert (serv.loc[~current, "serv_end_date"] < END).all()


def test_csc_involvement_lead_is_the_allocated_worker(out):
    serv = out["ext_service_involvement"]
    eh = serv[serv["serv_agency"] == "early_help"]
    prof = out["ssd_professionals"]
    assert eh["serv_lead_name"].isin(prof["prof_professional_name"]).all()
    assert eh["serv_lead_email"].isin(prof["prof_contact_email"]).all()


def test_family_voice_notes_follow_episode_starts_and_reflect_circumstances(core, out):
    voice = out["ext_family_voice"]
    assert voice["voic_person_id"].isin(core["ssd_person"]["pers_person_id"]).all()
    assert (voice["voic_consent"] == "Y").mean() > 0.8
    assert voice["voic_text"].str.len().gt(20).all()
    assert voice["voic_text"].nunique() > 0.8 * len(voice)
    assert voice["voic_author_role"].isin(["mother", "father"]).any()
    assert voice["voic_author_role"].isin(["child", "young person"]).any()
    fam = core["ssd_family"].set_index("fami_person_id")["fami_family_id"]
    starts = pd.concat([
        pd.DataFrame({"family": core["ssd_early_help_episodes"]["earl_person_id"].map(fam),
                      "start": core["ssd_early_help_episodes"]["earl_episode_start_date"]}),
        pd.DataFrame({"family": core["ssd_cin_episodes"]["cine_person_id"].map(fam),
                      "start": core["ssd_cin_episodes"]["cine_referral_date"]}),
    ])
    first = starts.groupby("family")["start"].min()
    assert (voice["voic_recorded_at"] > voice["voic_family_id"].map(first)).all()
    # families who had a housing event beforehand talk about housing more often
    hous = core["ext_housing_event"]
    hous_first = hous.groupby(hous["hous_person_id"].map(fam))["hous_event_date"].min()
    had = voice["voic_recorded_at"] > voice["voic_family_id"].map(hous_first).fillna(
        pd.Timestamp("2100-01-01")) + pd.Timedelta(days=25)
    words = voice["voic_text"].str.contains(r"rent|flat|accommodation|landlord|room|moving",
                                            regex=True)
    assert words[had].mean() > words[~had].mean() + 0.1


def test_source_metadata_covers_every_extract(out):
    meta = out["ext_source_metadata"]
    present = {n for n in out if n != "ext_source_metadata"}
    assert present <= set(meta["meta_table"])
    assert (meta["meta_extract_date"] == END).all()
    assert meta["meta_lawful_basis"].str.contains("Children Act 1989 s17/s47").all()
    health = meta[meta["meta_table"] == "ext_health_event"]
    assert set(health["meta_agency"]) >= {"adult_mental_health", "drug_alcohol", "gp"}
    assert (meta.loc[meta["meta_agency"] == "police", "meta_accessibility"] == "easy").all()


def test_accessibility_follows_the_config(core):
    from types import SimpleNamespace

    cfg = SimpleNamespace(**vars(CONFIG),
                          agencies={"police": SimpleNamespace(accessibility="poor")})
    res = add_ancillary_tables(core, cfg, np.random.default_rng(0))
    meta = res["ext_source_metadata"]
    assert (meta.loc[meta["meta_agency"] == "police", "meta_accessibility"] == "poor").all()


def test_no_identifying_data_outside_restricted_tables_and_columns(out):
    iden = out["ext_person_identity"]
    names = set(iden["iden_forename"] + " " + iden["iden_surname"])
    names |= set(out["ssd_professionals"]["prof_professional_name"])
    names |= set(out["ext_service_involvement"]["serv_lead_name"])
    contacts = set(out["ssd_professionals"]["prof_contact_email"]) | set(
        out["ssd_professionals"]["prof_contact_phone"]) | set(
        out["ext_service_involvement"]["serv_lead_email"].dropna())
    nhs = set(iden["iden_nhs_number"].dropna())
    secrets = names | contacts | nhs
    pattern = re.compile(r"@|\b0\d{3,4} \d{3}|\b999\d{7}\b")
    for name, df in out.items():
        table = TABLES[name]
        if table.restricted:
            continue
        for col in table.columns:
            if col.identifying or col.dtype not in ("string", "json"):
                continue
            values = df[col.name].dropna().astype(str).unique()
            assert secrets.isdisjoint(values), f"{name}.{col.name}"
            assert not pattern.search("\n".join(values)), f"{name}.{col.name}"


def test_missing_and_empty_core_tables_are_handled(core):
    minimal = {k: core[k] for k in ("ssd_person", "ssd_family", "ssd_address")}
    minimal["ext_police_event"] = core["ext_police_event"].iloc[0:0]
    res = add_ancillary_tables(minimal, CONFIG, np.random.default_rng(0))
    for name in ANCILLARY_TABLES:
        pandera_schema(name).validate(res[name])
    assert len(res["ext_person_identity"]) == len(core["ssd_person"])
    assert len(res["ssd_involvements"]) == 0


def test_merge_spells_worked_example():
    # the docstring's example: DA incidents 2023-01-10 and 2023-05-01, 180-day follow-up
    from earlywarning.data.synthetic._services import _SERVICE_INDEX, merge_spells

    ev = pd.DataFrame({
        "person": [0, 0, 1],
        "service": [_SERVICE_INDEX["police_da"]] * 3,
        "start": np.array(["2023-05-01", "2023-01-10", "2024-02-01"], dtype="datetime64[D]"),
        "end": np.array(["NaT"] * 3, dtype="datetime64[D]"),
        "open_ended": [False] * 3,
        "recorded_at": np.array(["2023-05-03", "2023-01-12", "2024-02-02"],
                                dtype="datetime64[ns]"),
    })
    spells = merge_spells(ev, np.datetime64("2024-03-31"))
    first = spells[spells["person"] == 0].iloc[0]
    assert len(spells) == 2
    assert first["start"] == pd.Timestamp("2023-01-10")
    assert first["end"] == pd.Timestamp("2023-10-28") and not first["current"]
    assert first["recorded_at"] == pd.Timestamp("2023-01-12")
    second = spells[spells["person"] == 1].iloc[0]
    assert second["current"] and pd.isna(second["end"])
