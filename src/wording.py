"""Plain-English wording shared by the feature dictionary and the reasons of a flag."""

from __future__ import annotations

import re

__all__ = ["agree_number"]

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
