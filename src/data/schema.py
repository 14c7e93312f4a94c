"""The linked dataset contract, as code: the single source of truth.

Every table of ``SCHEMA.md`` is declared here once, as a :class:`Table` of
:class:`Column` objects with its primary key, required columns, types, allowed
codes, date-order rules and foreign keys. The loader turns these declarations
into DuckDB validation SQL, the generator writes exactly these columns, the
tests build pandera schemas from them (:func:`pandera_schema`) and
``earlywarning schema --markdown`` renders them as the data dictionary.

Children's social care tables follow the Standard Safeguarding Dataset (SSD)
names (``ssd_*``, four-letter column prefixes). Partner-agency tables are ours
(``ext_*``) with the same habit. Columns that SSD does not define but we need
(for instance ``*_recorded_at``, the point-in-time timestamp) are marked
``ssd=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AGENCIES",
    "HEALTH_SERVICE_AGENCY",
    "Column",
    "DType",
    "Table",
    "TABLES",
    "IDENTIFYING_SSD_PERSON_COLUMNS",
    "ETHNICITY_CODES",
    "ETHNICITY_MAJOR_GROUP",
    "ASSESSMENT_FACTOR_CODES",
    "get_table",
    "event_tables",
    "analytics_tables",
    "pandera_schema",
    "data_dictionary_markdown",
]

DType = Literal["string", "date", "timestamp", "int", "float", "json"]

YN = ("Y", "N")

# --- code lists (DfE / SSD; see SSD_COLUMNS.md) ---------------------------------
ETHNICITY_CODES = (
    "WBRI", "WIRI", "WOTH", "WIRT", "WROM",
    "MWBC", "MWBA", "MWAS", "MOTH",
    "AIND", "APKN", "ABAN", "CHNE", "AOTH",
    "BCRB", "BAFR", "BOTH",
    "OOTH", "REFU", "NOBT",
)  # fmt: skip
"""DfE ethnicity codes (CIN census). ``CHNE`` (Chinese) is grouped under Asian."""

ETHNICITY_MAJOR_GROUP = {
    **{c: "White" for c in ("WBRI", "WIRI", "WOTH", "WIRT", "WROM")},
    **{c: "Mixed" for c in ("MWBC", "MWBA", "MWAS", "MOTH")},
    **{c: "Asian" for c in ("AIND", "APKN", "ABAN", "CHNE", "AOTH")},
    **{c: "Black" for c in ("BCRB", "BAFR", "BOTH")},
    "OOTH": "Other",
    "REFU": "Unknown",
    "NOBT": "Unknown",
}
"""DfE major ethnic groups used for auditing."""

DISABILITY_CODES = (
    "NONE", "MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH", "CON", "AUT", "DDA",
)  # fmt: skip
PRIMARY_NEED_CODES = ("N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9")
REFERRAL_SOURCE_CODES = (
    "1A", "1B", "1C", "1D", "2A", "2B", "3A", "3B", "3C", "3D", "3E", "3F",
    "4", "5A", "5B", "5C", "5D", "6", "7", "8", "9", "10",
)  # fmt: skip
CLOSE_REASON_CODES = tuple(f"RC{i}" for i in range(1, 10))
CP_CATEGORIES = ("Neglect", "Physical abuse", "Sexual abuse", "Emotional abuse", "Multiple")
ASSESSMENT_FACTOR_CODES = (
    "1A", "1B", "1C", "2A", "2B", "2C", "3A", "3B", "3C", "4A", "4B", "4C",
    "5A", "5B", "5C", "6A", "6B", "6C", "7A", "8B", "8C", "8D", "8E", "8F",
    "9A", "10A", "11A", "12A", "13A", "14A", "15A", "16A", "17A",
    "18A", "18B", "18C", "19A", "19B", "19C", "20", "21", "22A", "23A", "24A",
)  # fmt: skip
"""CIN assessment factor codes (CINF002A). E.g. 3A domestic abuse concerning the
child... see SSD_COLUMNS.md for the full meaning of each code."""
CLA_START_REASONS = ("S", "L", "P", "T", "B", "U")
CLA_CEASED_REASONS = (
    "X1", "E11", "E12", "E2", "E3", "E4A", "E4B", "E13", "E41", "E45", "E46", "E47", "E48",
    "E5", "E6", "E7", "E9", "E14", "E15", "E16", "E17", "E8",
)  # fmt: skip
LEGAL_STATUS_CODES = (
    "C1", "C2", "D1", "E1", "V2", "V3", "V4", "L1", "L2", "L3", "J1", "J2", "J3",
)  # fmt: skip
IMMIGRATION_STATUS_CODES = ("U", "P", "R", "A", "UASC", "ILR", "DLR")
WORKER_CHANGE_REASONS = (
    "MANAGE", "FCONTA", "LEFTRL", "ORGRST", "TSPROC", "ABSENC", "CHCHAN", "PCCHAN", "SWDIED",
    "OTHERS",
)  # fmt: skip
RELATIONSHIP_CODES = (
    "parent", "step_parent", "partner_of_parent", "sibling", "half_sibling", "grandparent",
    "other_relative",
)  # fmt: skip

AGENCIES = {
    "csc": "Children's social care",
    "early_help": "Early Help",
    "police": "Police",
    "housing": "Housing",
    "asc": "Adult social care",
    "adult_mental_health": "Adult mental health",
    "drug_alcohol": "Drug and alcohol service",
    "health_visiting": "Health visiting",
    "gp": "GP",
    "acute_health": "Hospital (A&E)",
    "school": "School",
    "youth_justice": "Youth offending service",
    "young_carers": "Young carers service",
    "early_years": "Early years",
}
"""Agency codes used in coverage, metadata and feature specs, with display names."""

TABLE_AGENCY_LABELS = {"health": "Health services (agency given per row by heal_service)"}

HEALTH_SERVICE_AGENCY = {
    "adult_mental_health": "adult_mental_health",
    "drug_alcohol": "drug_alcohol",
    "health_visiting": "health_visiting",
    "gp_concern": "gp",
    "a_and_e": "acute_health",
}
"""The agency behind each ``heal_service`` value of ``ext_health_event``."""


@dataclass(frozen=True)
class Column:
    """One column of a table in the linked dataset.

    Parameters
    ----------
    name : str
        Exact column name (SSD name where SSD has the field).
    dtype : {"string", "date", "timestamp", "int", "float", "json"}
        Logical type. ``date`` has day precision; ``timestamp`` has time.
    description : str
        Plain-English meaning, rendered in the data dictionary.
    required : bool
        A null or empty value rejects the row.
    codes : tuple of str, optional
        Allowed values; for ``json`` columns, allowed elements of the array.
    references : str, optional
        ``"table.column"`` that every non-null value must exist in.
    min_value, max_value : float, optional
        Inclusive numeric bounds.
    identifying : bool
        Names, full dates of birth, contact details, free text about a person:
        never read by the analytics pipeline.
    ssd : bool
        Whether the column exists in the SSD specification.
    """

    name: str
    dtype: DType
    description: str = ""
    required: bool = False
    codes: tuple[str, ...] | None = None
    references: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    identifying: bool = False
    ssd: bool = True


@dataclass(frozen=True)
class Table:
    """A table of the linked dataset with its keys and validation rules.

    Parameters
    ----------
    name : str
        Table name, e.g. ``ssd_cp_plans``.
    prefix : str
        Four-letter column prefix including the underscore, e.g. ``cppl_``.
    grain : str
        What one row is ("one row per ...").
    agency : str
        Key of :data:`AGENCIES` that supplies the table.
    columns : tuple of Column
        Columns in canonical order.
    primary_key : tuple of str
        Columns whose combination is unique.
    person_column : str, optional
        The column holding the person id, if the table is about a person.
    event_date : str, optional
        The column giving when the event happened (labels use it).
    recorded_at : str, optional
        The column giving when the platform learned of the row (features
        filter on it).
    date_order : tuple of (str, str)
        Pairs ``(start, end)`` where a non-null end must not precede start.
    restricted : bool
        The whole table is restricted (identity, contact details, free text):
        only the web app reads it, for authorised users.
    """

    name: str
    prefix: str
    grain: str
    agency: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    person_column: str | None = None
    event_date: str | None = None
    recorded_at: str | None = None
    date_order: tuple[tuple[str, str], ...] = ()
    restricted: bool = False
    description: str = ""
    extra_checks: tuple[tuple[str, str, str], ...] = field(default=())
    """``(rule_name, sql_condition_that_must_hold, message)`` row-level checks."""

    @property
    def column_names(self) -> list[str]:
        """Column names in canonical order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """Return the column called ``name``.

        Raises
        ------
        KeyError
            If the table has no such column; the message lists valid names.
        """
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}; columns: {self.column_names}")

    @property
    def required_columns(self) -> list[str]:
        """Columns that must be non-null (primary key columns included)."""
        return [c.name for c in self.columns if c.required or c.name in self.primary_key]

    @property
    def is_event_table(self) -> bool:
        """Whether rows are dated events with a point-in-time timestamp."""
        return self.event_date is not None and self.recorded_at is not None


