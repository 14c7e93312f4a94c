"""The child page: a flag explained, with the family's story, context and voice."""

from __future__ import annotations

from dataclasses import dataclass, field

from earlywarning.app._models import (
    CaseEvent,
    Decision,
    Flag,
    FlagProvenance,
    FlagReason,
    Person,
    Relationship,
    ServiceInvolvement,
    Team,
    User,
    VoiceNote,
    utcnow,
)
from earlywarning.app.services._bands import risk_in_words, split_band
from earlywarning.app.services._flags import flag_status
from earlywarning.app.services._scope import can_see_flag
from sqlalchemy import select
from sqlalchemy.orm import Session

__all__ = ["ChildNotFound", "OutOfScope", "ChildView", "child_view", "risk_in_words",
           "split_band", "current_flag", "MODEL_AGENCY"]

MODEL_AGENCY = "model"
"""Provenance rows with this agency state the model's known limits."""


class ChildNotFound(LookupError):
    """No current flag exists for the child id."""


class OutOfScope(PermissionError):
    """The child exists but is outside the user's need-to-know."""


def voice_byline(author_role: str | None, who: str | None) -> str:
    """Say who wrote a family-voice note, without repeating the relationship.

    Examples
    --------
    >>> voice_byline("mother", "Shazia Islam (mother)")
    'Shazia Islam (mother)'
    >>> voice_byline("young person", "Xiaoling Shah (half-sister)")
    'Young person, Xiaoling Shah (half-sister)'
    >>> voice_byline("practitioner (in the mother's words)", None)
    "Practitioner (in the mother's words)"
    """
    role = (author_role or "").strip()
    if who and (not role or who.lower().endswith(f"({role.lower()})")):
        return who
    role = role[:1].upper() + role[1:]
    return f"{role}, {who}" if who and role else (who or role or "Family member")


_REL_LABELS = {
    ("parent", "F"): "Mother",
    ("parent", "M"): "Father",
    ("step_parent", "F"): "Stepmother",
    ("step_parent", "M"): "Stepfather",
    ("sibling", "F"): "Sister",
    ("sibling", "M"): "Brother",
    ("half_sibling", "F"): "Half-sister",
    ("half_sibling", "M"): "Half-brother",
}
_REL_DEFAULT = {
    "parent": "Parent",
    "step_parent": "Step-parent",
    "partner_of_parent": "Parent's partner",
    "sibling": "Sibling",
    "half_sibling": "Half-sibling",
    "grandparent": "Grandparent",
    "other_relative": "Relative",
}


@dataclass
class FamilyMember:
    """A person in the family and what they are to the child."""

    person: Person
    label: str
    same_household: bool = True

    @property
    def name(self) -> str:
        """Forename and surname, or the pseudonymous id when unknown."""
        parts = [p for p in (self.person.forename, self.person.surname) if p]
        return " ".join(parts) or self.person.person_id


@dataclass
class ChildView:
    """Everything the child page shows, already in scope and in plain language."""

    flag: Flag
    child: FamilyMember
    status: str
    risk_words: str
    band_level: str | None
    team: Team | None
    reasons_for: list[FlagReason]
    reasons_against: list[FlagReason]
    missing_data: list[FlagReason]
    provenance: list[FlagProvenance]
    model_limits: list[str]
    family: list[FamilyMember]
    chronology: list[tuple[CaseEvent, str]]
    services_current: list[tuple[ServiceInvolvement, str]]
    services_historic: list[tuple[ServiceInvolvement, str]]
    voice_notes: list[tuple[VoiceNote, str]]
    decisions: list[Decision] = field(default_factory=list)

    @property
    def age_years(self) -> int | None:
        """Age in whole years at the flag's as-of date (birth month precision)."""
        born = self.child.person.birth_month
        if born is None:
            return None
        a = self.flag.as_of
        return a.year - born.year - ((a.month, a.day) < (born.month, born.day))


