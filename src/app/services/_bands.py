"""Risk bands as scoring writes them ("about 1 in 5 (high)"): frequency and level."""

from __future__ import annotations

import re

__all__ = ["risk_in_words", "split_band"]

_BAND_RE = re.compile(
    r"^\s*((?:about|fewer than|more than)\s+\d+\s+in\s+\d+)\s*(?:\((.+)\))?\s*$", re.IGNORECASE)


def split_band(band: str, risk: float) -> tuple[str, str | None]:
    """Split a scoring band into ``(natural frequency, level)``.

    Scoring writes bands such as ``"about 1 in 5 (high)"``; the frequency is
    used as written, so the page and the flag agree. A band without a
    frequency (``"high"``) is taken as the level and the frequency is worked
    out from the risk.

    Examples
    --------
    >>> split_band("about 1 in 5 (high)", 0.19)
    ('about 1 in 5', 'high')
    >>> split_band("more than 99 in 100 (high)", 0.995)
    ('more than 99 in 100', 'high')
    >>> split_band("high", 0.2)
    ('about 1 in 5', 'high')
    """
    m = _BAND_RE.match(band or "")
    if m:
        return m.group(1).lower(), (m.group(2) or None)
    return risk_in_words(risk), (band or None)


def risk_in_words(risk: float) -> str:
    """Say an absolute risk as a natural frequency.

    Examples
    --------
    >>> risk_in_words(0.2)
    'about 1 in 5'
    >>> risk_in_words(0.62)
    'about 6 in 10'
    >>> risk_in_words(0.004)
    'fewer than 1 in 100'
    >>> risk_in_words(0.97)
    'about 97 in 100'
    """
    if risk < 0.01:
        return "fewer than 1 in 100"
    if risk > 0.99:
        return "more than 99 in 100"
    if risk >= 0.95:  # "10 in 10" would claim certainty
        return f"about {round(risk * 100)} in 100"
    if risk >= 0.5:
        return f"about {round(risk * 10)} in 10"
    return f"about 1 in {round(1 / risk)}"