def _pid(prefix: str, table_desc: str = "person") -> Column:
    return Column(
        f"{prefix}person_id",
        "string",
        f"Pseudonymous id of the {table_desc}",
        required=True,
        references="ssd_person.pers_person_id",
    )


def _rec(prefix: str) -> Column:
    return Column(
        f"{prefix}recorded_at",
        "timestamp",
        "When the platform learned of this row (point-in-time features filter on it)",
        required=True,
        ssd=False,
    )


def _id(name: str, what: str, ssd: bool = True) -> Column:
    return Column(name, "string", f"Unique id of the {what}", required=True, ssd=ssd)


def _d(name: str, desc: str, required: bool = False, ssd: bool = True) -> Column:
    return Column(name, "date", desc, required=required, ssd=ssd)


def _s(name: str, desc: str, **kw) -> Column:  # noqa: ANN003 - thin helper
    return Column(name, "string", desc, **kw)


def _yn(name: str, desc: str, **kw) -> Column:  # noqa: ANN003
    return Column(name, "string", desc, codes=YN, **kw)


# --- the tables -----------------------------------------------------------------------
_PEOPLE: list[Table] = [
    Table(
        "ssd_person", "pers_", "child or adult known to the LA", "csc",
        (
            _id("pers_person_id", "person"),
            _s("pers_legacy_id", "Legacy/CMS system id"),
            _s("pers_sex", "Sex: F, M or U (unknown)", required=True, codes=("F", "M", "U")),
            _s("pers_gender", "Gender code 00/01/02/09", codes=("00", "01", "02", "09")),
            _s("pers_ethnicity", "DfE ethnicity code", required=True, codes=ETHNICITY_CODES),
            _d("pers_dob", "Date of birth at month precision (first of the month)", True),
            _d("pers_death_date", "Date of death"),
            _yn("pers_is_child", "Y if the person is a child in the LA's records", required=True,
                ssd=False),
            _yn("pers_send_flag", "Has an EHC plan"),
            _yn("pers_is_mother", "Is a mother"),
            _s("pers_nationality", "Country of origin (UASC)"),
        ),
        ("pers_person_id",), person_column="pers_person_id",
        date_order=(("pers_dob", "pers_death_date"),),
        description="People: children and the adults around them. Identifying fields "
        "(names, UPN, NHS number) are moved to ext_person_identity at ingest.",
    ),
    Table(
        "ext_person_identity", "iden_", "person (restricted)", "csc",
        (
            _id("iden_person_id", "person", ssd=False),
            _s("iden_forename", "Forename", identifying=True, ssd=False),
            _s("iden_surname", "Surname", identifying=True, ssd=False),
            _d("iden_dob", "Full date of birth", ssd=False),
            _s("iden_nhs_number", "NHS number where known", identifying=True, ssd=False),
            _s("iden_upn", "Unique pupil number where known", identifying=True, ssd=False),
        ),
        ("iden_person_id",), person_column="iden_person_id", restricted=True,
        description="Names and identifiers. Never read by the analytics pipeline.",
    ),
    Table(
        "ssd_family", "fami_", "person x family (household membership spell)", "csc",
        (
            _id("fami_table_id", "membership row"),
            _s("fami_family_id", "Family (household) id", required=True),
            _pid("fami_"),
            _d("fami_start_date", "Joined the household", True, ssd=False),
            _d("fami_end_date", "Left the household", ssd=False),
            _rec("fami_"),
        ),
        ("fami_table_id",), person_column="fami_person_id", event_date="fami_start_date",
        recorded_at="fami_recorded_at", date_order=(("fami_start_date", "fami_end_date"),),
    ),
    Table(
        "ext_person_relationship", "rela_", "pair of people (related person is the <relationship> "
        "of person)", "csc",
        (
            _id("rela_relationship_id", "relationship", ssd=False),
            _pid("rela_"),
            Column("rela_related_person_id", "string", "The related person", required=True,
                   references="ssd_person.pers_person_id", ssd=False),
            _s("rela_relationship", "What the related person is to the person", required=True,
               codes=RELATIONSHIP_CODES, ssd=False),
            _yn("rela_same_household", "Live in the same household", required=True, ssd=False),
            _d("rela_start_date", "Relationship start", True, ssd=False),
            _d("rela_end_date", "Relationship end", ssd=False),
            _rec("rela_"),
        ),
        ("rela_relationship_id",), person_column="rela_person_id", event_date="rela_start_date",
        recorded_at="rela_recorded_at", date_order=(("rela_start_date", "rela_end_date"),),
    ),
    Table(
        "ssd_address", "addr_", "person x address spell", "csc",
        (
            _id("addr_table_id", "address spell"),
            _pid("addr_"),
            _s("addr_address_type", "Home, placement, temporary"),
            _d("addr_address_start_date", "Start of the spell", True),
            _d("addr_address_end_date", "End of the spell"),
            _s("addr_address_postcode", "Postcode sector only (e.g. 'LS9 7')"),
            _s("addr_lsoa_code", "LSOA 2021 code", required=True, ssd=False),
            Column("addr_imd_decile", "int", "IMD 2019 decile of the LSOA (1 = most deprived)",
                   required=True, min_value=1, max_value=10, ssd=False),
            _rec("addr_"),
        ),
        ("addr_table_id",), person_column="addr_person_id", event_date="addr_address_start_date",
        recorded_at="addr_recorded_at",
        date_order=(("addr_address_start_date", "addr_address_end_date"),),
    ),
    Table(
        "ssd_disability", "disa_", "person x disability", "csc",
        (
            _id("disa_table_id", "disability row"),
            _pid("disa_"),
            _s("disa_disability_code", "DfE disability code", required=True,
               codes=DISABILITY_CODES),
        ),
        ("disa_table_id",), person_column="disa_person_id",
    ),
    Table(
        "ssd_immigration_status", "immi_", "person x immigration status spell", "csc",
        (
            _id("immi_immigration_status_id", "status spell"),
            _pid("immi_"),
            _s("immi_immigration_status", "Status code (UASC marks unaccompanied asylum seekers)",
               required=True, codes=IMMIGRATION_STATUS_CODES),
            _d("immi_immigration_status_start_date", "Start", True),
            _d("immi_immigration_status_end_date", "End"),
            _rec("immi_"),
        ),
        ("immi_immigration_status_id",), person_column="immi_person_id",
        event_date="immi_immigration_status_start_date", recorded_at="immi_recorded_at",
        date_order=(("immi_immigration_status_start_date", "immi_immigration_status_end_date"),),
    ),
]

