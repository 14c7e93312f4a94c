"""DuckDB validation SQL generated from the declarations in :mod:`earlywarning.data.schema`.

Nothing here names a table or a column: every rule comes from a :class:`~earlywarning.data.
schema.Table` declaration (types, required columns, codes, bounds, keys, date order, foreign
keys and ``extra_checks``). The loader reads each extract as it is (CSV as text, Parquet or
DuckDB with its own types), then this module builds

- a *typed* relation: one ``TRY_CAST`` per column into the warehouse type, beside the raw
  value when a cast can fail;
- the row *violations*: one null-safe SQL condition per (column, rule), each with a message
  that names the file, row, table, column, value and rule;
- the *reasons* expression, a list of ``{i, column, rule, message}`` structs that is only
  evaluated for rejected rows (DuckDB evaluates a ``CASE`` branch only on the rows that
  take it, so clean rows pay for the boolean checks alone).

Message templates are module constants so tests can assert them word for word.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from datetime import date

from earlywarning.data.schema import Column, Table

SQL_TYPES = {
    "string": "VARCHAR",
    "json": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "int": "BIGINT",
    "float": "DOUBLE",
}
"""Warehouse type of each logical dtype (the Warehouse contract)."""

# --- rule names -------------------------------------------------------------------------
WRONG_TYPE = "wrong_type"
MISSING_VALUE = "missing_value"
UNKNOWN_CODE = "unknown_code"
OUT_OF_RANGE = "out_of_range"
DUPLICATE_KEY = "duplicate_key"
END_BEFORE_START = "end_before_start"
FUTURE_DATE = "future_date"
ORPHAN_REFERENCE = "orphan_reference"
MISSING_COLUMN = "missing_column"
MISSING_FILE = "missing_file"
EMPTY_FILE = "empty_file"
WRONG_ENCODING = "wrong_encoding"
UNREADABLE_FILE = "unreadable_file"

# --- message templates ({name} fields; row-level ones are rendered in SQL) -----------------
MSG_WRONG_TYPE = "{file} row {row}: {table}.{column} = {value} is not a valid {dtype} (rule {rule})"
MSG_IMPLAUSIBLE_DATE = (
    "{file} row {row}: {table}.{column} = {value} is not a valid {dtype}: it is before "
    "{earliest} (rule {rule})"
)
MSG_MISSING_VALUE = "{file} row {row}: {table}.{column} is required but empty (rule {rule})"
MSG_UNKNOWN_CODE = (
    "{file} row {row}: {table}.{column} = {value} is not an allowed code; allowed: {allowed} "
    "(rule {rule})"
)
MSG_OUT_OF_RANGE = (
    "{file} row {row}: {table}.{column} = {value} is outside the allowed range {bounds} "
    "(rule {rule})"
)
MSG_DUPLICATE_KEY = (
    "{file} row {row}: {table} key {column} = {value} repeats row {first_row}; the first row "
    "is kept (rule {rule})"
)
MSG_END_BEFORE_START = (
    "{file} row {row}: {table}.{column} = {value} is before {start_column} = {start_value} "
    "(rule {rule})"
)
MSG_FUTURE_DATE = (
    "{file} row {row}: {table}.{column} = {value} is after the {reference} {reference_date} "
    "(rule {rule})"
)
MSG_ORPHAN_REFERENCE = (
    "{file} row {row}: {table}.{column} = {value} has no matching {parent} (rule {rule})"
)
MSG_EXTRA_CHECK = "{file} row {row}: {table} ({column}): {detail} (rule {rule})"
MSG_MISSING_COLUMN_ROW = (
    "{file} row {row}: {table}.{column} is missing from the file, so the table cannot be "
    "loaded (rule {rule})"
)
MSG_MISSING_COLUMN = "{file}: table {table}: required column {column} is missing (rule {rule})"
MSG_MISSING_FILE = (
    "{file}: table {table}: no extract found (expected {table}.csv or {table}.parquet) "
    "(rule {rule})"
)
MSG_EMPTY_FILE = "{file}: table {table}: the file is empty (0 bytes) (rule {rule})"
MSG_WRONG_ENCODING = (
    "{file}: table {table}: the file is not UTF-8: byte 0x{byte:02X} at byte offset {offset} "
    "(line {line}, data row {row}) cannot be decoded (rule {rule})"
)
MSG_UNREADABLE_FILE = "{file}: table {table}: the file cannot be read: {error} (rule {rule})"

EARLIEST_DATE = date(1900, 1, 1)
"""Dates before this are placeholders or typing errors, never real records."""

_VALUE_WIDTH = 60
REDACTED = "<redacted>"


def quote_ident(name: str) -> str:
    """Quote ``name`` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: object) -> str:
    """Render a Python value as a DuckDB literal (str, int, float, date or None)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class _Sql:
    """A fragment of SQL (as opposed to a constant) inside a message template."""

    expr: str


def message_sql(template: str, **fields: object) -> str:
    """Render a message template as a SQL string expression.

    Parameters
    ----------
    template : str
        A template such as :data:`MSG_WRONG_TYPE` with ``{name}`` fields.
    **fields
        Constants (rendered as literals) or :class:`_Sql` fragments (spliced in as
        expressions, cast to text).

    Returns
    -------
    str
        A SQL expression concatenating the pieces.
    """
    parts: list[str] = []
    for text, name, _spec, _conv in string.Formatter().parse(template):
        if text:
            parts.append(sql_literal(text))
        if name is not None:
            value = fields[name]
            if isinstance(value, _Sql):
                parts.append(f"CAST({value.expr} AS VARCHAR)")
            else:
                parts.append(sql_literal(str(value)))
    return "(" + " || ".join(parts) + ")"


def _shown_value(expr: str, column: Column) -> _Sql:
    """Show a value in a message: quoted, shortened, redacted if identifying."""
    if column.identifying:
        return _Sql(sql_literal(REDACTED))
    text = f"CAST({expr} AS VARCHAR)"
    return _Sql(
        f"CASE WHEN {expr} IS NULL THEN 'empty' WHEN length({text}) > {_VALUE_WIDTH} "
        f"THEN '''' || left({text}, {_VALUE_WIDTH}) || '...''' ELSE '''' || {text} || '''' END"
    )


@dataclass(frozen=True)
class Violation:
    """One row-level rule on one column (or column group) of a table.

    Attributes
    ----------
    column : str
        The column (or comma-separated columns) the rule is about.
    rule : str
        Rule name, e.g. ``unknown_code``.
    condition : str
        Null-safe SQL that is true when a row breaks the rule.
    message : str
        SQL expression giving the message for such a row.
    """

    column: str
    rule: str
    condition: str
    message: str


@dataclass
class TableSource:
    """What the loader knows about one table's extract before validating it.

    Attributes
    ----------
    table : Table
        The declaration.
    relation : str
        SQL relation with ``__rn`` (1-based data row number) and the file's columns.
    file : str
        File name shown in messages.
    column_types : dict of str to str
        DuckDB type of each column present in the extract.
    derived : dict of str to str
        Columns absent from the extract that the loader fills with a SQL expression
        (``recorded_at`` from the extract date).
    reference_date : date
        Dates after this are in the future (the extract date, or the load date).
    reference_label : str
        ``"extract date"`` or ``"load date"``.
    parents : dict of str to str
        For each foreign-key column, the relation holding the accepted parent keys.
    """

    table: Table
    relation: str
    file: str
    column_types: dict[str, str]
    reference_date: date
    reference_label: str
    derived: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)

    @property
    def missing_required(self) -> list[str]:
        """Required columns that are neither in the extract nor derivable."""
        return [c for c in self.table.required_columns
                if c not in self.column_types and c not in self.derived]

    @property
    def extra_columns(self) -> list[str]:
        """Columns in the extract that the table does not declare."""
        declared = set(self.table.column_names)
        return [c for c in self.column_types if c not in declared]


def _raw_name(column: str) -> str:
    return f"__raw__{column}"


def _needs_cast(column: Column, source_type: str) -> bool:
    return source_type.upper() != SQL_TYPES[column.dtype]


def typed_select_sql(src: TableSource) -> str:
    """SELECT giving ``__rn``, every declared column in its warehouse type, and raw values.

    A raw text column ``__raw__<name>`` is kept beside each column whose cast can fail,
    and every undeclared column of the extract is kept as ``__extra__<name>`` so the raw
    row can be quarantined whole.
    """
    items = ["__rn"]
    for c in src.table.columns:
        target = SQL_TYPES[c.dtype]
        q = quote_ident(c.name)
        if c.name in src.column_types:
            source_type = src.column_types[c.name]
            if c.dtype in ("string", "json"):
                expr = q if source_type.upper() == "VARCHAR" else f"CAST({q} AS VARCHAR)"
                items.append(f"NULLIF({expr}, '') AS {q}")
            elif _needs_cast(c, source_type):
                items.append(f"TRY_CAST({q} AS {target}) AS {q}")
                items.append(f"CAST({q} AS VARCHAR) AS {quote_ident(_raw_name(c.name))}")
            else:
                items.append(q)
        elif c.name in src.derived:
            items.append(f"CAST({src.derived[c.name]} AS {target}) AS {q}")
        else:
            items.append(f"CAST(NULL AS {target}) AS {q}")
    for extra in src.extra_columns:
        items.append(f"{quote_ident(extra)} AS {quote_ident('__extra__' + extra)}")
    return f"SELECT {', '.join(items)} FROM {src.relation}"


def is_identifier(table: Table, column: Column) -> bool:
    """Whether ``column`` holds identifiers: a string key, reference or ``*_id`` column."""
    return column.dtype == "string" and not column.codes and (
        column.name in table.primary_key or column.references is not None
        or column.name == table.person_column or column.name.endswith("_id"))


def column_definition_sql(table: Table, column: Column) -> str:
    """Warehouse column definition: name and type, identifiers stored uncompressed.

    Nearly every identifier is distinct, so dictionary and FSST compression save little
    on them and cost most of the write (DuckDB analyses every candidate method per
    segment); codes, dates and numbers keep DuckDB's automatic compression.
    """
    sql = f"{quote_ident(column.name)} {SQL_TYPES[column.dtype]}"
    if is_identifier(table, column):
        sql += " USING COMPRESSION uncompressed"
    return sql


WITHHELD = "[withheld: identifying]"
"""What ``_quarantine.raw_row`` shows instead of an identifying value."""


def raw_row_sql(src: TableSource, alias: str = "t") -> str:
    """Give the row as the file had it, as JSON text (SQL over the typed relation).

    Identifying columns (names, contact details, free-text notes; ``identifying``
    in schema.py) are withheld: the quarantine is read by analysts, and the
    file name and row number still lead back to the original row.
    """
    pairs = []
    for c in src.table.columns:
        if c.name not in src.column_types:
            continue
        if c.dtype not in ("string", "json") and _needs_cast(c, src.column_types[c.name]):
            value = f"{alias}.{quote_ident(_raw_name(c.name))}"
        else:
            value = f"CAST({alias}.{quote_ident(c.name)} AS VARCHAR)"
        if c.identifying:
            value = f"CASE WHEN {value} IS NULL THEN NULL ELSE {sql_literal(WITHHELD)} END"
        pairs += [sql_literal(c.name), value]
    for extra in src.extra_columns:
        pairs += [sql_literal(extra),
                  f"CAST({alias}.{quote_ident('__extra__' + extra)} AS VARCHAR)"]
    if not pairs:
        return "'{}'"
    return f"CAST(json_object({', '.join(pairs)}) AS VARCHAR)"


def _safe(condition: str) -> str:
    return f"coalesce(({condition}), FALSE)"


def _referenced_columns(table: Table, sql: str) -> list[str]:
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql))
    return [c for c in table.column_names if c in words]


def _future_columns(table: Table) -> list[str]:
    """Columns that record something that has already happened: never after the extract."""
    cols = [table.event_date, table.recorded_at]
    for start, end in table.date_order:
        cols += [start, end]
    seen: list[str] = []
    for c in cols:
        if c and c not in seen:
            seen.append(c)
    return seen


def violations(src: TableSource) -> list[Violation]:
    """Every row-level rule of ``src.table`` as SQL over the checked relation ``t``.

    ``t`` is :func:`checked_select_sql`: the typed columns plus ``__dup_first`` (row
    number of the first row with the same key, when the key repeats) and ``__parent<i>``
    (true when the i-th foreign key has a matching parent key, else null).
    """
    t = src.table
    out: list[Violation] = []
    base = {"file": src.file, "table": t.name, "row": _Sql("t.__rn")}
    for c in t.columns:
        q = f"t.{quote_ident(c.name)}"
        present = c.name in src.column_types
        fields = {**base, "column": c.name}
        if present and c.dtype not in ("string", "json") and _needs_cast(
                c, src.column_types[c.name]):
            raw = f"t.{quote_ident(_raw_name(c.name))}"
            out.append(Violation(
                c.name, WRONG_TYPE, _safe(f"{raw} IS NOT NULL AND {q} IS NULL"),
                message_sql(MSG_WRONG_TYPE, **fields, value=_shown_value(raw, c),
                            dtype=c.dtype, rule=WRONG_TYPE)))
            missing = f"{raw} IS NULL"
        else:
            missing = f"{q} IS NULL"
        if c.dtype in ("date", "timestamp") and present:
            out.append(Violation(
                c.name, WRONG_TYPE, _safe(f"{q} < {sql_literal(EARLIEST_DATE)}"),
                message_sql(MSG_IMPLAUSIBLE_DATE, **fields, value=_shown_value(q, c),
                            dtype=c.dtype, earliest=EARLIEST_DATE.isoformat(),
                            rule=WRONG_TYPE)))
        if c.dtype == "json" and present:
            shape = f"json_valid({q})" + (f" AND json_type({q}) = 'ARRAY'" if c.codes else "")
            out.append(Violation(
                c.name, WRONG_TYPE, _safe(f"{q} IS NOT NULL AND NOT ({shape})"),
                message_sql(MSG_WRONG_TYPE, **fields, value=_shown_value(q, c),
                            dtype="JSON array" if c.codes else "JSON value", rule=WRONG_TYPE)))
        if c.name in t.required_columns and c.name not in src.derived:
            out.append(Violation(c.name, MISSING_VALUE, _safe(missing),
                                 message_sql(MSG_MISSING_VALUE, **fields, rule=MISSING_VALUE)))
        if c.codes is not None and present:
            allowed = ", ".join(c.codes)
            codes = ", ".join(sql_literal(v) for v in c.codes)
            if c.dtype == "json":
                elements = f"CAST(json_extract_string({q}, '$[*]') AS VARCHAR[])"
                cond = (f"CASE WHEN json_valid({q}) AND json_type({q}) = 'ARRAY' THEN "
                        f"len(list_filter({elements}, lambda x: x IS NULL OR x NOT IN "
                        f"({codes}))) > 0 ELSE FALSE END")
            else:
                cond = f"{q} NOT IN ({codes})"
            out.append(Violation(c.name, UNKNOWN_CODE, _safe(cond), message_sql(
                MSG_UNKNOWN_CODE, **fields, value=_shown_value(q, c), allowed=allowed,
                rule=UNKNOWN_CODE)))
        if (c.min_value is not None or c.max_value is not None) and present:
            conds, lo, hi = [], c.min_value, c.max_value
            if lo is not None:
                conds.append(f"{q} < {lo!r}")
            if hi is not None:
                conds.append(f"{q} > {hi!r}")
            bounds = (f"{_num(lo)} to {_num(hi)}" if lo is not None and hi is not None
                      else f"at least {_num(lo)}" if lo is not None else f"at most {_num(hi)}")
            out.append(Violation(c.name, OUT_OF_RANGE, _safe(" OR ".join(conds)), message_sql(
                MSG_OUT_OF_RANGE, **fields, value=_shown_value(q, c), bounds=bounds,
                rule=OUT_OF_RANGE)))
        if c.references and present and c.name in src.parents:
            i = list(src.parents).index(c.name)
            out.append(Violation(
                c.name, ORPHAN_REFERENCE, _safe(f"{q} IS NOT NULL AND t.__parent{i} IS NULL"),
                message_sql(MSG_ORPHAN_REFERENCE, **fields, value=_shown_value(q, c),
                            parent=c.references, rule=ORPHAN_REFERENCE)))
    key = ", ".join(t.primary_key)
    key_value = " || ', ' || ".join(
        f"coalesce(CAST(t.{quote_ident(k)} AS VARCHAR), 'empty')" for k in t.primary_key)
    out.append(Violation(
        key, DUPLICATE_KEY, _safe("t.__dup_first IS NOT NULL AND t.__rn <> t.__dup_first"),
        message_sql(MSG_DUPLICATE_KEY, **base, column=key, value=_Sql(key_value),
                    first_row=_Sql("t.__dup_first"), rule=DUPLICATE_KEY)))
    for start, end in t.date_order:
        qs, qe = f"t.{quote_ident(start)}", f"t.{quote_ident(end)}"
        out.append(Violation(end, END_BEFORE_START, _safe(f"{qe} < {qs}"), message_sql(
            MSG_END_BEFORE_START, **base, column=end, value=_shown_value(qe, t.column(end)),
            start_column=start, start_value=_shown_value(qs, t.column(start)),
            rule=END_BEFORE_START)))
    for name in _future_columns(t):
        if name in src.derived:
            continue
        q = f"t.{quote_ident(name)}"
        out.append(Violation(
            name, FUTURE_DATE, _safe(f"CAST({q} AS DATE) > {sql_literal(src.reference_date)}"),
            message_sql(MSG_FUTURE_DATE, **base, column=name, value=_shown_value(
                q, t.column(name)), reference=src.reference_label,
                reference_date=src.reference_date.isoformat(), rule=FUTURE_DATE)))
    for rule, condition, detail in t.extra_checks:
        cols = _referenced_columns(t, condition)
        scoped = _scope(condition, cols)
        out.append(Violation(", ".join(cols), rule, f"(({scoped}) IS FALSE)", message_sql(
            MSG_EXTRA_CHECK, **base, column=", ".join(cols), detail=detail, rule=rule)))
    return out


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _scope(condition: str, columns: list[str]) -> str:
    """Prefix the table's column names in a declared condition with the alias ``t``."""
    if not columns:
        return condition
    pattern = r"\b(" + "|".join(re.escape(c) for c in columns) + r")\b"
    return re.sub(pattern, lambda m: f"t.{quote_ident(m.group(1))}", condition)


