"""The append-only audit log: record, list and export.

Entries carry usernames and pseudonymous ids only, never a child's or a
professional's name. The database refuses UPDATE and DELETE on the table.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from earlywarning.app._models import AuditEvent, User
from sqlalchemy import func, select
from sqlalchemy.orm import Session

__all__ = ["AUDIT_ACTIONS", "record", "list_events", "count_events", "export_csv"]

AUDIT_ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_in_throttled",
    "sign_out",
    "view_child",
    "refused_access",
    "decision",
    "run_review",
    "import",
    "export_audit",
)


def record(
    db: Session,
    action: str,
    *,
    user: User | None = None,
    username: str | None = None,
    target: str | None = None,
    outcome: str = "ok",
    ip: str | None = None,
    detail: dict | None = None,
    commit: bool = True,
) -> AuditEvent:
    """Append one entry to the audit log.

    Parameters
    ----------
    db : Session
        App database session.
    action : str
        One of :data:`AUDIT_ACTIONS`.
    user : User, optional
        The signed-in user acting; ``username`` is used when there is none.
    target : str, optional
        What was acted on, as a pseudonymous id (``child:P000123``, ``run:demo/2026…``).
    outcome : str
        ``ok``, ``refused`` or ``failed``.
    detail : dict, optional
        Extra non-identifying facts, stored as JSON.
    commit : bool
        Commit now (default) or leave it to the caller's transaction.
    """
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"audit action {action!r} is not one of {AUDIT_ACTIONS}")
    event = AuditEvent(
        username=user.username if user else username,
        role=user.role if user else None,
        action=action,
        target=target,
        outcome=outcome,
        ip=ip,
        detail=json.dumps(detail, sort_keys=True, default=str) if detail else None,
    )
    db.add(event)
    if commit:
        db.commit()
    return event


def _filtered(action: str | None):  # noqa: ANN202 - a select
    q = select(AuditEvent)
    if action:
        q = q.where(AuditEvent.action == action)
    return q


def count_events(db: Session, action: str | None = None) -> int:
    """How many entries (optionally of one action) the log holds."""
    q = select(func.count()).select_from(AuditEvent)
    if action:
        q = q.where(AuditEvent.action == action)
    return db.scalar(q) or 0


def list_events(
    db: Session, *, action: str | None = None, page: int = 1, page_size: int = 50
) -> list[AuditEvent]:
    """Entries newest first, one page at a time."""
    q = _filtered(action).order_by(AuditEvent.id.desc())
    return list(db.scalars(q.offset((max(page, 1) - 1) * page_size).limit(page_size)))


CSV_COLUMNS = ("id", "at", "username", "role", "action", "target", "outcome", "ip", "detail")


def export_csv(db: Session, action: str | None = None) -> Iterator[str]:
    """Yield the log as CSV text (header first), oldest entry first, in chunks."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    q = _filtered(action).order_by(AuditEvent.id).execution_options(yield_per=1000)
    for ev in db.scalars(q):
        buf.seek(0)
        buf.truncate()
        writer.writerow([_csv_safe(getattr(ev, c)) for c in CSV_COLUMNS])
        yield buf.getvalue()


def _csv_safe(value: object) -> object:
    """Neutralise spreadsheet formulas (a cell starting with = + - @)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value