_CSC: list[Table] = [
    Table(
        "ssd_contacts", "cont_", "contact with children's social care", "csc",
        (
            _id("cont_contact_id", "contact"),
            _pid("cont_"),
            _d("cont_contact_date", "Date of the contact", True),
            _s("cont_contact_source_code", "Source code (CIN referral source list)",
               codes=REFERRAL_SOURCE_CODES),
            _s("cont_contact_source_desc", "Source description"),
            Column("cont_contact_outcome_json", "json",
                   "Outcome flags, e.g. {\"NFA_FLAG\": \"Y\", \"NEW_REFERRAL_FLAG\": \"N\"}"),
            _rec("cont_"),
        ),
        ("cont_contact_id",), person_column="cont_person_id", event_date="cont_contact_date",
        recorded_at="cont_recorded_at",
    ),
    Table(
        "ssd_early_help_episodes", "earl_", "Early Help episode", "early_help",
        (
            _id("earl_episode_id", "episode"),
            _pid("earl_"),
            _d("earl_episode_start_date", "Start", True),
            _d("earl_episode_end_date", "End"),
            _s("earl_episode_reason", "Reason for Early Help involvement"),
            _s("earl_episode_end_reason", "Why the episode ended"),
            _s("earl_episode_organisation", "Lead organisation"),
            _s("earl_episode_worker_id", "Lead worker id"),
            _s("earl_episode_team", "Early Help team (for need-to-know)", ssd=False),
            _rec("earl_"),
        ),
        ("earl_episode_id",), person_column="earl_person_id",
        event_date="earl_episode_start_date", recorded_at="earl_recorded_at",
        date_order=(("earl_episode_start_date", "earl_episode_end_date"),),
    ),
    Table(
        "ssd_cin_episodes", "cine_", "referral / child-in-need episode", "csc",
        (
            _id("cine_referral_id", "referral"),
            _pid("cine_"),
            _d("cine_referral_date", "Referral date", True),
            _s("cine_cin_primary_need_code", "Primary need N0-N9", codes=PRIMARY_NEED_CODES),
            _s("cine_referral_source_code", "Referral source", codes=REFERRAL_SOURCE_CODES),
            _s("cine_referral_source_desc", "Referral source description"),
            Column("cine_referral_outcome_json", "json", "Referral outcome flags"),
            _yn("cine_referral_nfa", "No further action at referral"),
            _s("cine_close_reason", "Closure reason RC1-RC9", codes=CLOSE_REASON_CODES),
            _d("cine_close_date", "Episode close date"),
            _s("cine_referral_team", "Team id"),
            _s("cine_referral_worker_id", "Worker id"),
            _rec("cine_"),
        ),
        ("cine_referral_id",), person_column="cine_person_id", event_date="cine_referral_date",
        recorded_at="cine_recorded_at", date_order=(("cine_referral_date", "cine_close_date"),),
    ),
    Table(
        "ssd_cin_assessments", "cina_", "assessment", "csc",
        (
            _id("cina_assessment_id", "assessment"),
            _pid("cina_"),
            Column("cina_referral_id", "string", "Referral the assessment belongs to",
                   references="ssd_cin_episodes.cine_referral_id"),
            _d("cina_assessment_start_date", "Start", True),
            _yn("cina_assessment_child_seen", "Child seen"),
            _d("cina_assessment_auth_date", "Authorised (completed) date"),
            Column("cina_assessment_outcome_json", "json", "Assessment outcome flags"),
            _yn("cina_assessment_outcome_nfa", "No further action after assessment"),
            _s("cina_assessment_team", "Team id"),
            _s("cina_assessment_worker_id", "Worker id"),
            _rec("cina_"),
        ),
        ("cina_assessment_id",), person_column="cina_person_id",
        event_date="cina_assessment_start_date", recorded_at="cina_recorded_at",
        date_order=(("cina_assessment_start_date", "cina_assessment_auth_date"),),
    ),
    Table(
        "ssd_assessment_factors", "cinf_", "factors identified at one assessment", "csc",
        (
            _id("cinf_table_id", "factor row"),
            Column("cinf_assessment_id", "string", "Assessment", required=True,
                   references="ssd_cin_assessments.cina_assessment_id"),
            Column("cinf_assessment_factors_json", "json",
                   "JSON array of factor codes answered yes, e.g. [\"3A\", \"4B\"]",
                   required=True, codes=ASSESSMENT_FACTOR_CODES),
            _rec("cinf_"),
        ),
        ("cinf_table_id", "cinf_assessment_id"), recorded_at="cinf_recorded_at",
        description="Factor codes per assessment (2B parent drugs... see SSD_COLUMNS.md). "
        "Dated by the assessment's authorised date; recorded_at is when factors were entered.",
    ),
    Table(
        "ssd_s47_enquiry", "s47e_", "section 47 enquiry", "csc",
        (
            _id("s47e_s47_enquiry_id", "enquiry"),
            Column("s47e_referral_id", "string", "Referral",
                   references="ssd_cin_episodes.cine_referral_id"),
            _pid("s47e_"),
            _d("s47e_s47_start_date", "Start", True),
            _d("s47e_s47_end_date", "End"),
            _yn("s47e_s47_nfa", "No further action"),
            Column("s47e_s47_outcome_json", "json", "Outcome flags, e.g. CP_CONFERENCE_FLAG"),
            _s("s47e_s47_completed_by_team", "Team id"),
            _s("s47e_s47_completed_by_worker_id", "Worker id"),
            _rec("s47e_"),
        ),
        ("s47e_s47_enquiry_id",), person_column="s47e_person_id",
        event_date="s47e_s47_start_date", recorded_at="s47e_recorded_at",
        date_order=(("s47e_s47_start_date", "s47e_s47_end_date"),),
    ),
    Table(
        "ssd_initial_cp_conference", "icpc_", "initial child protection conference", "csc",
        (
            _id("icpc_icpc_id", "conference"),
            _s("icpc_icpc_meeting_id", "Meeting id"),
            Column("icpc_s47_enquiry_id", "string", "Section 47 enquiry",
                   references="ssd_s47_enquiry.s47e_s47_enquiry_id"),
            _pid("icpc_"),
            _s("icpc_cp_plan_id", "CP plan started at the conference"),
            _s("icpc_referral_id", "Referral"),
            _yn("icpc_icpc_transfer_in", "Transfer-in conference"),
            _d("icpc_icpc_target_date", "Target date"),
            _d("icpc_icpc_date", "Conference date", True),
            _yn("icpc_icpc_outcome_cp_flag", "Child made subject of a CP plan"),
            Column("icpc_icpc_outcome_json", "json", "Outcome flags"),
            _s("icpc_icpc_team", "Team id"),
            _s("icpc_icpc_worker_id", "Worker id"),
            _rec("icpc_"),
        ),
        ("icpc_icpc_id",), person_column="icpc_person_id", event_date="icpc_icpc_date",
        recorded_at="icpc_recorded_at",
    ),
    Table(
        "ssd_cp_plans", "cppl_", "child protection plan", "csc",
        (
            _id("cppl_cp_plan_id", "plan"),
            _s("cppl_referral_id", "Referral"),
            _s("cppl_icpc_id", "Initial conference"),
            _pid("cppl_"),
            _d("cppl_cp_plan_start_date", "Start", True),
            _d("cppl_cp_plan_end_date", "End"),
            _yn("cppl_cp_plan_ola", "Plan held by another LA"),
            _s("cppl_cp_plan_initial_category", "Initial category", codes=CP_CATEGORIES),
            _s("cppl_cp_plan_latest_category", "Latest category", codes=CP_CATEGORIES),
            _rec("cppl_"),
        ),
        ("cppl_cp_plan_id",), person_column="cppl_person_id",
        event_date="cppl_cp_plan_start_date", recorded_at="cppl_recorded_at",
        date_order=(("cppl_cp_plan_start_date", "cppl_cp_plan_end_date"),),
    ),
    Table(
        "ssd_cla_episodes", "clae_", "looked-after (care) episode", "csc",
        (
            _id("clae_cla_episode_id", "episode"),
            _pid("clae_"),
            _s("clae_cla_placement_id", "Placement"),
            _d("clae_cla_episode_start_date", "Start", True),
            _s("clae_cla_episode_start_reason", "Reason for new episode (RNE)",
               codes=CLA_START_REASONS),
            _s("clae_cla_primary_need_code", "Primary need N1-N8", codes=PRIMARY_NEED_CODES[1:9]),
            _d("clae_cla_episode_ceased_date", "Ceased"),
            _s("clae_cla_episode_ceased_reason", "Reason ceased (REC)", codes=CLA_CEASED_REASONS),
            _s("clae_cla_id", "Period of care id"),
            _s("clae_referral_id", "Referral"),
            _d("clae_cla_last_iro_contact_date", "Last IRO contact"),
            _d("clae_entered_care_date", "Date the period of care began"),
            _rec("clae_"),
        ),
        ("clae_cla_episode_id",), person_column="clae_person_id",
        event_date="clae_cla_episode_start_date", recorded_at="clae_recorded_at",
        date_order=(("clae_cla_episode_start_date", "clae_cla_episode_ceased_date"),),
    ),
    Table(
        "ssd_legal_status", "lega_", "legal status spell", "csc",
        (
            _id("lega_legal_status_id", "legal status"),
            _pid("lega_"),
            _s("lega_legal_status", "SSDA903 legal status (V2 = s20, C2 = full care order...)",
               required=True, codes=LEGAL_STATUS_CODES),
            _d("lega_legal_status_start_date", "Start", True),
            _d("lega_legal_status_end_date", "End"),
            _rec("lega_"),
        ),
        ("lega_legal_status_id",), person_column="lega_person_id",
        event_date="lega_legal_status_start_date", recorded_at="lega_recorded_at",
        date_order=(("lega_legal_status_start_date", "lega_legal_status_end_date"),),
    ),
    Table(
        "ssd_missing", "miss_", "missing-from-home or care episode", "csc",
        (
            _id("miss_table_id", "episode"),
            _pid("miss_"),
            _d("miss_missing_episode_start_date", "Start", True),
            _s("miss_missing_episode_type", "M missing / A away", codes=("M", "A")),
            _d("miss_missing_episode_end_date", "End"),
            _s("miss_missing_rhi_offered", "Return interview offered", codes=("Y", "N", "NA")),
            _s("miss_missing_rhi_accepted", "Return interview accepted", codes=("Y", "N", "NA")),
            _rec("miss_"),
        ),
        ("miss_table_id",), person_column="miss_person_id",
        event_date="miss_missing_episode_start_date", recorded_at="miss_recorded_at",
        date_order=(("miss_missing_episode_start_date", "miss_missing_episode_end_date"),),
    ),
    Table(
        "ssd_professionals", "prof_", "professional", "csc",
        (
            _id("prof_professional_id", "professional"),
            _s("prof_staff_id", "Staff id"),
            _s("prof_professional_name", "Name", identifying=True),
            _s("prof_social_worker_registration_no", "SWE registration"),
            _yn("prof_agency_worker_flag", "Agency worker"),
            _s("prof_professional_job_title", "Job title"),
            Column("prof_professional_caseload", "int", "Open allocated cases", min_value=0),
            _s("prof_professional_department", "Department / team id"),
            Column("prof_full_time_equivalency", "float", "FTE", min_value=0, max_value=1.5),
            _s("prof_contact_email", "Work email", identifying=True, ssd=False),
            _s("prof_contact_phone", "Work phone", identifying=True, ssd=False),
        ),
        ("prof_professional_id",),
    ),
    Table(
        "ssd_involvements", "invo_", "professional involvement with a person", "csc",
        (
            _id("invo_involvements_id", "involvement"),
            Column("invo_professional_id", "string", "Professional", required=True,
                   references="ssd_professionals.prof_professional_id"),
            _s("invo_professional_role_id", "Involvement type code (CW = case worker)"),
            _s("invo_professional_team", "Team id"),
            _pid("invo_"),
            _d("invo_involvement_start_date", "Start", True),
            _d("invo_involvement_end_date", "End"),
            _s("invo_worker_change_reason", "Why the worker changed", codes=WORKER_CHANGE_REASONS),
            _s("invo_referral_id", "Referral"),
            _rec("invo_"),
        ),
        ("invo_involvements_id",), person_column="invo_person_id",
        event_date="invo_involvement_start_date", recorded_at="invo_recorded_at",
        date_order=(("invo_involvement_start_date", "invo_involvement_end_date"),),
    ),
    Table(
        "ssd_department", "dept_", "team", "csc",
        (
            _id("dept_team_id", "team"),
            _s("dept_team_name", "Team name", required=True),
            _s("dept_team_parent_id", "Parent team / area id"),
            _s("dept_team_parent_name", "Parent team / area name"),
        ),
        ("dept_team_id",),
    ),
]

