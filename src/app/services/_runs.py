"""Model runs on disk (``runs/<pipeline>/<timestamp>/``): metrics, reports, approvals.

Read-only view of what training (``metrics.json``, ``run.json``,
``report.html``) and the fairness audit (``fairness/ethics_report.html``,
``fairness/audit.json``, ``fairness/model_card.md``,
``fairness/atrs_record.md``) wrote. Board decisions come from the approval
gate's store (``runs/approvals.jsonl``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RunInfo", "DOCUMENTS", "discover_runs", "find_run", "run_key_ok", "read_document",
           "approvals_by_run", "approved_models"]

DOCUMENTS = {
    "ethics_report": ("Ethics report", ("fairness/ethics_report.html", "ethics_report.html")),
    "model_card": ("Model card", ("fairness/model_card.md", "model_card.md")),
    "atrs": ("Algorithmic Transparency Recording Standard record",
             ("fairness/atrs_record.md", "fairness/atrs_record.json", "atrs_record.md",
              "atrs.json")),
    "evaluation_report": ("Evaluation report", ("report.html",)),
}
"""Documents of a run: name → (label, candidate paths, first found wins)."""
_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.:-]{1,100}$")


@dataclass
class RunInfo:
    """A model run folder and what the app shows about it."""

    key: str
    path: Path
    metrics: dict = field(default_factory=dict)
    run: dict = field(default_factory=dict)
    audit: dict = field(default_factory=dict)
    documents: dict[str, Path] = field(default_factory=dict)

    @property
    def pipeline(self) -> str:
        """The pipeline name (first part of the key)."""
        return self.key.split("/", 1)[0]

    @property
    def pass_bar(self) -> dict:
        """The pre-registered pass bar verdict (``passed``, ``headline``, ...)."""
        pb = self.metrics.get("pass_bar")
        return pb if isinstance(pb, dict) else {}

    @property
    def passed(self) -> bool | None:
        """Whether the run met its pass bar (``None`` when not recorded)."""
        value = self.pass_bar.get("passed")
        return value if isinstance(value, bool) else None

    @property
    def fairness_passed(self) -> bool | None:
        """Whether the fairness audit's pre-registered bar was met."""
        value = self.audit.get("bar_passed")
        return value if isinstance(value, bool) else None

    @property
    def mlflow_run_id(self) -> str | None:
        """The MLflow run id from ``run.json``."""
        return self.run.get("run_id") or self.metrics.get("run", {}).get("run_id") or None

    @property
    def candidate(self) -> str | None:
        """The candidate model's name (e.g. ``lightgbm``)."""
        return self.run.get("candidate") or self.metrics.get("run", {}).get("candidate")

    @property
    def has_reports(self) -> bool:
        """Whether the run has an ethics report to review."""
        return "ethics_report" in self.documents

    def model_table(self) -> tuple[list[str], list[tuple[str, list[str]]]]:
        """Metrics by model: ``(model names, [(metric, [value per model])])``.

        A value reads ``0.412 (0.380 to 0.440)`` when a confidence interval exists.
        """
        models = self.metrics.get("models")
        if not isinstance(models, dict) or not models:
            return [], []
        names = sorted(models, key=lambda n: (n != self.candidate, n))
        keys: list[str] = []
        for values in models.values():
            for k in values if isinstance(values, dict) else ():
                if k not in keys:
                    keys.append(k)
        rows = []
        for k in keys:
            cells = []
            for n in names:
                v = models[n].get(k) if isinstance(models[n], dict) else None
                cells.append(_fmt(v))
            rows.append((k, cells))
        return names, rows


def _number(x: float) -> str:
    # counts (flagged at capacity, at the top 10%) read as whole numbers, not 1.56e+03
    return f"{x:,.0f}" if float(x).is_integer() and abs(x) >= 1 else f"{x:.3g}"


def _fmt(v: object) -> str:
    if isinstance(v, dict):
        value = v.get("value")
        if value is None:
            return "–"
        text = _number(value) if isinstance(value, (int, float)) else str(value)
        lo, hi = v.get("ci_low"), v.get("ci_high")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            text += f" ({_number(lo)} to {_number(hi)})"
        return text
    if isinstance(v, float):
        return _number(v)
    return "–" if v is None else str(v)