def key_hashes_sql(src: TableSource, typed: str) -> str:
    """SELECT of ``h``, the 64-bit hash of the primary key of every row whose key is whole."""
    keys = ", ".join(quote_ident(k) for k in src.table.primary_key)
    not_null = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in src.table.primary_key)
    return f"SELECT hash({keys}) AS h FROM {typed} WHERE {not_null}"


def duplicate_hashes_sql(src: TableSource, typed: str) -> str:
    """SELECT of the key hashes seen more than once: the cheap first pass of the key check.

    Grouping by a 64-bit hash is much cheaper than grouping by the key text, and a clean
    extract yields no row here, so the exact pass (:func:`duplicate_keys_sql`) is skipped.
    A hash collision only makes a candidate; the exact pass decides.
    """
    keys = ", ".join(quote_ident(k) for k in src.table.primary_key)
    not_null = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in src.table.primary_key)
    return (f"SELECT hash({keys}) AS h FROM {typed} WHERE {not_null} GROUP BY 1 "
            f"HAVING count(*) > 1")


def duplicate_keys_sql(src: TableSource, typed: str, hashes: str | None) -> str:
    """SELECT of each repeated primary key with the row number of its first row.

    With ``hashes`` (candidates from :func:`duplicate_hashes_sql`) only those keys are
    grouped; with ``None`` the result is empty but has the right columns.
    """
    keys = ", ".join(quote_ident(k) for k in src.table.primary_key)
    not_null = " AND ".join(f"{quote_ident(k)} IS NOT NULL" for k in src.table.primary_key)
    if hashes is None:
        return f"SELECT {keys}, CAST(__rn AS BIGINT) AS __first FROM {typed} LIMIT 0"
    return (f"SELECT {keys}, min(__rn) AS __first FROM {typed} WHERE {not_null} AND "
            f"hash({keys}) IN (SELECT h FROM {hashes}) GROUP BY {keys} HAVING count(*) > 1")


