"""Decisions on flags: validated, versioned, never overwritten."""

from __future__ import annotations

from dataclasses import dataclass, field

from earlywarning.app._models import Decision, Flag, User
from earlywarning.app.services import _audit
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

__all__ = ["DECISIONS", "OVERRIDE_REASONS", "DecisionForm", "DecisionErrors", "record_decision",
           "ERR_DECISION", "ERR_AGREES", "ERR_RATIONALE", "ERR_RATIONALE_LONG", "ERR_OVERRIDE"]

DECISIONS = {
    "offer_early_help": "Offer Early Help",
    "continue_current_support": "Continue current support",
    "step_up": "Step up to a social care referral",
    "no_action": "No action",
}
OVERRIDE_REASONS = {
    "already_supported": "The family is already well supported",
    "information_out_of_date": "The information behind the flag is out of date or wrong",
    "professional_knowledge": "I know things about the family that the data does not show",
    "risk_higher": "The need is greater than the flag suggests",
    "family_declined": "The family has declined support",
    "other": "Another reason (explain in the rationale)",
}
MAX_RATIONALE = 5000
ERR_DECISION = "Select a decision"
ERR_AGREES = "Select whether you agree with the flag"
ERR_RATIONALE = "Enter a rationale for your decision"
ERR_RATIONALE_LONG = f"Rationale must be {MAX_RATIONALE} characters or fewer"
ERR_OVERRIDE = "Select why you are overriding the flag"


@dataclass
class DecisionForm:
    """What the user submitted (raw strings, validated by :func:`record_decision`)."""

    decision: str = ""
    agrees: str = ""
    override_reason: str = ""
    rationale: str = ""


@dataclass
class DecisionErrors:
    """Field → message, in form order (for the GOV.UK error summary)."""

    fields: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.fields)


def validate(form: DecisionForm) -> DecisionErrors:
    """Check a decision form; overriding is allowed, it only needs a reason."""
    errors: dict[str, str] = {}
    if form.decision not in DECISIONS:
        errors["decision"] = ERR_DECISION
    if form.agrees not in ("yes", "no"):
        errors["agrees"] = ERR_AGREES
    elif form.agrees == "no" and form.override_reason not in OVERRIDE_REASONS:
        errors["override_reason"] = ERR_OVERRIDE
    text = form.rationale.strip()
    if not text:
        errors["rationale"] = ERR_RATIONALE
    elif len(text) > MAX_RATIONALE:
        errors["rationale"] = ERR_RATIONALE_LONG
    return DecisionErrors(errors)


def record_decision(
    db: Session, user: User, flag: Flag, form: DecisionForm, ip: str | None = None
) -> tuple[Decision | None, DecisionErrors]:
    """Validate and append a new version of the decision on ``flag``.

    Earlier versions stay as they were (the table is append-only); the audit
    log gets an entry. Returns the stored decision, or ``None`` and the errors.
    """
    errors = validate(form)
    if errors:
        return None, errors
    for _attempt in range(3):
        version = (db.scalar(
            select(func.max(Decision.version)).where(Decision.flag_id == flag.flag_id)
        ) or 0) + 1
        decision = Decision(
            flag_id=flag.flag_id,
            person_id=flag.person_id,
            version=version,
            decision=form.decision,
            agrees_with_flag=form.agrees == "yes",
            override_reason=form.override_reason if form.agrees == "no" else None,
            rationale=form.rationale.strip(),
            user_id=user.id,
            username=user.username,
        )
        db.add(decision)
        try:
            db.flush()
        except IntegrityError:
            db.rollback()
            continue
        _audit.record(
            db, "decision", user=user, target=f"child:{flag.person_id}", ip=ip,
            detail={"flag_id": flag.flag_id, "version": version, "decision": form.decision,
                    "agrees_with_flag": decision.agrees_with_flag,
                    "override_reason": decision.override_reason},
        )
        return decision, errors
    raise RuntimeError(f"could not record a decision on flag {flag.flag_id}: version conflict")
