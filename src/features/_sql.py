"""SQL generation: declared specs -> dated record queries (SQLGlot, DuckDB by default).

Every query is built as a SQLGlot expression tree from the schema declarations:
identifiers come from :mod:`earlywarning.data.schema`, values from the spec are
bound as SQL literals by SQLGlot (quoted and escaped), never pasted into text.
The same trees render for another engine (``dialect="spark"``).

Each spec query returns one row per (child, record) with integer day numbers
(days since 1970-01-01)::

    cidx          the child's index in the registered ``_children`` table
    known_day     the day the record became known: max(event date, recorded date)
    event_day     the event date
    until_day     (``open`` specs) end of the spell, exclusive; 9999-12-31 while open
    link_from     (non-child subjects) first day the subject (parent, sibling...) was
                  linked to the child
    link_until    (non-child subjects) first day the link no longer holds (exclusive)
    value, denom  numbers for sum / max / mean / ratio

The engine (:mod:`earlywarning.features._engine`) turns those days into as-of
slots. Identifying columns are never selected.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from earlywarning.data.schema import TABLES
from sqlglot import exp

from ._timeline import EPOCH, NEVER
from .specs import Condition, FeatureSpec

__all__ = [
    "CHILDREN_TABLE",
    "PARENT_RELATIONSHIPS",
    "SIBLING_RELATIONSHIPS",
    "source_query",
    "link_query",
    "spec_query",
    "render",
    "spec_sql_text",
]

CHILDREN_TABLE = "_children"
"""Registered table ``(person_id VARCHAR, cidx INTEGER)``: the children features are for."""

PARENT_RELATIONSHIPS = ("parent", "step_parent", "partner_of_parent")
SIBLING_RELATIONSHIPS = ("sibling", "half_sibling")

DIALECT = "duckdb"


_TYPES = {name: exp.DataType.build(name) for name in ("DATE", "INT", "DOUBLE")}


def _cast(e: exp.Expression, to: str) -> exp.Expression:
    return exp.Cast(this=e, to=_TYPES[to].copy())


def _lit(v: object) -> exp.Expression:
    return exp.convert(v)


def _date_lit(d: object) -> exp.Expression:
    return _cast(exp.Literal.string(str(d)), "DATE")


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def _as_date(e: exp.Expression) -> exp.Expression:
    return _cast(e, "DATE")


def _greatest(*es: exp.Expression) -> exp.Expression:
    return exp.Greatest(this=es[0], expressions=list(es[1:])) if len(es) > 1 else es[0]


def _least(*es: exp.Expression) -> exp.Expression:
    return exp.Least(this=es[0], expressions=list(es[1:])) if len(es) > 1 else es[0]


def _open_end(e: exp.Expression | None) -> exp.Expression:
    """Replace a NULL (still open) end date by 9999-12-31."""
    if e is None:
        return _date_lit(NEVER)
    return exp.Coalesce(this=e, expressions=[_date_lit(NEVER)])


def _days(e: exp.Expression) -> exp.Expression:
    return exp.DateDiff(this=e, expression=_date_lit(EPOCH), unit=exp.var("DAY"))


def _end_column(table: str, start: str | None) -> str | None:
    for s, e in TABLES[table].date_order:
        if s == start:
            return e
    return None


def source_query(table: str, columns: set[str], *, known_by: str = "recorded") -> exp.Select:
    """Dated records of ``table`` with ``_person``, ``_event``, ``_known``, ``_until`` dates.

    Parameters
    ----------
    table : str
        Schema table name.
    columns : set of str
        Extra source columns to carry (for filters and values); must be
        non-identifying columns of the source.
    known_by : {"recorded", "event"}
        ``"recorded"``: a record is known from max(event date, recorded date)
        (point in time). ``"event"``: from its event date (true state, used only
        for cohort exclusions and labels).

    Returns
    -------
    sqlglot.exp.Select
    """
    t = TABLES[table]
    extra = sorted(columns)
    if table == "ssd_assessment_factors":
        return _assessment_factor_source(extra, known_by)
    if table == "ext_source_coverage":
        return _coverage_source(extra, known_by)
    if table == "ssd_person":
        event = _col("pers_dob")
        known = event
        until = _open_end(_col("pers_death_date"))
    else:
        assert t.person_column and t.event_date
        event = _col(t.event_date)
        end = _end_column(table, t.event_date)
        until = _open_end(_col(end) if end else None) if end else _date_lit(NEVER)
        known = event
        if known_by == "recorded" and t.recorded_at:
            known = _greatest(event, _as_date(_col(t.recorded_at)))
    person = _col(t.person_column or "pers_person_id")
    return exp.select(
        person.as_("_person"), event.as_("_event"), known.as_("_known"), until.as_("_until"),
        *[_col(c) for c in extra],
    ).from_(table).where(exp.Not(this=exp.Is(this=event.copy(), expression=exp.Null())))


def _assessment_factor_source(extra: list[str], known_by: str) -> exp.Select:
    """One row per factor code answered yes at an assessment, dated by its completion."""
    event = exp.Coalesce(this=_col("cina_assessment_auth_date", "a"),
                         expressions=[_col("cina_assessment_start_date", "a")])
    known = event
    if known_by == "recorded":
        known = _greatest(event.copy(), _as_date(_col("cinf_recorded_at", "f")),
                          _as_date(_col("cina_recorded_at", "a")))
    codes = sqlglot.parse_one(
        "UNNEST(CAST(json_extract_string(f.cinf_assessment_factors_json, '$[*]') AS VARCHAR[]))",
        dialect=DIALECT,
    )
    carried = [c for c in extra if c != "cinf_factor"]
    inner = exp.select(
        _col("cina_person_id", "a").as_("_person"), event.as_("_event"), known.as_("_known"),
        _date_lit(NEVER).as_("_until"), codes.as_("cinf_factor"),
        *[_col(c, "f" if c.startswith("cinf_") else "a") for c in carried],
    ).from_(exp.to_table("ssd_assessment_factors").as_("f")).join(
        exp.to_table("ssd_cin_assessments").as_("a"),
        on=exp.EQ(this=_col("cinf_assessment_id", "f"),
                  expression=_col("cina_assessment_id", "a")),
    )
    return exp.select("*").from_(inner.subquery("factor_rows", copy=False))


def _coverage_source(extra: list[str], known_by: str) -> exp.Select:
    """Coverage spells of a family's sources, attached to each member while in the family."""
    start = _greatest(_col("cove_start_date", "c"), _col("fami_start_date", "m"))
    known = start
    if known_by == "recorded":
        known = _greatest(start.copy(), _as_date(_col("fami_recorded_at", "m")))
    until = _least(_open_end(_col("cove_end_date", "c")), _open_end(_col("fami_end_date", "m")))
    return exp.select(
        _col("fami_person_id", "m").as_("_person"), start.as_("_event"), known.as_("_known"),
        until.as_("_until"), *[_col(c, "c") for c in extra],
    ).from_(exp.to_table("ext_source_coverage").as_("c")).join(
        exp.to_table("ssd_family").as_("m"),
        on=exp.EQ(this=_col("cove_family_id", "c"), expression=_col("fami_family_id", "m")),
    )