def checked_select_sql(src: TableSource, typed: str, dup: str) -> str:
    """SELECT of the typed rows with their duplicate-key and parent-key lookups joined on."""
    keys = " AND ".join(f"t.{quote_ident(k)} = __dup.{quote_ident(k)}"
                        for k in src.table.primary_key)
    items = ["t.*", "__dup.__first AS __dup_first"]
    joins = [f"{typed} AS t", f"LEFT JOIN {dup} AS __dup ON {keys}"]
    for i, (col, parent) in enumerate(src.parents.items()):
        # A marker rather than the key: the lookup only has to say whether it matched.
        items.append(f"CASE WHEN __p{i}.k IS NOT NULL THEN TRUE END AS __parent{i}")
        joins.append(f"LEFT JOIN {parent} AS __p{i} ON __p{i}.k = t.{quote_ident(col)}")
    return f"SELECT {', '.join(items)} FROM {' '.join(joins)}"


def checked_rows_sql(src: TableSource, typed: str, dup: str) -> str:
    """SELECT of every checked row with ``__bad``: true when it breaks any rule.

    This is the one full pass over the extract: the loader materialises it, inserts the
    rows without ``__bad`` and builds messages for the others alone with
    :func:`rejected_rows_sql`, without reading the extract again.
    """
    any_bad = " OR ".join(v.condition for v in violations(src)) or "FALSE"
    return f"SELECT t.*, ({any_bad}) AS __bad FROM ({checked_select_sql(src, typed, dup)}) AS t"