POLICE_EVENT_TYPES = (
    "domestic_abuse", "missing_person", "asb", "arrest", "concern_for_welfare", "violent_crime",
    "other_crime",
)  # fmt: skip
POLICE_ROLES = ("victim", "suspect", "witness", "child_present", "subject")
HOUSING_EVENT_TYPES = (
    "homelessness_application", "temporary_accommodation", "rent_arrears", "eviction_notice",
    "asb_case",
)  # fmt: skip
HEALTH_SERVICES = (
    "adult_mental_health", "drug_alcohol", "health_visiting", "gp_concern", "a_and_e",
)  # fmt: skip


def _event_table(
    name: str, prefix: str, grain: str, agency: str, cols: tuple[Column, ...],
    date_col: str, end_col: str | None = None, description: str = "",
) -> Table:
    """Declare a partner-agency event table whose first column is its key."""
    return Table(
        name, prefix, grain, agency, cols + (_rec(prefix),), (cols[0].name,),
        person_column=f"{prefix}person_id", event_date=date_col,
        recorded_at=f"{prefix}recorded_at",
        date_order=((date_col, end_col),) if end_col else (), description=description,
    )


_EXT: list[Table] = [
    _event_table(
        "ext_police_event", "poli_", "person involved in a police incident", "police",
        (
            _id("poli_event_id", "person-in-incident row", ssd=False),
            Column("poli_incident_id", "string", "Incident id (shared by everyone involved)",
                   required=True, ssd=False),
            _pid("poli_"),
            _d("poli_event_date", "Incident date", True, ssd=False),
            _s("poli_event_type", "Incident type", required=True, codes=POLICE_EVENT_TYPES,
               ssd=False),
            _s("poli_role", "Role of the person", required=True, codes=POLICE_ROLES, ssd=False),
        ),
        "poli_event_date",
    ),
    _event_table(
        "ext_housing_event", "hous_", "housing event for a person", "housing",
        (
            _id("hous_event_id", "housing event", ssd=False),
            _pid("hous_"),
            _d("hous_event_date", "Event date", True, ssd=False),
            _s("hous_event_type", "Event type", required=True, codes=HOUSING_EVENT_TYPES,
               ssd=False),
            _d("hous_end_date", "End (temporary accommodation)", ssd=False),
        ),
        "hous_event_date", "hous_end_date",
    ),
    _event_table(
        "ext_asc_involvement", "asci_", "adult social care involvement", "asc",
        (
            _id("asci_involvement_id", "involvement", ssd=False),
            _pid("asci_"),
            _s("asci_service_type", "Service type", required=True,
               codes=("assessment", "home_care", "day_care", "carer_support", "reablement",
                      "residential", "safeguarding_adults"), ssd=False),
            _d("asci_start_date", "Start", True, ssd=False),
            _d("asci_end_date", "End", ssd=False),
        ),
        "asci_start_date", "asci_end_date",
    ),
    _event_table(
        "ext_health_event", "heal_", "health service event", "health",
        (
            _id("heal_event_id", "health event", ssd=False),
            _pid("heal_"),
            _s("heal_service", "Which service", required=True, codes=HEALTH_SERVICES, ssd=False),
            _s("heal_event_type", "Event type", required=True,
               codes=("referral", "contact", "concern", "attendance", "discharge"), ssd=False),
            _d("heal_event_date", "Event date", True, ssd=False),
        ),
        "heal_event_date",
        description="Health events: adult mental health, drug & alcohol, health visiting, "
        "GP-reported concerns, A&E. The agency of each row is its heal_service.",
    ),
    _event_table(
        "ext_school_enrolment", "scho_", "school enrolment spell", "school",
        (
            _id("scho_enrolment_id", "enrolment", ssd=False),
            _pid("scho_"),
            _s("scho_school_id", "School id (URN)", required=True, ssd=False),
            _s("scho_phase", "Phase", codes=("nursery", "primary", "secondary", "special", "ap"),
               ssd=False),
            _d("scho_start_date", "Start", True, ssd=False),
            _d("scho_end_date", "End", ssd=False),
            _s("scho_sen_status", "SEN status: N none, K SEN support, E EHC plan",
               codes=("N", "K", "E"), ssd=False),
        ),
        "scho_start_date", "scho_end_date",
    ),
    Table(
        "ext_school_attendance", "atte_", "pupil x term", "school",
        (
            _id("atte_attendance_id", "attendance row", ssd=False),
            _pid("atte_"),
            _d("atte_term_start_date", "Term start", True, ssd=False),
            _d("atte_term_end_date", "Term end (the row is known after it)", True, ssd=False),
            Column("atte_sessions_possible", "int", "Sessions possible", required=True,
                   min_value=0, max_value=400, ssd=False),
            Column("atte_sessions_missed", "int", "Sessions missed", required=True,
                   min_value=0, ssd=False),
            Column("atte_sessions_unauthorised", "int", "Unauthorised absences",
                   min_value=0, ssd=False),
            _rec("atte_"),
        ),
        ("atte_attendance_id",), person_column="atte_person_id",
        event_date="atte_term_end_date", recorded_at="atte_recorded_at",
        date_order=(("atte_term_start_date", "atte_term_end_date"),),
        extra_checks=(
            ("missed_within_possible", "atte_sessions_missed <= atte_sessions_possible",
             "sessions missed exceed sessions possible"),
            ("unauthorised_within_missed",
             "atte_sessions_unauthorised IS NULL OR "
             "atte_sessions_unauthorised <= atte_sessions_missed",
             "unauthorised absences exceed sessions missed"),
        ),
    ),
    _event_table(
        "ext_school_exclusion", "excl_", "suspension or permanent exclusion", "school",
        (
            _id("excl_exclusion_id", "exclusion", ssd=False),
            _pid("excl_"),
            _d("excl_exclusion_date", "Start date", True, ssd=False),
            _s("excl_type", "suspension or permanent", required=True,
               codes=("suspension", "permanent"), ssd=False),
            Column("excl_days", "float", "Length in days", min_value=0, ssd=False),
        ),
        "excl_exclusion_date",
    ),
    _event_table(
        "ext_youth_justice", "yjus_", "youth justice outcome", "youth_justice",
        (
            _id("yjus_event_id", "outcome", ssd=False),
            _pid("yjus_"),
            _d("yjus_event_date", "Outcome date", True, ssd=False),
            _s("yjus_outcome", "Outcome", required=True,
               codes=("triage", "youth_caution", "youth_conditional_caution", "referral_order",
                      "youth_rehabilitation_order", "custody"), ssd=False),
        ),
        "yjus_event_date",
    ),
    _event_table(
        "ext_young_carer", "ycar_", "young carer assessment / support", "young_carers",
        (
            _id("ycar_event_id", "young carer record", ssd=False),
            _pid("ycar_"),
            _d("ycar_assessment_date", "Assessment date", True, ssd=False),
            _d("ycar_support_end_date", "Support ended", ssd=False),
        ),
        "ycar_assessment_date", "ycar_support_end_date",
    ),
    _event_table(
        "ext_early_years", "eyrs_", "early-years setting attendance spell", "early_years",
        (
            _id("eyrs_event_id", "early-years spell", ssd=False),
            _pid("eyrs_"),
            _s("eyrs_setting_id", "Setting id", ssd=False),
            _d("eyrs_start_date", "Start", True, ssd=False),
            _d("eyrs_end_date", "End", ssd=False),
            _yn("eyrs_two_year_old_funded", "Two-year-old entitlement", ssd=False),
        ),
        "eyrs_start_date", "eyrs_end_date",
    ),
    Table(
        "ext_source_coverage", "cove_", "family x source x period the family's records were "
        "linked", "csc",
        (
            _id("cove_coverage_id", "coverage row", ssd=False),
            _s("cove_family_id", "Family id", required=True, ssd=False),
            _s("cove_source", "Agency code", required=True, codes=tuple(AGENCIES), ssd=False),
            _d("cove_start_date", "Linked from", True, ssd=False),
            _d("cove_end_date", "Linked until (null = still linked)", ssd=False),
        ),
        ("cove_coverage_id",), date_order=(("cove_start_date", "cove_end_date"),),
        description="Whether a source is linked for a family in a period: features use it so "
        "that missing data is not read as 'no risk'.",
    ),
    Table(
        "ext_service_involvement", "serv_", "a family member's involvement with a service",
        "csc",
        (
            _id("serv_involvement_id", "involvement", ssd=False),
            _pid("serv_"),
            _s("serv_family_id", "Family id", ssd=False),
            _s("serv_service", "Service name", required=True, ssd=False),
            _s("serv_agency", "Agency code", required=True, codes=tuple(AGENCIES), ssd=False),
            _s("serv_status", "current or historic", required=True,
               codes=("current", "historic"), ssd=False),
            _d("serv_start_date", "Start", True, ssd=False),
            _d("serv_end_date", "End", ssd=False),
            _s("serv_lead_name", "Lead professional's name", identifying=True, ssd=False),
            _s("serv_lead_role", "Lead professional's role", ssd=False),
            _s("serv_lead_email", "Lead professional's email", identifying=True, ssd=False),
            _s("serv_lead_phone", "Lead professional's phone", identifying=True, ssd=False),
            _rec("serv_"),
        ),
        ("serv_involvement_id",), person_column="serv_person_id", event_date="serv_start_date",
        recorded_at="serv_recorded_at", date_order=(("serv_start_date", "serv_end_date"),),
        restricted=True,
        description="What the Stockport Family Context tool showed practitioners: every "
        "service involved with the family and who to call. App only.",
    ),
    Table(
        "ext_family_voice", "voic_", "a note in the family's own words", "early_help",
        (
            _id("voic_note_id", "note", ssd=False),
            _pid("voic_"),
            _s("voic_family_id", "Family id", ssd=False),
            _s("voic_author_role", "Who wrote it (parent, child, practitioner on behalf...)",
               required=True, ssd=False),
            _s("voic_text", "The note", required=True, identifying=True, ssd=False),
            _yn("voic_consent", "Family consented to share", required=True, ssd=False),
            _rec("voic_"),
        ),
        ("voic_note_id",), person_column="voic_person_id", recorded_at="voic_recorded_at",
        restricted=True,
    ),
    Table(
        "ext_source_metadata", "meta_", "source extract", "csc",
        (
            _id("meta_source_id", "extract", ssd=False),
            _s("meta_agency", "Agency code", required=True, codes=tuple(AGENCIES), ssd=False),
            _s("meta_table", "Table name", required=True, ssd=False),
            _d("meta_extract_date", "Extract date", True, ssd=False),
            _d("meta_period_start", "Period covered from", ssd=False),
            _d("meta_period_end", "Period covered to", ssd=False),
            _s("meta_accessibility", "easy / medium / poor (seed 003)",
               codes=("easy", "medium", "poor"), ssd=False),
            _s("meta_known_issues", "Known quality issues", ssd=False),
            _s("meta_dsa_reference", "Data-sharing agreement reference", ssd=False),
            _s("meta_lawful_basis", "Lawful basis", ssd=False),
        ),
        ("meta_source_id",), date_order=(("meta_period_start", "meta_period_end"),),
    ),
]

