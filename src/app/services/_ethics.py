"""Ethics board: runs awaiting review, the approval gate, and override analysis."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from earlywarning.app._models import Decision, Flag, Person, RunReview, User
from earlywarning.app.services import _audit
from earlywarning.app.services._decisions import OVERRIDE_REASONS
from earlywarning.app.services._runs import RunInfo
from sqlalchemy import func, select
from sqlalchemy.orm import Session

__all__ = ["ReviewOutcome", "ERR_REVIEW_OUTCOME", "ERR_REVIEW_REASONS",
           "submit_review", "apply_gate", "override_analysis", "MIN_GROUP_SIZE"]

ERR_REVIEW_OUTCOME = "Select approve or refuse"
ERR_REVIEW_REASONS = "Enter the reasons for your decision"
MIN_GROUP_SIZE = 5


@dataclass
class ReviewOutcome:
    """What happened to a review: stored (with the gate's message) or refused."""

    review: RunReview | None
    errors: dict[str, str]
    gate_message: str | None = None


def apply_gate(run: RunInfo, approve: bool, reviewer: str, reasons: str) -> tuple[bool, str]:
    """Pass a review through the approval gate of ``earlywarning approve``.

    This is the one place the app meets the gate
    (:func:`earlywarning.fairness.approve`): it checks the run's pass bar,
    fairness bar and report hash, appends to the tamper-evident approvals
    store and, on approval only, moves the MLflow alias ``champion``.

    Returns
    -------
    (bool, str)
        Whether the gate accepted the decision, and its message.
    """
    from earlywarning.fairness import ApprovalError
    from earlywarning.fairness import approve as gate

    try:
        record = gate(run.path, "approve" if approve else "refuse", reasons, reviewer,
                      tracking_uri=run.run.get("tracking_uri") or None)
    except ApprovalError as exc:
        return False, str(exc)
    return True, (f"Decision {record.seq} recorded: {record.decision}"
                  + (f"; model {record.model_name} version {record.model_version} is now "
                     "the champion" if record.alias_moved else ""))


def submit_review(
    db: Session, user: User, run: RunInfo, outcome: str, reasons: str, ip: str | None = None
) -> ReviewOutcome:
    """Validate an ethics board review, pass it through the gate and store it."""
    errors: dict[str, str] = {}
    if outcome not in ("approve", "refuse"):
        errors["outcome"] = ERR_REVIEW_OUTCOME
    if not reasons.strip():
        errors["reasons"] = ERR_REVIEW_REASONS
    if errors:
        return ReviewOutcome(None, errors)
    accepted, message = apply_gate(run, outcome == "approve", user.username, reasons.strip())
    if not accepted:
        _audit.record(db, "run_review", user=user, target=f"run:{run.key}", outcome="refused",
                      ip=ip, detail={"outcome": outcome, "gate": message[:500]})
        return ReviewOutcome(None, {"outcome": message}, message)
    review = RunReview(run_key=run.key, outcome="approved" if outcome == "approve" else "refused",
                       reasons=reasons.strip(), user_id=user.id, username=user.username,
                       gate_message=message)
    db.add(review)
    _audit.record(db, "run_review", user=user, target=f"run:{run.key}", ip=ip,
                  detail={"outcome": review.outcome})
    return ReviewOutcome(review, {}, message)


def _age_band(born: dt.date | None, as_of: dt.date) -> str:
    if born is None:
        return "Not known"
    age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    for hi, label in ((4, "0 to 4"), (9, "5 to 9"), (15, "10 to 15")):
        if age <= hi:
            return label
    return "16 and over"


GROUPINGS = {
    "ethnic_group": "Ethnic group",
    "sex": "Sex",
    "age_band": "Age",
    "disability": "Disability",
    "imd_quintile": "Deprivation (IMD quintile, 1 most deprived)",
    "area": "Area",
}


def override_analysis(db: Session) -> dict:
    """Override rates of the latest decision on each flag, by group and by reason.

    Groups smaller than :data:`MIN_GROUP_SIZE` are shown without a rate so
    that no one family can be picked out.

    Returns
    -------
    dict
        ``{"n_decisions", "n_overrides", "by_group": {grouping: [row...]},
        "by_reason": [(label, n)]}``; each row has ``group, n, overrides,
        rate`` (``None`` when suppressed).
    """
    latest = (
        select(Decision.flag_id, func.max(Decision.version).label("v"))
        .group_by(Decision.flag_id).subquery()
    )
    rows = db.execute(
        select(Decision, Flag, Person)
        .join(latest, (latest.c.flag_id == Decision.flag_id) & (latest.c.v == Decision.version))
        .join(Flag, Flag.flag_id == Decision.flag_id)
        .outerjoin(Person, Person.person_id == Flag.person_id)
    ).all()
    by_group: dict[str, dict[str, list[int]]] = {g: {} for g in GROUPINGS}
    reasons: dict[str, int] = {}
    n_over = 0
    for d, f, p in rows:
        over = not d.agrees_with_flag
        n_over += over
        if over:
            label = OVERRIDE_REASONS.get(d.override_reason or "", "Not given")
            reasons[label] = reasons.get(label, 0) + 1
        values = {
            "ethnic_group": (p.ethnic_group if p else None) or "Not known",
            "sex": {"F": "Female", "M": "Male"}.get((p.sex if p else None) or "", "Not known"),
            "age_band": _age_band(p.birth_month if p else None, f.as_of),
            "disability": {"Y": "Yes", "N": "No"}.get((p.disability if p else None) or "",
                                                      "Not known"),
            "imd_quintile": str(p.imd_quintile) if p and p.imd_quintile else "Not known",
            "area": f.area_id or "Not known",
        }
        for g, v in values.items():
            cell = by_group[g].setdefault(v, [0, 0])
            cell[0] += 1
            cell[1] += over
    table = {
        g: [
            {"group": v, "n": n, "overrides": o if n >= MIN_GROUP_SIZE else None,
             "rate": (o / n) if n >= MIN_GROUP_SIZE else None}
            for v, (n, o) in sorted(cells.items())
        ]
        for g, cells in by_group.items()
    }
    return {
        "n_decisions": len(rows),
        "n_overrides": n_over,
        "by_group": table,
        "by_reason": sorted(reasons.items(), key=lambda kv: -kv[1]),
    }
