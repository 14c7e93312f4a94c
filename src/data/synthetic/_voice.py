"""Phrase banks for ``ext_family_voice``: notes in the family's own words.

Hampshire's information-use project (seed ``000``) records a "voice note" when
an Early Help practitioner first calls a parent or carer after a referral.
These phrase banks let the generator write such notes in plain, first-person
English, reflecting what actually happened to the family (a housing crisis,
domestic abuse, a parent's mental health...). A note is assembled from an
opening, one or two worries, what would help and what is going well, each
drawn from a few variants so that notes read differently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from earlywarning.data.synthetic._columns import lexsort
from earlywarning.data.synthetic._context import (
    AncillaryContext,
    code_of,
    isin,
    make_frame,
    sequential_ids,
    to_days,
)

__all__ = ["CONCERNS", "build_family_voice", "compose_notes"]

CONCERNS = (
    "housing", "domestic_abuse", "mental_health", "substance", "school", "adult_care",
    "youth_justice", "young_carer", "missing", "general",
)  # fmt: skip
"""Worries a note can be about, in the order of the flag columns passed in."""

_ADULT = {
    "opening": (
        "I'm glad someone rang me back.",
        "Honestly, it's been a hard few months.",
        "I didn't ask for this referral, but I can see why the school made it.",
        "Things have been really up and down for us.",
        "I want to be honest about how things are at home.",
        "I was nervous about this call, so thank you for listening.",
    ),
    "housing": (
        "We're behind on the rent and I'm scared we'll lose the flat.",
        "We've been moved into temporary accommodation and the kids share one room.",
        "The landlord has given us notice and I don't know where we'll go.",
        "The damp in the flat is making the little one poorly and the council haven't fixed it.",
    ),
    "domestic_abuse": (
        "Things with my ex have been frightening and the children have heard a lot of it.",
        "There have been arguments that got out of hand and the police came out.",
        "I'm trying to keep the kids away from him but he keeps turning up.",
        "I don't always feel safe at home and I worry about what the children see.",
    ),
    "mental_health": (
        "My anxiety has been really bad and some days I can't get out of bed.",
        "I've been struggling with my mental health since the baby was born.",
        "I'm on a waiting list for counselling but it's taking ages.",
        "Some days I just feel low and it's hard to keep on top of everything.",
    ),
    "substance": (
        "I know my drinking got worse this year and I'm trying to cut down.",
        "I've been using again and I want to get back on track for the kids.",
        "My partner's drinking causes a lot of rows in the house.",
    ),
    "school": (
        "Getting the kids to school every morning is a battle.",
        "The school keep ringing me about behaviour and I don't know what to do.",
        "My eldest has been excluded and is at home all day now.",
    ),
    "adult_care": (
        "I'm also looking after my mum, and I'm stretched too thin.",
        "My partner's care needs take up most of my day.",
        "Since my own health got worse I rely on carers coming in.",
    ),
    "youth_justice": (
        "My eldest has been getting into trouble with the police and I'm worried where "
        "it's heading.",
        "He's mixing with older lads and I think they're using him.",
    ),
    "young_carer": (
        "My eldest does a lot for me at home, more than a child should.",
        "The kids help me with everything since I got ill, and I feel guilty about it.",
    ),
    "missing": (
        "One of mine has gone missing overnight a few times and I'm frightened.",
        "She stays out late and won't tell me where she's been.",
    ),
    "general": (
        "Money is tight and everything feels like a lot at the moment.",
        "I just need a bit of help with routines and bedtimes.",
        "I feel like I'm doing it all on my own.",
        "We've had a rough patch since my dad died.",
    ),
    "help": (
        "What would help is someone to talk to who won't judge me.",
        "I'd like help filling in the forms, I never know who to ring.",
        "I want the kids to have a settled home.",
        "I'd like some support with the children's behaviour.",
        "Please don't pass me between lots of different people.",
        "I'd rather have one worker I can trust than lots of meetings.",
        "A parenting course would be good if it's in the evening.",
    ),
    "strength": (
        "The kids are my world and we're close.",
        "My mum helps out when she can.",
        "The school have been really supportive.",
        "I've stopped seeing him and I'm proud of that.",
        "We still have a laugh together, even on bad days.",
        "I've kept every appointment this month.",
    ),
}  # fmt: skip

_CHILD = {
    "opening": (
        "I want people to know what it's like for me.",
        "I don't really like talking about it, but okay.",
        "This is what I want to say.",
        "Mum said I could say what I think.",
    ),
    "housing": (
        "I don't like sharing a room and I can't do my homework anywhere.",
        "We keep moving and I miss my old friends.",
    ),
    "domestic_abuse": (
        "When they shout I go to my room and put my headphones on.",
        "I get scared when he comes round.",
    ),
    "mental_health": (
        "Mum is sad a lot and I try to cheer her up.",
        "Sometimes Dad stays in bed all day.",
    ),
    "substance": (
        "I don't like it when there's drinking at home.",
        "I worry when Mum goes out and doesn't come back till late.",
    ),
    "school": (
        "I don't like school because people pick on me.",
        "I get in trouble at school and I don't always know why.",
    ),
    "adult_care": ("I help look after my nan.", "I have to be quiet a lot because Gran is ill."),
    "youth_justice": (
        "I know I've messed up and I want to sort it out.",
        "The police stopped me and my mates and now I've got to see someone every week.",
    ),
    "young_carer": (
        "I do the shopping and make tea most nights.",
        "I look after my little brother when Mum isn't well.",
    ),
    "missing": (
        "Sometimes I just need to get out of the house.",
        "I stay at my friend's when it gets bad at home.",
    ),
    "general": ("I want things to be calmer at home.", "I want Mum to be less stressed."),
    "help": (
        "I'd like someone to talk to.",
        "I want to keep going to football.",
        "I'd like my own space.",
        "I want the same worker, not a new one every time.",
    ),
    "strength": (
        "I'm good at art.",
        "My nan is the best person to talk to.",
        "I've got a good friend at school.",
        "I like playing with my little sister.",
    ),
}  # fmt: skip


def _pick(
    bank: dict[str, tuple[str, ...]], part: str, n: int, rng: np.random.Generator
) -> np.ndarray:
    options = np.array(bank[part], dtype=object)
    return options[rng.integers(0, len(options), n)]


def _pick_by_concern(
    bank: dict[str, tuple[str, ...]], concern: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    out = np.full(len(concern), "", dtype=object)
    for k, name in enumerate(CONCERNS):  # ten phrase banks, not a loop over notes
        hit = concern == k
        if hit.any():
            out[hit] = _pick(bank, name, int(hit.sum()), rng)
    return out


def compose_notes(
    concern_1: np.ndarray,
    concern_2: np.ndarray,
    is_child: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Write one first-person note per row from the family's circumstances.

    Parameters
    ----------
    concern_1 : numpy.ndarray
        Index into :data:`CONCERNS` of the main worry.
    concern_2 : numpy.ndarray
        Index of a second worry, or -1 for none.
    is_child : numpy.ndarray of bool
        Whether the author is a child (simpler words, a child's view).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        The notes, e.g. "Honestly, it's been a hard few months. We're behind on
        the rent... What would help is ... The kids are my world and we're close."
    """
    n = len(concern_1)
    is_child = np.asarray(is_child, dtype=bool)

    def part(name: str | None, concern: np.ndarray | None = None) -> np.ndarray:
        if concern is None:
            adult, child = _pick(_ADULT, name, n, rng), _pick(_CHILD, name, n, rng)
        else:
            adult = _pick_by_concern(_ADULT, concern, rng)
            child = _pick_by_concern(_CHILD, concern, rng)
        return np.where(is_child, child, adult)

    opening, worry = part("opening"), part(None, concern_1)
    second = part(None, np.where(concern_2 < 0, -1, concern_2))
    wish, strength = part("help"), part("strength")
    # Not every note says everything: the opening or the strength is left out now and then.
    opening = np.where(rng.random(n) < 0.8, opening + " ", "")
    second = np.where(second != "", " " + second, "")
    strength = np.where(rng.random(n) < 0.75, " " + strength, "")
    return (opening + worry + second + " " + wish + strength).astype(object)


