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

__all__ = ["CONCERNS", "compose_notes"]

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
    parts = []
    for part in ("opening", None, "second", "help", "strength"):
        adult = np.full(n, "", dtype=object)
        child = np.full(n, "", dtype=object)
        if part is None:
            adult = _pick_by_concern(_ADULT, concern_1, rng)
            child = _pick_by_concern(_CHILD, concern_1, rng)
        elif part == "second":
            c2 = np.where(concern_2 < 0, -1, concern_2)
            adult = _pick_by_concern(_ADULT, c2, rng)
            child = _pick_by_concern(_CHILD, c2, rng)
        else:
            adult = _pick(_ADULT, part, n, rng)
            child = _pick(_CHILD, part, n, rng)
        parts.append(pd.Series(np.where(is_child, child, adult), dtype=object))
    # Not every note says everything: drop the opening or the strength now and then.
    keep_open = rng.random(n) < 0.8
    keep_strength = rng.random(n) < 0.75
    parts[0] = parts[0].where(keep_open, "")
    parts[4] = parts[4].where(keep_strength, "")
    text = parts[0]
    for p in parts[1:]:
        text = text + " " + p
    return text.str.replace(r"\s+", " ", regex=True).str.strip().to_numpy(dtype=object)


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


def _family_first_dates(ctx) -> pd.DataFrame:  # noqa: ANN001 - AncillaryContext
    """Earliest date of each kind of worry per family (columns = CONCERNS without general)."""
    from earlywarning.data.synthetic._context import to_days

    firsts = {}
    for concern, table, pid, date, fcol, allowed in _CONCERN_EVENTS:
        df = ctx.table(table)
        if fcol is not None:
            df = df[df[fcol].astype(object).isin(allowed)]
        fam = df[pid].astype(object).map(ctx.person_family)
        d = pd.Series(to_days(df[date]), index=df.index)
        first = d.groupby(fam.to_numpy()).min()
        firsts[concern] = first if concern not in firsts else pd.concat(
            [firsts[concern], first]).groupby(level=0).min()
    return pd.DataFrame(firsts).reindex(columns=list(CONCERNS[:-1]))


def build_family_voice(ctx, rng: np.random.Generator) -> pd.DataFrame:  # noqa: ANN001
    """Build ``ext_family_voice``: notes from families with Early Help or CSC involvement.

    For each family and each Early Help episode or CIN referral start (siblings
    starting together count once), a parent or carer usually leaves a note and
    a child aged 8 or over sometimes does. The note is recorded 1-21 days after
    the start, talks about the worries the family's own records show by then
    (housing, domestic abuse, a parent's mental health...) and carries consent
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
    from earlywarning.data.synthetic._context import make_frame, to_days

    starts = []
    for table, pid, date in (("ssd_early_help_episodes", "earl_person_id",
                              "earl_episode_start_date"),
                             ("ssd_cin_episodes", "cine_person_id", "cine_referral_date")):
        df = ctx.table(table)
        starts.append(pd.DataFrame({"child": df[pid].astype(object).to_numpy(),
                                    "start": to_days(df[date])}))
    trig = pd.concat(starts, ignore_index=True)
    trig["family"] = trig["child"].map(ctx.person_family)
    trig = trig[trig["family"].notna() & trig["start"].notna()
                & (trig["start"] <= ctx.extract_date)]
    trig = trig.drop_duplicates(["family", "start"]).reset_index(drop=True)
    n = len(trig)

    # worries the family's records show by the start date
    firsts = _family_first_dates(ctx).reindex(trig["family"].to_numpy())
    flags = (firsts.to_numpy(dtype="datetime64[D]") <= trig["start"].to_numpy()[:, None])
    score = np.where(flags, rng.random(flags.shape), -1.0)
    order = np.argsort(-score, axis=1)
    c1 = np.where(flags.any(axis=1), order[:, 0], len(CONCERNS) - 1)
    has_two = (flags.sum(axis=1) >= 2) & (rng.random(n) < 0.5)
    c2 = np.where(has_two, order[:, 1], -1)

    person = ctx.table("ssd_person").set_index("pers_person_id")
    dob = pd.Series(to_days(person["pers_dob"]), index=person.index.astype(object))
    sex = person["pers_sex"].astype(object)
    age = (trig["start"].to_numpy() - trig["child"].map(dob).to_numpy(dtype="datetime64[D]")
           ).astype("timedelta64[D]").astype(np.float64) / 365.25

    rel = ctx.table("ext_person_relationship")
    rel = rel[rel["rela_relationship"].astype(object).isin(["parent", "step_parent",
                                                            "partner_of_parent"])]
    carer = pd.DataFrame({
        "child": rel["rela_person_id"].astype(object).to_numpy(),
        "carer": rel["rela_related_person_id"].astype(object).to_numpy(),
        "rank": rel["rela_relationship"].astype(object).map(
            {"parent": 0, "step_parent": 1, "partner_of_parent": 2}).to_numpy(),
    })
    carer["not_mother"] = carer["carer"].map(sex).ne("F").to_numpy()
    carer = carer.sort_values(["child", "rank", "not_mother", "carer"]).drop_duplicates("child")
    carer = carer.set_index("child")
    trig_carer = trig["child"].map(carer["carer"])
    trig_rank = trig["child"].map(carer["rank"])

    parent_note = trig_carer.notna().to_numpy() & (rng.random(n) < 0.85)
    child_note = (age >= 8) & (rng.random(n) < 0.45)
    carer_sex = trig_carer.map(sex).to_numpy(dtype=object)
    parent_role = np.where(trig_rank.to_numpy() == 0,
                           np.where(carer_sex == "F", "mother",
                                    np.where(carer_sex == "M", "father", "parent")), "carer")
    parent_role = np.where(rng.random(n) < 0.1,
                           "practitioner (in the " + parent_role.astype(object) + "'s words)",
                           parent_role)
    idx = np.concatenate([np.flatnonzero(parent_note), np.flatnonzero(child_note)])
    is_child = np.concatenate([np.zeros(parent_note.sum(), bool), np.ones(child_note.sum(), bool)])
    author = np.concatenate([trig_carer.to_numpy(dtype=object)[parent_note],
                             trig["child"].to_numpy(dtype=object)[child_note]])
    role = np.concatenate([parent_role[parent_note],
                           np.where(age[child_note] >= 13, "young person", "child")])
    m = len(idx)
    lag = (rng.integers(1, 22, m) * 86_400 + rng.integers(9 * 3600, 17 * 3600, m)
           ).astype("timedelta64[s]")
    recorded = trig["start"].to_numpy(dtype="datetime64[D]")[idx] + lag
    text = compose_notes(c1[idx], c2[idx], is_child, rng)
    consent = np.where(rng.random(m) < 0.93, "Y", "N")
    ok = recorded <= ctx.extract_ts
    order_rows = np.lexsort((is_child, idx))
    order_rows = order_rows[ok[order_rows]]
    k = len(order_rows)
    return make_frame("ext_family_voice", {
        "voic_note_id": [f"VOI{i + 1:08d}" for i in range(k)],
        "voic_person_id": author[order_rows],
        "voic_family_id": trig["family"].to_numpy(dtype=object)[idx][order_rows],
        "voic_author_role": role[order_rows],
        "voic_text": text[order_rows],
        "voic_consent": consent[order_rows],
        "voic_recorded_at": recorded[order_rows],
    }, k)
