"""Need-to-know: which flags (and so which children) a user may see.

- A practitioner sees the flags of their own team.
- An Early Help lead sees their service: every flag in their area, or every
  flag when they lead the whole service (no area).
- Ethics board members, data scientists and admins see no child.
"""

from __future__ import annotations

from earlywarning.app._models import Flag, User
from sqlalchemy import ColumnElement, false, true

__all__ = ["CASE_ROLES", "flag_scope", "can_see_flag"]

CASE_ROLES = ("early_help_lead", "practitioner")


def flag_scope(user: User) -> ColumnElement[bool]:
    """Build a SQL condition on :class:`Flag` that keeps the flags ``user`` may see."""
    if user.role == "early_help_lead":
        return true() if user.area_id is None else Flag.area_id == user.area_id
    if user.role == "practitioner" and user.team_id:
        return Flag.team_id == user.team_id
    return false()


def can_see_flag(user: User, flag: Flag) -> bool:
    """Whether ``user`` may open ``flag`` (the same rule as :func:`flag_scope`)."""
    if user.role == "early_help_lead":
        return user.area_id is None or flag.area_id == user.area_id
    if user.role == "practitioner":
        return bool(user.team_id) and flag.team_id == user.team_id
    return False
