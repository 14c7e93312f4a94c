"""Stored schemas of the app database (SQLAlchemy 2 typed models).

Flags, reasons, provenance and the case material for flagged families are
imported from the warehouse by :mod:`earlywarning.app.services._import`; users,
sessions, decisions, run reviews and the audit log are the app's own.
"""

from __future__ import annotations

import datetime as dt

from earlywarning.app._db import Base
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

ROLES = ("early_help_lead", "practitioner", "ethics_board", "data_scientist", "admin")
ROLE_LABELS = {
    "early_help_lead": "Early Help lead",
    "practitioner": "Practitioner",
    "ethics_board": "Ethics board member",
    "data_scientist": "Data scientist",
    "admin": "Administrator",
}


def utcnow() -> dt.datetime:
    """Timezone-naive UTC now (stored the same way on SQLite and PostgreSQL)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class User(Base):
    """A person who signs in. ``team_id``/``area_id`` scope what they may see."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[str | None] = mapped_column(String(64))
    area_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WebSession(Base):
    """A server-side session; the cookie carries the signed random id only."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class LoginAttempt(Base):
    """One sign-in attempt, for throttling."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Team(Base):
    """A team (``ssd_department``) and its parent area."""

    __tablename__ = "teams"
    team_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_name: Mapped[str] = mapped_column(String(200))
    area_id: Mapped[str | None] = mapped_column(String(64))
    area_name: Mapped[str | None] = mapped_column(String(200))


class Flag(Base):
    """A flag from scoring (Flags contract), with the team/area it belongs to."""

    __tablename__ = "flags"
    flag_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    family_id: Mapped[str | None] = mapped_column(String(64), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date, index=True)
    risk: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(32))
    rank: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str] = mapped_column(String(120))
    model_version: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    team_id: Mapped[str | None] = mapped_column(String(64), index=True)
    area_id: Mapped[str | None] = mapped_column(String(64), index=True)
    data_as_of: Mapped[dt.date | None] = mapped_column(Date)
    """The oldest extract date among the sources the flag saw (freshness)."""
    first_viewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)


class FlagReason(Base):
    """A reason for or against a flag, in plain English."""

    __tablename__ = "flag_reasons"
    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[str] = mapped_column(
        ForeignKey("flags.flag_id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str | None] = mapped_column(String(64))
    feature: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    contribution: Mapped[float | None] = mapped_column(Float)
    order: Mapped[int] = mapped_column(Integer)


class FlagProvenance(Base):
    """Which source a flag saw, its extract date and coverage."""

    __tablename__ = "flag_provenance"
    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[str] = mapped_column(
        ForeignKey("flags.flag_id", ondelete="CASCADE"), index=True)
    agency: Mapped[str] = mapped_column(String(64))
    extract_date: Mapped[dt.date | None] = mapped_column(Date)
    coverage: Mapped[float | None] = mapped_column(Float)
    """Share of the period the source was linked for this child (0 to 1)."""
    note: Mapped[str | None] = mapped_column(Text)


class Person(Base):
    """A flagged child or a member of a flagged child's family (restricted data)."""

    __tablename__ = "people"
    person_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str | None] = mapped_column(String(64), index=True)
    forename: Mapped[str | None] = mapped_column(String(120))
    surname: Mapped[str | None] = mapped_column(String(120))
    birth_month: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(4))
    is_child: Mapped[bool] = mapped_column(Boolean, default=False)
    ethnic_group: Mapped[str | None] = mapped_column(String(32))
    disability: Mapped[str | None] = mapped_column(String(4))
    imd_quintile: Mapped[int | None] = mapped_column(Integer)


class Relationship(Base):
    """What ``related_person_id`` is to ``person_id`` (e.g. parent)."""

    __tablename__ = "relationships"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(String(64), index=True)
    related_person_id: Mapped[str] = mapped_column(String(64))
    relationship: Mapped[str] = mapped_column(String(32))
    same_household: Mapped[bool] = mapped_column(Boolean, default=True)


class CaseEvent(Base):
    """One line of the accessible case summary (plain-language chronology)."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[str] = mapped_column(String(64))
    event_date: Mapped[dt.date] = mapped_column(Date)
    agency: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class ServiceInvolvement(Base):
    """A family member's involvement with a service and its lead professional."""

    __tablename__ = "service_involvements"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    lead_name: Mapped[str | None] = mapped_column(String(200))
    lead_role: Mapped[str | None] = mapped_column(String(200))
    lead_email: Mapped[str | None] = mapped_column(String(200))
    lead_phone: Mapped[str | None] = mapped_column(String(64))


class VoiceNote(Base):
    """A note in the family's own words (shared with consent)."""

    __tablename__ = "voice_notes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    person_id: Mapped[str] = mapped_column(String(64))
    author_role: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Decision(Base):
    """A practitioner's decision on a flag. Versioned and append-only."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("flag_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.flag_id"), index=True)
    person_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(32))
    agrees_with_flag: Mapped[bool] = mapped_column(Boolean)
    override_reason: Mapped[str | None] = mapped_column(String(64))
    rationale: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RunReview(Base):
    """An ethics board decision on a model run. Append-only."""

    __tablename__ = "run_reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_key: Mapped[str] = mapped_column(String(300), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(80))
    gate_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    """One entry of the append-only audit log (pseudonymous ids only)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    username: Mapped[str | None] = mapped_column(String(80))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class ImportRecord(Base):
    """One import of flags and case material from the warehouse."""

    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    source_path: Mapped[str] = mapped_column(String(500))
    warehouse_fingerprint: Mapped[str | None] = mapped_column(String(128))
    warehouse_loaded_at: Mapped[str | None] = mapped_column(String(64))
    flags_as_of: Mapped[dt.date | None] = mapped_column(Date)
    n_flags: Mapped[int] = mapped_column(Integer)