def run_key_ok(key: str) -> bool:
    """Whether ``key`` has the shape ``<pipeline>/<timestamp>`` (no path tricks)."""
    return bool(_KEY_RE.match(key)) and ".." not in key and not key.split("/")[1].startswith(".")


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _first(path: Path, candidates: tuple[str, ...]) -> Path | None:
    for rel in candidates:
        p = path / rel
        if p.is_file():
            return p
    return None


def _read_run(path: Path) -> RunInfo:
    return RunInfo(
        key=f"{path.parent.name}/{path.name}",
        path=path,
        metrics=_load_json(path / "metrics.json"),
        run=_load_json(path / "run.json"),
        audit=_load_json(path / "fairness" / "audit.json"),
        documents={name: p for name, (_, cands) in DOCUMENTS.items()
                   if (p := _first(path, cands)) is not None},
    )


def discover_runs(runs_dir: Path) -> list[RunInfo]:
    """Return every run folder under ``runs_dir``, newest first.

    A run folder holds ``metrics.json`` or ``run.json``; other folders there
    (the scores that ``earlywarning score`` writes to ``<pipeline>/scoring``)
    are not runs.
    """
    if not runs_dir.is_dir():
        return []
    runs = [
        _read_run(p)
        for pipe in runs_dir.iterdir() if pipe.is_dir()
        for p in pipe.iterdir() if p.is_dir() and run_key_ok(f"{pipe.name}/{p.name}")
        and any((p / f).is_file() for f in ("metrics.json", "run.json"))
    ]
    return sorted(runs, key=lambda r: r.path.name, reverse=True)


def find_run(runs_dir: Path, key: str) -> RunInfo | None:
    """Return the run with ``key`` (``<pipeline>/<timestamp>``), or ``None``."""
    if not run_key_ok(key):
        return None
    path = (runs_dir / key).resolve()
    if not path.is_dir() or runs_dir.resolve() not in path.parents:
        return None
    return _read_run(path)


def read_document(run: RunInfo, name: str) -> tuple[str, str] | None:
    """Return ``(kind, text)`` of a run document; kind is ``html``, ``markdown`` or ``json``."""
    path = run.documents.get(name)
    if path is None:
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    kind = {".html": "html", ".htm": "html", ".json": "json"}.get(path.suffix.lower(), "markdown")
    return kind, text


def approvals_by_run(runs_dir: Path) -> tuple[dict[str, list], str | None]:
    """Board decisions from the approval gate's store, by run key.

    Returns
    -------
    (dict, str or None)
        Run key → decisions (oldest first), and an error message when the
        store's chain of hashes is broken (then no decision is trusted).
    """
    from earlywarning.fairness import ApprovalError, read_approvals

    store = Path(runs_dir) / "approvals.jsonl"
    try:
        records = read_approvals(store)
    except ApprovalError as exc:
        return {}, str(exc)
    out: dict[str, list] = {}
    for rec in records:
        p = Path(rec.run_dir)
        out.setdefault(f"{p.parent.name}/{p.name}", []).append(rec)
    return out, None


_APPROVED_CACHE: dict[Path, tuple[float, frozenset[tuple[str, str]]]] = {}


def approved_models(runs_dir: Path) -> frozenset[tuple[str, str]]:
    """Return the ``(model_name, model_version)`` pairs the board has approved.

    A version counts as approved when its latest decision in the approvals
    store is an approval. A broken store approves nothing. Cached until the
    store file changes.
    """
    store = Path(runs_dir) / "approvals.jsonl"
    try:
        mtime = store.stat().st_mtime
    except OSError:
        return frozenset()
    cached = _APPROVED_CACHE.get(store)
    if cached and cached[0] == mtime:
        return cached[1]
    decisions, error = approvals_by_run(runs_dir)
    latest: dict[tuple[str, str], str] = {}
    if error is None:
        every = sorted((r for records in decisions.values() for r in records),
                       key=lambda r: r.seq)
        for rec in every:
            latest[(rec.model_name, str(rec.model_version))] = rec.decision
    approved = frozenset(k for k, d in latest.items() if d == "approve")
    _APPROVED_CACHE[store] = (mtime, approved)
    return approved

