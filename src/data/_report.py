"""The load report: what was read, accepted and rejected, and what the data covers.

One :class:`LoadReport` is rendered four ways from the same rows: the ``_load_report``
warehouse table (``table, rule, column, n_rows, message``), ``load_report.json``,
``load_report.md`` and rich tables on the console. Messages carry pseudonymous ids and
codes only; values of identifying columns are redacted where the rows are validated.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Report rules that describe the load rather than reject rows.
ROWS_READ = "rows_read"
ROWS_ACCEPTED = "rows_accepted"
ROWS_REJECTED = "rows_rejected"
DATE_RANGE = "date_range"
MISSING_VALUES = "missing_values"
DERIVED_RECORDED_AT = "derived_recorded_at"
PSEUDONYMISED = "pseudonymised"
IGNORED_FILE = "ignored_file"
IGNORED_COLUMN = "ignored_column"
ABSENT_COLUMN = "absent_column"
COVERAGE = "coverage"
REFERENCE_DATE = "reference_date"

MSG_DERIVED_RECORDED_AT = (
    "{file}: table {table}: column {column} is not in the extract; every row gets the "
    "{source} {date} as the time the platform learned of it"
)
MSG_PSEUDONYMISED = (
    "{file}: table ssd_person: identifying column {column} moved to "
    "ext_person_identity.{target} for {n} people (pseudonymisation at the door)"
)
MSG_IGNORED_FILE = "{file}: not an extract of a declared table; ignored"
MSG_IGNORED_COLUMN = "{file}: table {table}: column {column} is not declared; ignored"
MSG_ABSENT_COLUMN = (
    "{file}: table {table}: optional column {column} is not in the extract; left empty"
)


@dataclass
class Issue:
    """One line of the report: a rule outcome, a failure or a note."""

    table: str | None
    rule: str
    column: str | None
    n_rows: int | None
    message: str


@dataclass
class RuleCount:
    """Rows of one table rejected under one rule on one column."""

    rule: str
    column: str
    n_rows: int
    first_message: str


@dataclass
class TableReport:
    """Outcome of loading one table."""

    table: str
    source_file: str | None
    restricted: bool = False
    rows_read: int | None = None
    rows_accepted: int = 0
    rows_rejected: int = 0
    failures: list[Issue] = field(default_factory=list)
    rule_counts: list[RuleCount] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)
    date_ranges: list[dict] = field(default_factory=list)
    missingness: list[dict] = field(default_factory=list)
    reference: str = ""

    def fail(self, rule: str, template: str, **fields: object) -> TableReport:
        """Record that the table could not be loaded; return ``self``.

        ``template`` is formatted with ``table``, ``rule``, ``file`` (default: the
        source file) and ``fields``.
        """
        fields.setdefault("file", self.source_file or self.table)
        message = template.format(table=self.table, rule=rule, **fields)
        self.failures.append(Issue(self.table, rule, fields.get("column"), None, message))
        return self

    @property
    def failed(self) -> bool:
        """Whether the table could not be loaded at all (missing, unreadable...)."""
        return bool(self.failures)

    @property
    def status(self) -> str:
        """``failed``, ``rejected rows`` or ``ok``."""
        if self.failed:
            return "failed"
        return "rejected rows" if self.rows_rejected else "ok"


@dataclass
class LoadReport:
    """Everything one run of the loader found."""

    source_path: str
    source_kind: str
    warehouse: str
    mode: str
    loaded_at: str
    tables: list[TableReport] = field(default_factory=list)
    ignored: list[Issue] = field(default_factory=list)
    coverage: list[dict] = field(default_factory=list)
    published: bool = False
    fingerprint: str | None = None

    @property
    def clean(self) -> bool:
        """No table failed and no row was rejected (strict mode publishes only then)."""
        return all(t.status == "ok" for t in self.tables)

    def table(self, name: str) -> TableReport:
        """Return the report of table ``name``."""
        for t in self.tables:
            if t.table == name:
                return t
        raise KeyError(f"table {name!r} is not in this load report")

    def issues(self) -> list[Issue]:
        """Every report line, in table order: the rows of ``_load_report``."""
        out: list[Issue] = list(self.ignored)
        for t in self.tables:
            src = t.source_file or t.table
            out += t.failures
            if t.rows_read is not None:
                out += [
                    Issue(t.table, ROWS_READ, None, t.rows_read,
                          f"{src}: table {t.table}: {t.rows_read} rows read"),
                    Issue(t.table, ROWS_ACCEPTED, None, t.rows_accepted,
                          f"{src}: table {t.table}: {t.rows_accepted} rows accepted"),
                    Issue(t.table, ROWS_REJECTED, None, t.rows_rejected,
                          f"{src}: table {t.table}: {t.rows_rejected} rows rejected"),
                ]
            out += [Issue(t.table, r.rule, r.column, r.n_rows,
                          f"{r.n_rows} rows rejected; first: {r.first_message}")
                    for r in t.rule_counts]
            if t.reference:
                out.append(Issue(t.table, REFERENCE_DATE, None, None, t.reference))
            out += t.notes
            out += [Issue(t.table, DATE_RANGE, d["column"], d["n_rows"],
                          f"{d['column']} from {d['min']} to {d['max']}")
                    for d in t.date_ranges]
            out += [Issue(t.table, MISSING_VALUES, m["column"], m["n_missing"],
                          f"{m['share']:.1%} of accepted rows have no {m['column']}")
                    for m in t.missingness if m["n_missing"]]
        for c in self.coverage:
            out.append(Issue("ext_source_coverage", COVERAGE, c["agency"],
                             c["families_linked"], _coverage_text(c)))
        return out

    def to_dict(self) -> dict:
        """JSON-ready form (``load_report.json``)."""
        tables = []
        for t in self.tables:
            d = asdict(t)
            d["status"] = t.status
            tables.append(d)
        return {
            "source_path": self.source_path, "source_kind": self.source_kind,
            "warehouse": self.warehouse, "mode": self.mode, "loaded_at": self.loaded_at,
            "published": self.published, "clean": self.clean,
            "fingerprint": self.fingerprint, "tables": tables,
            "ignored": [asdict(i) for i in self.ignored], "coverage": self.coverage,
            "rows": [asdict(i) for i in self.issues()],
        }

    def to_markdown(self) -> str:
        """Readable form (``load_report.md``)."""
        verdict = ("published" if self.published else "NOT published (previous warehouse "
                   "left as it was)")
        out = [
            "# Load report", "",
            f"- Source: `{self.source_path}` ({self.source_kind})",
            f"- Warehouse: `{self.warehouse}` — {verdict}",
            f"- Mode: {self.mode}", f"- Loaded at: {self.loaded_at}",
            f"- Fingerprint: `{self.fingerprint or '-'}`", "",
            "## Tables", "",
            "| table | file | status | read | accepted | rejected |", "|---|---|---|---|---|---|",
        ]
        for t in self.tables:
            out.append(f"| `{t.table}` | {t.source_file or '-'} | {t.status} | "
                       f"{'-' if t.rows_read is None else t.rows_read} | {t.rows_accepted} | "
                       f"{t.rows_rejected} |")
        problems = [i for t in self.tables for i in t.failures] + [
            Issue(t.table, r.rule, r.column, r.n_rows, r.first_message)
            for t in self.tables for r in t.rule_counts]
        if problems:
            out += ["", "## Failures and rejected rows by rule", "",
                    "| table | rule | column | rows | first message |", "|---|---|---|---|---|"]
            out += [f"| `{i.table}` | {i.rule} | {i.column or '-'} | "
                    f"{'-' if i.n_rows is None else i.n_rows} | {_md(i.message)} |"
                    for i in problems]
        notes = list(self.ignored) + [n for t in self.tables for n in t.notes]
        if notes:
            out += ["", "## Notes", ""] + [f"- {_md(n.message)}" for n in notes]
        if self.coverage:
            out += ["", "## Coverage by agency", "",
                    "| agency | families linked | events | people with events | first | last "
                    "| extract date |", "|---|---|---|---|---|---|---|"]
            for c in self.coverage:
                share = "-" if c["share"] is None else f"{c['share']:.0%}"
                out.append(f"| {c['name']} | {c['families_linked']} ({share}) | {c['events']} | "
                           f"{c['people']} | {c['first'] or '-'} | {c['last'] or '-'} | "
                           f"{c['extract_date'] or '-'} |")
        ranges = [(t.table, d) for t in self.tables for d in t.date_ranges]
        if ranges:
            out += ["", "## Date ranges", "", "| table | column | from | to | rows |",
                    "|---|---|---|---|---|"]
            out += [f"| `{tab}` | {d['column']} | {d['min']} | {d['max']} | {d['n_rows']} |"
                    for tab, d in ranges]
        missing = [(t.table, m) for t in self.tables for m in t.missingness if m["n_missing"]]
        if missing:
            out += ["", "## Missing values (accepted rows)", "",
                    "| table | column | missing | share |", "|---|---|---|---|"]
            out += [f"| `{tab}` | {m['column']} | {m['n_missing']} | {m['share']:.1%} |"
                    for tab, m in missing]
        return "\n".join(out) + "\n"

    def write(self, report_dir: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``load_report.json`` and ``load_report.md`` into ``report_dir``.

        Each file is written to a temporary name and renamed, so a reader never sees
        half a report.

        Returns
        -------
        tuple of Path
            The JSON and Markdown paths.
        """
        report_dir = Path(report_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in (("load_report.json", json.dumps(self.to_dict(), indent=2,
                                                            default=str)),
                           ("load_report.md", self.to_markdown())):
            path = report_dir / name
            tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            paths.append(path)
        return paths[0], paths[1]

    def print(self, console, brief: bool = False) -> None:  # noqa: ANN001 - rich is the caller's
        """Print the report as rich tables on ``console``.

        ``brief`` (as ``make demo`` prints it) keeps the per-table counts, the
        coverage by agency and the verdict, and sums the rejected rows by rule
        in one line instead of listing each rule of each table with its first
        message; the files written by :meth:`write` always hold everything.
        """
        from rich import box
        from rich.markup import escape
        from rich.table import Table as RichTable

        tables = RichTable(title="Load report: tables", box=box.SIMPLE_HEAD)
        for col in ("table", "status", "read", "accepted", "rejected"):
            tables.add_column(col, no_wrap=True, justify="right" if col in (
                "read", "accepted", "rejected") else "left")
        colour = {"ok": "green", "rejected rows": "yellow", "failed": "red"}
        for t in self.tables:
            tables.add_row(t.table, f"[{colour[t.status]}]{t.status}",
                           "-" if t.rows_read is None else f"{t.rows_read:,}",
                           f"{t.rows_accepted:,}", f"{t.rows_rejected:,}")
        console.print(tables)
        problems = [i for t in self.tables for i in t.failures] + [
            Issue(t.table, r.rule, r.column, r.n_rows, r.first_message)
            for t in self.tables for r in t.rule_counts]
        if problems and brief:
            by_rule: dict[str, int] = {}
            for t in self.tables:
                for r in t.rule_counts:
                    by_rule[r.rule] = by_rule.get(r.rule, 0) + r.n_rows
            if by_rule:
                console.print("Rejected rows by rule (each in quarantine with its reason): "
                              + "; ".join(f"{rule} {n:,}" for rule, n in
                                          sorted(by_rule.items(), key=lambda kv: -kv[1])),
                              highlight=False)
            for i in (i for t in self.tables for i in t.failures):
                console.print(f"[red]x[/red] {escape(i.message)}", highlight=False)
        elif problems:
            rules = RichTable(title="Failures and rejected rows by rule", box=box.SIMPLE_HEAD)
            for col in ("table", "rule", "column", "rows"):
                rules.add_column(col, overflow="fold", no_wrap=col in ("table", "rule"))
            for i in problems:
                rules.add_row(i.table or "-", i.rule, i.column or "-",
                              "-" if i.n_rows is None else f"{i.n_rows:,}")
            console.print(rules)
            for i in problems:
                console.print(f"[red]x[/red] {escape(i.message)}", highlight=False)
        if self.coverage:
            cov = RichTable(title="Coverage by agency", box=box.SIMPLE_HEAD)
            for col in ("agency", "families linked", "events", "people", "first", "last",
                        "extract date"):
                cov.add_column(col, no_wrap=col in ("first", "last", "extract date"))
            for c in self.coverage:
                share = "" if c["share"] is None else f" ({c['share']:.0%})"
                cov.add_row(c["name"], f"{c['families_linked']:,}{share}", f"{c['events']:,}",
                            f"{c['people']:,}", str(c["first"] or "-"), str(c["last"] or "-"),
                            str(c["extract_date"] or "-"))
            console.print(cov)
        for n in list(self.ignored) + [n for t in self.tables for n in t.notes]:
            console.print(f"[dim]note:[/dim] {escape(n.message)}", highlight=False)
        verdict = ("[green]published" if self.published
                   else "[red]NOT published: the previous warehouse is unchanged")
        console.print(f"Warehouse {escape(self.warehouse)}: {verdict}  mode={self.mode}  "
                      f"fingerprint={self.fingerprint or '-'}")


def _coverage_text(c: dict) -> str:
    share = "" if c["share"] is None else f" ({c['share']:.0%})"
    return (f"{c['name']}: {c['families_linked']} families linked{share}; {c['events']} events "
            f"for {c['people']} people from {c['first'] or '-'} to {c['last'] or '-'}; "
            f"extract date {c['extract_date'] or 'unknown'}")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