def link_query(subject: str, *, known_by: str = "recorded") -> exp.Select:
    """Pairs ``(child_id, person_id, link_from, link_until)`` for a non-child subject.

    ``household``: other members of a family the child belongs to, while both
    are members; ``parents``: parents, step-parents and partners of a parent;
    ``siblings``: siblings and half-siblings, recorded in either direction. A
    link counts from the day it started and was recorded, until its end
    (exclusive). Each pair appears once (so a record is never counted twice):
    several spells of the same pair are merged into one from the earliest start
    to the latest end.
    """
    if subject == "household":
        a, b = "a", "b"
        start = _greatest(_col("fami_start_date", a), _col("fami_start_date", b))
        if known_by == "recorded":
            start = _greatest(start, _as_date(_col("fami_recorded_at", a)),
                              _as_date(_col("fami_recorded_at", b)))
        until = _least(_open_end(_col("fami_end_date", a)), _open_end(_col("fami_end_date", b)))
        pairs = exp.select(
            _col("fami_person_id", a).as_("child_id"), _col("fami_person_id", b).as_("person_id"),
            start.as_("link_from"), until.as_("link_until"),
        ).from_(exp.to_table("ssd_family").as_(a)).join(
            exp.to_table("ssd_family").as_(b),
            on=exp.and_(
                exp.EQ(this=_col("fami_family_id", a), expression=_col("fami_family_id", b)),
                exp.NEQ(this=_col("fami_person_id", a), expression=_col("fami_person_id", b)),
            ),
        )
    else:
        rels = PARENT_RELATIONSHIPS if subject == "parents" else SIBLING_RELATIONSHIPS
        start = _col("rela_start_date")
        if known_by == "recorded":
            start = _greatest(start, _as_date(_col("rela_recorded_at")))
        until = _open_end(_col("rela_end_date"))
        is_rel = _col("rela_relationship").isin(*[_lit(r) for r in rels])
        pairs = exp.select(
            _col("rela_person_id").as_("child_id"),
            _col("rela_related_person_id").as_("person_id"),
            start.as_("link_from"), until.as_("link_until"),
        ).from_("ext_person_relationship").where(is_rel)
        if subject == "siblings":
            backward = exp.select(
                _col("rela_related_person_id").as_("child_id"),
                _col("rela_person_id").as_("person_id"),
                start.copy().as_("link_from"), until.copy().as_("link_until"),
            ).from_("ext_person_relationship").where(is_rel.copy())
            pairs = exp.union(pairs, backward, distinct=False)
    return exp.select(
        _col("child_id"), _col("person_id"),
        exp.Min(this=_col("link_from")).as_("link_from"),
        exp.Max(this=_col("link_until")).as_("link_until"),
    ).from_(pairs.subquery("pairs", copy=False)).where(
        exp.LT(this=_col("link_from"), expression=_col("link_until"))
    ).group_by(_col("child_id"), _col("person_id"))