def rejected_rows_sql(src: TableSource, bad_rows: str) -> str:
    """SELECT of ``__rn``, ``__raw`` JSON and the ``__reasons`` list of each bad row."""
    rules = violations(src)
    reasons = ", ".join(
        f"CASE WHEN {v.condition} THEN {{'i': {i}, 'column': {sql_literal(v.column)}, "
        f"'rule': {sql_literal(v.rule)}, 'message': {v.message}}} END"
        for i, v in enumerate(rules))
    return (f"SELECT t.__rn, {raw_row_sql(src)} AS __raw, "
            f"list_filter([{reasons}], lambda r: r IS NOT NULL) AS __reasons FROM {bad_rows} AS t")


def missing_column_rows_sql(src: TableSource, typed: str) -> str:
    """SELECT rejecting every row of a table whose file lacks required columns."""
    reasons = ", ".join(
        f"{{'i': {i}, 'column': {sql_literal(col)}, 'rule': {sql_literal(MISSING_COLUMN)}, "
        f"'message': {message_sql(MSG_MISSING_COLUMN_ROW, file=src.file, row=_Sql('t.__rn'), table=src.table.name, column=col, rule=MISSING_COLUMN)}}}"  # noqa: E501
        for i, col in enumerate(src.missing_required))
    return f"SELECT t.__rn, {raw_row_sql(src)} AS __raw, [{reasons}] AS __reasons FROM {typed} t"