_CONCERN_EVENTS = (
    # (concern, table, person column, date column, filter column, allowed values)
    ("housing", "ext_housing_event", "hous_person_id", "hous_event_date", None, None),
    ("domestic_abuse", "ext_police_event", "poli_person_id", "poli_event_date",
     "poli_event_type", ("domestic_abuse",)),
    ("mental_health", "ext_health_event", "heal_person_id", "heal_event_date", "heal_service",
     ("adult_mental_health",)),
    ("substance", "ext_health_event", "heal_person_id", "heal_event_date", "heal_service",
     ("drug_alcohol",)),
    ("school", "ext_school_exclusion", "excl_person_id", "excl_exclusion_date", None, None),
    ("adult_care", "ext_asc_involvement", "asci_person_id", "asci_start_date", None, None),
    ("youth_justice", "ext_youth_justice", "yjus_person_id", "yjus_event_date", None, None),
    ("young_carer", "ext_young_carer", "ycar_person_id", "ycar_assessment_date", None, None),
    ("missing", "ssd_missing", "miss_person_id", "miss_missing_episode_start_date", None, None),
    ("missing", "ext_police_event", "poli_person_id", "poli_event_date", "poli_event_type",
     ("missing_person",)),
)  # fmt: skip


_KNOWN_BY_DAYS = 14
"""A note can mention what happened up to two weeks after the episode started (the call
comes days later, often right after the incident that prompted the referral)."""