_JSON_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def _condition(c: Condition) -> exp.Expression:
    target: exp.Expression = _col(c.column)
    if c.json_key is not None:
        if not _JSON_KEY.match(c.json_key):
            raise ValueError(f"json_key {c.json_key!r} must be letters, digits or underscores")
        target = exp.JSONExtractScalar(this=target, expression=exp.Literal.string(
            f"$.{c.json_key}"))
    if c.op == "is_null":
        return exp.Is(this=target, expression=exp.Null())
    if c.op == "not_null":
        return exp.Not(this=exp.Is(this=target, expression=exp.Null()))
    if c.op in ("in", "not_in"):
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        cond = target.isin(*[_lit(v) for v in values])
        return exp.Not(this=cond) if c.op == "not_in" else cond
    values = c.value
    if isinstance(values, tuple):
        raise ValueError(f"op {c.op!r} on {c.column} takes a single value")
    ops = {"eq": exp.EQ, "ne": exp.NEQ, "gt": exp.GT, "ge": exp.GTE, "lt": exp.LT, "le": exp.LTE}
    return ops[c.op](this=target, expression=_lit(values))


def spec_query(spec: FeatureSpec, *, known_by: str = "recorded") -> exp.Select:
    """Build the dated-record query for ``spec`` (see the module docstring for its columns).

    Parameters
    ----------
    spec : FeatureSpec
    known_by : {"recorded", "event"}
        Point-in-time knowledge (features) or true state (cohort exclusions).

    Returns
    -------
    sqlglot.exp.Select
    """
    needed = {c.column for c in spec.where}
    needed |= {c for c in (spec.value, spec.denominator) if c}
    src = source_query(spec.table, needed, known_by=known_by)
    for cond in spec.where:
        src = src.where(_condition(cond), copy=False)
    selected: list[exp.Expression] = []
    if spec.value:
        selected.append(_cast(_col(spec.value, "s"), "DOUBLE").as_("value"))
        src = src.where(exp.Not(this=exp.Is(this=_col(spec.value), expression=exp.Null())),
                        copy=False)
    if spec.denominator:
        selected.append(_cast(_col(spec.denominator, "s"), "DOUBLE").as_("denom"))
        src = src.where(exp.Not(this=exp.Is(this=_col(spec.denominator),
                                            expression=exp.Null())), copy=False)
    days = [
        _cast(_days(_col("_known", "s")), "INT").as_("known_day"),
        _cast(_days(_col("_event", "s")), "INT").as_("event_day"),
    ]
    if spec.aggregate == "open":
        days.append(_cast(_days(_col("_until", "s")), "INT").as_("until_day"))
    children = exp.to_table(CHILDREN_TABLE).as_("c")
    # a record without a recorded date is never known (point in time, conservatively)
    known = exp.Not(this=exp.Is(this=_col("_known", "s"), expression=exp.Null()))
    if spec.subject == "child":
        return exp.select(_col("cidx", "c"), *days, *selected).from_(
            src.subquery("s", copy=False)).join(
            children, on=exp.EQ(this=_col("_person", "s"), expression=_col("person_id", "c")),
        ).where(known, copy=False)
    links = link_query(spec.subject, known_by=known_by)
    return exp.select(
        _col("cidx", "c"), *days,
        _cast(_days(_col("link_from", "l")), "INT").as_("link_from"),
        _cast(_days(_col("link_until", "l")), "INT").as_("link_until"),
        *selected,
    ).from_(src.subquery("s", copy=False)).join(
        links.subquery("l", copy=False),
        on=exp.EQ(this=_col("_person", "s"), expression=_col("person_id", "l")),
    ).join(children, on=exp.EQ(this=_col("child_id", "l"), expression=_col("person_id", "c")),
           ).where(known, copy=False)


def render(query: exp.Expression, dialect: str = DIALECT) -> str:
    """Render a generated query as SQL for ``dialect`` (``duckdb`` by default, or ``spark``)."""
    return query.sql(dialect=dialect)


@lru_cache(maxsize=1024)
def spec_sql_text(spec: FeatureSpec, known_by: str = "recorded", dialect: str = DIALECT) -> str:
    """Render :func:`spec_query` once per (spec, known_by, dialect); specs are immutable."""
    return render(spec_query(spec, known_by=known_by), dialect)
