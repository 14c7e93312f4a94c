"""Model runs on disk (``runs/<pipeline>/<timestamp>/``): metrics, reports, review state.

The app only reads run folders; the documents are found by name patterns so
that a report written as HTML or Markdown is shown either way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RunInfo", "DOCUMENTS", "discover_runs", "find_run", "run_key_ok", "read_document"]

DOCUMENTS = {
    "ethics_report": ("Ethics report", ("ethics_report.html", "ethics_report.md",
                                        "reports/ethics_report.html", "*ethics*.html",
                                        "*ethics*.md")),
    "model_card": ("Model card", ("model_card.html", "model_card.md", "reports/model_card.*",
                                  "*model_card*")),
    "atrs": ("Algorithmic Transparency Recording Standard record",
             ("atrs.html", "atrs.md", "atrs.json", "reports/atrs.*", "*atrs*")),
}
_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.:-]{1,100}$")
_METRIC_FILES = ("metrics.json", "evaluation/metrics.json")
_PASS_KEYS = ("passed", "pass_bar_passed", "pass", "meets_pass_bar")
_APPROVAL_FILES = ("approval.json", "approval/approval.json")


@dataclass
class RunInfo:
    """A model run folder and what the app shows about it."""

    key: str
    path: Path
    metrics: dict = field(default_factory=dict)
    passed: bool | None = None
    documents: dict[str, Path] = field(default_factory=dict)
    approval: dict | None = None
    mlflow_run_id: str | None = None

    @property
    def pipeline(self) -> str:
        """The pipeline name (first part of the key)."""
        return self.key.split("/", 1)[0]

    @property
    def has_reports(self) -> bool:
        """Whether the run has an ethics report to review."""
        return "ethics_report" in self.documents

    def headline_metrics(self) -> list[tuple[str, object]]:
        """Flat ``(name, value)`` pairs of scalar metrics, nested keys joined by dots."""
        out: list[tuple[str, object]] = []

        def walk(prefix: str, value: object) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else str(k), v)
            elif isinstance(value, (int, float, str, bool)) and len(out) < 60:
                out.append((prefix, value))

        walk("", self.metrics)
        return out


def run_key_ok(key: str) -> bool:
    """Whether ``key`` has the shape ``<pipeline>/<timestamp>`` (no path tricks)."""
    return bool(_KEY_RE.match(key)) and ".." not in key


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _first(path: Path, patterns: tuple[str, ...]) -> Path | None:
    for pat in patterns:
        hits = sorted(p for p in path.glob(pat) if p.is_file())
        if hits:
            return hits[0]
    return None


def _passed(metrics: dict) -> bool | None:
    for key in _PASS_KEYS:
        if isinstance(metrics.get(key), bool):
            return metrics[key]
        pb = metrics.get("pass_bar")
        if isinstance(pb, dict) and isinstance(pb.get(key), bool):
            return pb[key]
    return None


def _read_run(runs_dir: Path, path: Path) -> RunInfo:
    key = f"{path.parent.name}/{path.name}"
    metrics_file = _first(path, _METRIC_FILES)
    metrics = _load_json(metrics_file) if metrics_file else {}
    approval_file = _first(path, _APPROVAL_FILES)
    run_meta = _load_json(path / "run.json")
    return RunInfo(
        key=key,
        path=path,
        metrics=metrics,
        passed=_passed(metrics) if metrics else _passed(run_meta),
        documents={name: p for name, (_, pats) in DOCUMENTS.items()
                   if (p := _first(path, pats)) is not None},
        approval=_load_json(approval_file) if approval_file else None,
        mlflow_run_id=str(metrics.get("mlflow_run_id") or run_meta.get("mlflow_run_id") or "")
        or None,
    )


def discover_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run folder under ``runs_dir``, newest first."""
    if not runs_dir.is_dir():
        return []
    runs = [
        _read_run(runs_dir, p)
        for pipe in runs_dir.iterdir() if pipe.is_dir()
        for p in pipe.iterdir() if p.is_dir() and run_key_ok(f"{pipe.name}/{p.name}")
    ]
    return sorted(runs, key=lambda r: r.path.name, reverse=True)


def find_run(runs_dir: Path, key: str) -> RunInfo | None:
    """Return the run with ``key`` (``<pipeline>/<timestamp>``), or ``None``."""
    if not run_key_ok(key):
        return None
    path = (runs_dir / key).resolve()
    if not path.is_dir() or runs_dir.resolve() not in path.parents:
        return None
    return _read_run(runs_dir, path)


def read_document(run: RunInfo, name: str) -> tuple[str, str] | None:
    """``(kind, text)`` of a run document, kind one of ``html``, ``markdown``, ``json``."""
    path = run.documents.get(name)
    if path is None:
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    kind = {".html": "html", ".htm": "html", ".json": "json"}.get(path.suffix.lower(), "markdown")
    return kind, text