def _family_first_dates(ctx: AncillaryContext) -> np.ndarray:
    """Earliest day (int) of each kind of worry per family: shape (families, concerns - 1)."""
    n_fam = len(ctx.family_index)
    never = np.iinfo(np.int64).max
    first = np.full((n_fam, len(CONCERNS) - 1), never, dtype=np.int64)
    for concern, table, pid, date, fcol, allowed in _CONCERN_EVENTS:
        df = ctx.table(table)
        keep = isin(df[fcol], allowed) if fcol is not None else np.ones(len(df), bool)
        fam = ctx.family_of(ctx.codes(table, pid)[keep])
        day = to_days(df[date])[keep]
        ok = (fam >= 0) & ~np.isnat(day)
        if ok.any():
            mins = pd.Series(day[ok].astype(np.int64)).groupby(fam[ok]).min()
            col = CONCERNS.index(concern)
            idx = mins.index.to_numpy()
            first[idx, col] = np.minimum(first[idx, col], mins.to_numpy())
    return first


def build_family_voice(ctx: AncillaryContext, rng: np.random.Generator) -> pd.DataFrame:
    """Build ``ext_family_voice``: notes from families with Early Help or CSC involvement.

    For each family and each Early Help episode or CIN referral start (siblings
    starting together count once), a parent or carer usually leaves a note and
    a child aged 8 or over sometimes does. The note is recorded 1-21 days after
    the start, talks about the worries the family's own records show by two
    weeks after the start (housing, domestic abuse, a parent's mental health...) and carries consent
    ``Y`` for about 93% of notes. Notes that would be recorded after the
    extract date are not written.

    Parameters
    ----------
    ctx : AncillaryContext
        Context from the core tables.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    pandas.DataFrame
        The table, columns as declared in ``schema.py``.
    """
    child_parts, start_parts = [], []
    for table, pid, date in (("ssd_early_help_episodes", "earl_person_id",
                              "earl_episode_start_date"),
                             ("ssd_cin_episodes", "cine_person_id", "cine_referral_date")):
        df = ctx.table(table)
        child_parts.append(ctx.codes(table, pid))
        start_parts.append(to_days(df[date]))
    child = np.concatenate(child_parts)
    start = np.concatenate(start_parts)
    family = ctx.family_of(child)
    ok = (family >= 0) & ~np.isnat(start) & (start <= ctx.extract_date)
    child, start, family = child[ok], start[ok], family[ok]
    day = start.astype(np.int64)
    _, first_of = np.unique(family * 1_000_000 + (day - day.min() if len(day) else 0),
                            return_index=True)
    first_of = np.sort(first_of)
    child, start, family, day = child[first_of], start[first_of], family[first_of], day[first_of]
    n = len(child)

    # worries the family's records show by the start date
    flags = _family_first_dates(ctx)[family] <= day[:, None] + _KNOWN_BY_DAYS
    score = np.where(flags, rng.random(flags.shape), -1.0)
    order = np.argsort(-score, axis=1)
    c1 = np.where(flags.any(axis=1), order[:, 0], len(CONCERNS) - 1)
    has_two = (flags.sum(axis=1) >= 2) & (rng.random(n) < 0.5)
    c2 = np.where(has_two, order[:, 1], -1)

    person = ctx.table("ssd_person")
    dob = to_days(person["pers_dob"])
    sex = code_of(person["pers_sex"], ["F", "M"])  # 0 = F, 1 = M
    age = (start - dob[child]).astype(np.float64) / 365.25

    # each child's main carer: a parent (mother first), else a step-parent or partner
    rel = ctx.table("ext_person_relationship")
    rank = code_of(rel["rela_relationship"], ["parent", "step_parent", "partner_of_parent"])
    r_child = ctx.codes("ext_person_relationship", "rela_person_id")
    r_carer = ctx.codes("ext_person_relationship", "rela_related_person_id")
    keep = (rank >= 0) & (r_child >= 0) & (r_carer >= 0)
    r_child, r_carer, rank = r_child[keep], r_carer[keep], rank[keep]
    not_mother = sex[r_carer] != 0
    o = lexsort((r_carer, not_mother, rank, r_child))[::-1]  # best carer written last
    carer_of = np.full(len(dob), -1, dtype=np.int64)
    rank_of = np.full(len(dob), -1, dtype=np.int64)
    carer_of[r_child[o]] = r_carer[o]
    rank_of[r_child[o]] = rank[o]
    carer, carer_rank = carer_of[child], rank_of[child]

    parent_note = (carer >= 0) & (rng.random(n) < 0.85)
    child_note = (age >= 8) & (rng.random(n) < 0.45)
    carer_sex = np.where(carer >= 0, sex[np.maximum(carer, 0)] if len(sex) else -1, -1)
    parent_role = np.where(carer_rank == 0,
                           np.where(carer_sex == 0, "mother",
                                    np.where(carer_sex == 1, "father", "parent")),
                           "carer").astype(object)
    parent_role = np.where(rng.random(n) < 0.1,
                           "practitioner (in the " + parent_role + "'s words)", parent_role)
    idx = np.concatenate([np.flatnonzero(parent_note), np.flatnonzero(child_note)])
    is_child = np.concatenate([np.zeros(parent_note.sum(), bool), np.ones(child_note.sum(), bool)])
    author = np.concatenate([carer[parent_note], child[child_note]])
    role = np.concatenate([parent_role[parent_note],
                           np.where(age[child_note] >= 13, "young person", "child")])
    m = len(idx)
    lag = (rng.integers(1, 22, m) * 86_400 + rng.integers(9 * 3600, 17 * 3600, m)
           ).astype("timedelta64[s]")
    recorded = start[idx] + lag
    text = compose_notes(c1[idx], c2[idx], is_child, rng)
    consent = np.where(rng.random(m) < 0.93, "Y", "N")
    rows = lexsort((is_child, idx))
    rows = rows[recorded[rows] <= ctx.extract_ts]
    k = len(rows)
    return make_frame("ext_family_voice", {
        "voic_note_id": sequential_ids("VOI", k, 8),
        "voic_person_id": ctx.person_ids(author[rows]),
        "voic_family_id": ctx.family_ids(family[idx][rows]),
        "voic_author_role": role[rows],
        "voic_text": text[rows],
        "voic_consent": consent[rows],
        "voic_recorded_at": recorded[rows],
    }, k)