def current_flag(db: Session, person_id: str) -> Flag | None:
    """Return the child's current flag (latest as-of) or ``None``."""
    return db.scalar(
        select(Flag).where(Flag.person_id == person_id, Flag.current.is_(True))
        .order_by(Flag.as_of.desc()).limit(1)
    )


def child_view(db: Session, user: User, person_id: str, *, mark_viewed: bool = True) -> ChildView:
    """Build the child page for ``person_id`` as ``user`` may see it.

    Raises
    ------
    ChildNotFound
        If the child has no current flag.
    OutOfScope
        If the child is outside the user's need-to-know (the caller audits it).
    """
    flag = current_flag(db, person_id)
    if flag is None:
        raise ChildNotFound(person_id)
    if not can_see_flag(user, flag):
        raise OutOfScope(person_id)
    if mark_viewed and flag.first_viewed_at is None:
        flag.first_viewed_at = utcnow()
        db.flush()

    reasons = list(db.scalars(
        select(FlagReason).where(FlagReason.flag_id == flag.flag_id).order_by(FlagReason.order)
    ))
    provenance = list(db.scalars(
        select(FlagProvenance).where(FlagProvenance.flag_id == flag.flag_id)
        .order_by(FlagProvenance.agency)
    ))
    family_id = flag.family_id or ""
    people = {p.person_id: p for p in db.scalars(
        select(Person).where((Person.family_id == family_id) | (Person.person_id == person_id))
    )}
    rels = {r.related_person_id: r for r in db.scalars(
        select(Relationship).where(Relationship.person_id == person_id)
    )}
    child_person = people.get(person_id) or Person(person_id=person_id, family_id=family_id)
    child = FamilyMember(child_person, "Child")
    members = {person_id: child}
    for pid, p in people.items():
        if pid == person_id:
            continue
        r = rels.get(pid)
        label = "Family member"
        if r is not None:
            label = _REL_LABELS.get((r.relationship, p.sex or ""), _REL_DEFAULT.get(
                r.relationship, "Family member"))
        members[pid] = FamilyMember(p, label, r.same_household if r is not None else True)

    def who(pid: str) -> str:
        m = members.get(pid)
        if m is None:
            return "Family member"
        return f"{m.name} ({m.label.lower()})" if m.label != "Child" else m.name

    events = db.scalars(
        select(CaseEvent).where(CaseEvent.family_id == family_id)
        .order_by(CaseEvent.event_date.desc(), CaseEvent.id)
    )
    services = list(db.scalars(
        select(ServiceInvolvement).where(ServiceInvolvement.family_id == family_id)
        .order_by(ServiceInvolvement.start_date.desc())
    ))
    notes = db.scalars(
        select(VoiceNote).where(VoiceNote.family_id == family_id)
        .order_by(VoiceNote.recorded_at.desc())
    )
    decisions = list(db.scalars(
        select(Decision).where(Decision.flag_id == flag.flag_id).order_by(Decision.version.desc())
    ))
    words, level = split_band(flag.band, flag.risk)
    return ChildView(
        flag=flag,
        child=child,
        status=flag_status(flag, bool(decisions)),
        risk_words=words,
        band_level=level,
        team=db.get(Team, flag.team_id) if flag.team_id else None,
        reasons_for=[r for r in reasons if r.direction == "risk"],
        reasons_against=[r for r in reasons if r.direction == "protective"],
        missing_data=[r for r in reasons if r.direction == "missing_data"],
        provenance=[p for p in provenance if p.agency != MODEL_AGENCY],
        model_limits=[p.note for p in provenance if p.agency == MODEL_AGENCY and p.note],
        family=[m for pid, m in members.items() if pid != person_id],
        chronology=[(e, who(e.person_id)) for e in events],
        services_current=[(s, who(s.person_id)) for s in services if s.status == "current"],
        services_historic=[(s, who(s.person_id)) for s in services if s.status != "current"],
        voice_notes=[(n, voice_byline(n.author_role, who(n.person_id) if n.person_id in members
                                      else None)) for n in notes],
        decisions=decisions,
    )
