"""Plain-English wording shared by the feature dictionary and the reasons of a flag."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["OUTCOME_WORDS", "age_in_words", "agree_number", "fill_meaning", "metric_label",
           "outcome_in_words"]

OUTCOME_WORDS = {
    "cin_referral": "a referral to children's social care",
    "s47": "a child protection (section 47) enquiry",
    "cp_plan": "a child protection plan",
    "cla": "coming into care",
}
"""Each outcome event of a pipeline (``outcome.events``) in words."""

_NUMBER_CHOICE = re.compile(r"\{([^{}|]*)\|([^{}|]*)\}")


def agree_number(template: str, value: object) -> str:
    """Resolve ``{singular|plural}`` choices in a meaning for ``value``.

    ``"{value} {referral|referrals}"`` reads "1 referral" and "3 referrals":
    the singular is chosen when the value is exactly 1, the plural otherwise
    (including 0 and fractions, as English does).

    Examples
    --------
    >>> agree_number("{value} {plan|plans} ever", 1)
    '{value} plan ever'
    >>> agree_number("{value} {plan|plans} ever", 0)
    '{value} plans ever'
    """
    try:
        one = float(value) == 1.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        one = False
    return _NUMBER_CHOICE.sub(lambda m: m.group(1) if one else m.group(2), template)


def age_in_words(years: object) -> str:
    """Say an age given in years the way people do: in months under 2, else whole years.

    Examples
    --------
    >>> age_in_words(0.08)
    'under 1 month'
    >>> age_in_words(0.75)
    '9 months'
    >>> age_in_words(16.58)
    '16 years'
    """
    y = float(years)  # type: ignore[arg-type]
    if y < 2:
        months = int(y * 12 + 1e-6)
        if months < 1:
            return "under 1 month"
        return "1 month" if months == 1 else f"{months} months"
    return f"{int(y + 1e-6)} years"


def _is_zero(value: object) -> bool:
    try:
        return float(value) == 0.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def fill_meaning(template: str, value: object, shown: Callable[[object], str] = str) -> str:
    """Fill a meaning template with a value: the one rule for dictionary and reasons.

    ``{singular|plural}`` choices agree with the value (:func:`agree_number`);
    a count of zero that opens the meaning reads "no" ("no referrals"); a
    format spec on the value is honoured (``"{value:.0%} of sessions"``),
    and ``{value:age}`` says an age in years as :func:`age_in_words` does;
    otherwise ``{value}`` becomes ``shown(value)``, and a template without it
    gets the value after a colon.

    Examples
    --------
    >>> fill_meaning("{value} {referral|referrals} in the last year", 1)
    '1 referral in the last year'
    >>> fill_meaning("{value} {referral|referrals} in the last year", 0)
    'no referrals in the last year'
    >>> fill_meaning("{value:.0%} of school sessions missed", 0.25)
    '25% of school sessions missed'
    >>> fill_meaning("the child is aged {value:age}", 0.5)
    'the child is aged 6 months'
    """
    text = agree_number(template, value)
    if text.startswith("{value} ") and _is_zero(value):
        return "no " + text.removeprefix("{value} ")  # "no referrals", not "0 referrals"
    if "{value:age}" in text:
        try:
            aged = text.replace("{value:age}", age_in_words(value))
        except (TypeError, ValueError):
            aged = None
        if aged is not None and "{value" not in aged:
            return aged
        text = text.replace("{value:age}", "{value}")
    if "{value:" in text:
        try:
            return text.format(value=value)
        except (ValueError, KeyError, IndexError):
            pass
    if "{value}" in text:
        return text.replace("{value}", shown(value))
    return f"{text}: {shown(value)}"


def outcome_in_words(events: object) -> str:
    """Say a pipeline's outcome events in words, joined by "or".

    Examples
    --------
    >>> outcome_in_words(["cp_plan", "cla"])
    'a child protection plan or coming into care'
    """
    items = [events] if isinstance(events, str) else list(events or [])  # type: ignore[call-overload]
    return " or ".join(OUTCOME_WORDS.get(str(e), str(e)) for e in items) or "not recorded"


_METRIC_NAMES = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "brier": "Brier score",
                 "ece": "Expected calibration error", "mean_risk": "Mean risk",
                 "mean_risk_at_capacity": "Risk given to the flags at capacity (mean)"}
_TIES = {"worst": "worst case of ties", "expected": "ties broken at random",
         "best": "best case of ties"}


def metric_label(key: str) -> str:
    """Name a metric of ``metrics.json`` for readers.

    Examples
    --------
    >>> metric_label("precision_at_top_5pct_worst")
    'Precision at top 5% (worst case of ties)'
    >>> metric_label("roc_auc")
    'ROC-AUC'
    """
    if key in _METRIC_NAMES:
        return _METRIC_NAMES[key]
    words = key.split("_")
    ties = _TIES.get(words[-1]) if len(words) > 1 else None
    text = " ".join(words[:-1] if ties else words)
    text = re.sub(r"\b(\d+)pct\b", r"\1%", text)
    text = text[:1].upper() + text[1:]
    return f"{text} ({ties})" if ties else text