TABLES: dict[str, Table] = {t.name: t for t in (*_PEOPLE, *_CSC, *_EXT)}
"""Every table of the linked dataset, by name, in load order (parents first)."""

IDENTIFYING_SSD_PERSON_COLUMNS = {
    "pers_forename": "iden_forename",
    "pers_surname": "iden_surname",
    "pers_upn": "iden_upn",
    "pers_single_unique_id": "iden_nhs_number",
}
"""Identifying columns that real SSD extracts carry in ``ssd_person``; the loader
moves them into ``ext_person_identity`` at ingest (pseudonymisation at the door)."""


def get_table(name: str) -> Table:
    """Return the declared table ``name``.

    Raises
    ------
    KeyError
        If no such table is declared; the message lists the declared tables.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; declared tables: {sorted(TABLES)}") from None


def event_tables() -> list[Table]:
    """Tables whose rows are dated events with a ``recorded_at`` timestamp."""
    return [t for t in TABLES.values() if t.is_event_table]


def analytics_tables() -> list[Table]:
    """Tables the analytics pipeline may read (everything not restricted)."""
    return [t for t in TABLES.values() if not t.restricted]


_PANDAS_DTYPES = {
    "string": "string",
    "json": "string",
    "date": "datetime64[ns]",
    "timestamp": "datetime64[ns]",
    "int": "Int64",
    "float": "float64",
}


def pandera_schema(table: Table | str):  # noqa: ANN201 - pandera is imported lazily
    """Build a pandera ``DataFrameSchema`` for ``table`` from its declaration.

    Checks: columns present, nullability of required columns, allowed codes,
    numeric bounds, unique primary key and date order. Foreign keys and JSON
    code lists are cross-table / parsed checks that the loader runs in DuckDB.

    Parameters
    ----------
    table : Table or str
        The table or its name.

    Returns
    -------
    pandera.DataFrameSchema
    """
    import pandera.pandas as pa

    t = get_table(table) if isinstance(table, str) else table
    cols = {}
    for c in t.columns:
        checks = []
        if c.codes is not None and c.dtype != "json":
            checks.append(pa.Check.isin(list(c.codes)))
        if c.min_value is not None:
            checks.append(pa.Check.ge(c.min_value))
        if c.max_value is not None:
            checks.append(pa.Check.le(c.max_value))
        cols[c.name] = pa.Column(
            _PANDAS_DTYPES[c.dtype],
            checks=checks,
            nullable=c.name not in t.required_columns,
            coerce=True,
            required=True,
        )
    df_checks = []
    for start, end in t.date_order:
        df_checks.append(
            pa.Check(
                lambda df, s=start, e=end: df[e].isna() | (df[e] >= df[s]),
                name=f"{end}_not_before_{start}",
            )
        )
    return pa.DataFrameSchema(
        cols,
        checks=df_checks,
        unique=list(t.primary_key),
        strict=True,
        ordered=False,
        name=t.name,
    )


def data_dictionary_markdown() -> str:
    """Render every declared table as a Markdown data dictionary.

    Returns
    -------
    str
        Markdown with one section per table: grain, agency, keys, point-in-time
        columns and a table of columns with type, required flag, codes and meaning.
    """
    out = [
        "# earlywarning linked dataset: data dictionary",
        "",
        "Generated from `src/data/schema.py` by `earlywarning schema --markdown`. "
        "Do not edit by hand.",
        "",
        "Columns marked *ext* are not in the SSD specification. Columns marked "
        "*identifying* are never read by the analytics pipeline.",
        "",
    ]
    for t in TABLES.values():
        out += [f"## `{t.name}`", "", f"One row per {t.grain}. Agency: "
                f"{AGENCIES.get(t.agency) or TABLE_AGENCY_LABELS[t.agency]}."]
        if t.description:
            out += ["", t.description]
        out += ["", f"- Primary key: {', '.join(f'`{k}`' for k in t.primary_key)}"]
        if t.event_date:
            out.append(f"- Event date: `{t.event_date}`")
        if t.recorded_at:
            out.append(f"- Recorded at (point in time): `{t.recorded_at}`")
        for s, e in t.date_order:
            out.append(f"- Rule: `{e}` is not before `{s}`")
        for rule, _sql, msg in t.extra_checks:
            out.append(f"- Rule `{rule}`: rejected when {msg}")
        if t.restricted:
            out.append("- **Restricted**: read only by the web app for authorised users")
        out += ["", "| column | type | required | allowed values | meaning |",
                "|---|---|---|---|---|"]
        for c in t.columns:
            flags = []
            if not c.ssd:
                flags.append("*ext*")
            if c.identifying:
                flags.append("*identifying*")
            if c.references:
                flags.append(f"→ `{c.references}`")
            codes = ", ".join(c.codes) if c.codes else ""
            if c.min_value is not None or c.max_value is not None:
                codes = f"{c.min_value if c.min_value is not None else ''}–" \
                        f"{c.max_value if c.max_value is not None else ''}"
            req = "yes" if c.name in t.required_columns else ""
            out.append(
                f"| `{c.name}` | {c.dtype} | {req} | {codes} | {c.description} {' '.join(flags)} |"
            )
        out.append("")
    return "\n".join(out)
