"""The approval gate: only an ethics board decision lets a model be used.

Decisions are kept in an append-only JSON Lines store, ``runs/approvals.jsonl``
(one line per decision, each carrying the SHA-256 of the line before it, so
an edited or deleted line is detected), and mirrored as MLflow tags on the
run and the model version. Only :func:`approve` with ``decision="approve"``
moves the MLflow alias ``champion``; scoring calls :func:`require_champion`,
which refuses a champion without a matching approval in the store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import _messages as msg
from ._digest import sha256_file

CHAMPION = "champion"
STORE_NAME = "approvals.jsonl"
TAG = "earlywarning.approval."
AUDIT_DIR = "fairness"
REPORT_NAME = "ethics_report.html"


class ApprovalError(PermissionError):
    """A decision cannot be recorded, or a model is not approved for use."""


@dataclass(frozen=True)
class ApprovalRecord:
    """One board decision, as stored (one JSON line).

    Attributes
    ----------
    seq : int
        Position in the store (1 = first decision ever).
    at : str
        When (UTC, ISO 8601).
    decision : {"approve", "refuse"}
    reason : str
        Why, in the board's words.
    by : str
        Who decided (name or role).
    pipeline, run_dir, run_id, model_name, model_version : str
        What was decided on.
    report_sha256 : str
        SHA-256 of the ethics report the board read.
    pass_bar_passed, fairness_bar_passed : bool or None
        The run's pre-registered bars.
    alias_moved : bool
        Whether ``champion`` now points at this version.
    prev_sha256 : str
        SHA-256 of the previous line of the store ("" for the first).
    """

    seq: int
    at: str
    decision: str
    reason: str
    by: str
    pipeline: str
    run_dir: str
    run_id: str
    model_name: str
    model_version: str
    report_sha256: str
    pass_bar_passed: bool | None
    fairness_bar_passed: bool | None
    alias_moved: bool
    prev_sha256: str


def store_path(run_dir: Path) -> Path:
    """Return the approvals store of a run folder ``runs/<pipeline>/<ts>``.

    It is ``runs/approvals.jsonl``: one store for every pipeline's decisions.
    """
    return Path(run_dir).resolve().parent.parent / STORE_NAME


def read_approvals(path: Path) -> list[ApprovalRecord]:
    """Read every decision, checking the chain of hashes.

    Raises
    ------
    ApprovalError
        If a line was edited, removed or reordered.
    """
    path = Path(path)
    if not path.exists():
        return []
    records, prev = [], ""
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        data = json.loads(line)
        if data.get("prev_sha256") != prev or data.get("seq") != i:
            raise ApprovalError(f"{path}: line {i} breaks the chain of decisions (edited, "
                                "removed or reordered lines); the store cannot be trusted")
        records.append(ApprovalRecord(**data))
        prev = hashlib.sha256(line.encode("utf-8")).hexdigest()
    return records


def _append(path: Path, fields: dict[str, Any]) -> ApprovalRecord:
    existing = read_approvals(path)
    prev = ""
    if existing:
        last = path.read_text(encoding="utf-8").splitlines()[-1]
        prev = hashlib.sha256(last.encode("utf-8")).hexdigest()
    record = ApprovalRecord(seq=len(existing) + 1, prev_sha256=prev, **fields)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(record), sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return record


def _client(tracking_uri: str | None):  # noqa: ANN202 - mlflow imported lazily
    from mlflow import MlflowClient

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _run_facts(run_dir: Path) -> dict[str, Any]:
    """Read what the run and its audit recorded."""

    def load(name: str) -> dict:
        p = run_dir / name
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}

    metrics, run, audit = load("metrics.json"), load("run.json"), load(f"{AUDIT_DIR}/audit.json")
    info = {**metrics.get("run", {}), **run}
    return {
        "pipeline": info.get("pipeline") or run_dir.parent.name,
        "run_id": info.get("run_id") or audit.get("run_id") or "",
        "version": str(info.get("registered_version") or audit.get("model_version") or ""),
        "pass_bar": metrics.get("pass_bar", {}),
        "audit": audit,
    }


def approve(run_dir: str | Path, decision: str, reason: str, who: str, *,
            tracking_uri: str | None = None, store: Path | None = None) -> ApprovalRecord:
    """Record an ethics board decision on a run; move ``champion`` only on approval.

    Parameters
    ----------
    run_dir : path
        ``runs/<pipeline>/<timestamp>``, audited with ``earlywarning audit``.
    decision : {"approve", "refuse"}
        The board's decision.
    reason : str
        Why (required).
    who : str
        Who decided (required).
    tracking_uri : str, optional
        MLflow tracking URI (default ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``).
    store : path, optional
        Approvals store (default :func:`store_path`).

    Returns
    -------
    ApprovalRecord

    Raises
    ------
    ApprovalError
        Bad decision, empty reason or name, no audit report, the report changed
        since the audit, or (to approve) a failed pass bar or no registered version.
    """
    run_dir = Path(run_dir)
    if decision not in ("approve", "refuse"):
        raise ApprovalError(msg.BAD_DECISION.format(decision=decision))
    if not (reason or "").strip():
        raise ApprovalError(msg.EMPTY_REASON)
    if not (who or "").strip():
        raise ApprovalError(msg.EMPTY_APPROVER)
    report = run_dir / AUDIT_DIR / REPORT_NAME
    facts = _run_facts(run_dir)
    if not report.exists() or not facts["audit"]:
        raise ApprovalError(msg.NO_REPORT.format(run_dir=run_dir, path=report))
    expected, actual = facts["audit"].get("report_sha256", ""), sha256_file(report)
    if expected != actual:
        raise ApprovalError(msg.REPORT_CHANGED.format(run_dir=run_dir, expected=expected,
                                                      actual=actual))
    pass_bar = facts["pass_bar"].get("passed")
    fair_bar = facts["audit"].get("bar_passed")
    model_name = facts["audit"].get("model_name") or f"earlywarning-{facts['pipeline']}"
    version = facts["version"]
    if decision == "approve":
        failed = [why for ok, why in (
            (pass_bar, f"performance: {facts['pass_bar'].get('headline', 'not recorded')}"),
            (fair_bar, "fairness: a group is beyond the pre-registered limits"))
            if ok is not True]
        if failed:
            raise ApprovalError(msg.FAILED_PASS_BAR.format(run_dir=run_dir,
                                                           why="; ".join(failed)))
        if not version:
            raise ApprovalError(msg.NO_MODEL_VERSION.format(
                run_dir=run_dir, where=f"{run_dir / 'run.json'} registered_version"))
    fields = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "decision": decision,
        "reason": reason.strip(), "by": who.strip(), "pipeline": facts["pipeline"],
        "run_dir": str(run_dir), "run_id": facts["run_id"], "model_name": model_name,
        "model_version": version, "report_sha256": actual, "pass_bar_passed": pass_bar,
        "fairness_bar_passed": fair_bar, "alias_moved": decision == "approve",
    }
    path = Path(store) if store else store_path(run_dir)
    read_approvals(path)  # refuse to append to a broken chain
    client = _client(tracking_uri) if version or facts["run_id"] else None
    previous = None
    if decision == "approve":
        previous = _alias_version(client, model_name)
        client.set_registered_model_alias(model_name, CHAMPION, version)
    try:
        record = _append(path, fields)
    except BaseException:
        if decision == "approve":  # put the alias back: no champion without a record
            if previous is None:
                client.delete_registered_model_alias(model_name, CHAMPION)
            else:
                client.set_registered_model_alias(model_name, CHAMPION, previous)
        raise
    tags = {f"{TAG}decision": decision, f"{TAG}by": record.by, f"{TAG}at": record.at,
            f"{TAG}reason": record.reason[:4000], f"{TAG}report_sha256": actual,
            f"{TAG}store": str(path.resolve()), f"{TAG}seq": str(record.seq)}
    if client is not None:
        if version:
            for k, v in tags.items():
                client.set_model_version_tag(model_name, version, k, v)
        if facts["run_id"]:
            for k, v in tags.items():
                client.set_tag(facts["run_id"], k, v)
    return record


def _alias_version(client: Any, model_name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


def require_champion(model_name: str, tracking_uri: str | None = None,
                     store: Path | None = None) -> str:
    """Return the approved champion version of ``model_name``, or refuse.

    Scoring calls this before loading a model. The version carrying the
    alias ``champion`` must have, as its latest decision in the approvals
    store, an approval against the report hash recorded on the version.

    Parameters
    ----------
    model_name : str
        Registered model name (``earlywarning-<pipeline>``).
    tracking_uri : str, optional
        MLflow tracking URI.
    store : path, optional
        Approvals store; default: the one recorded on the model version.

    Returns
    -------
    str
        The approved version.

    Raises
    ------
    ApprovalError
        No champion, or a champion without a valid approval record.
    """
    client = _client(tracking_uri)
    version = _alias_version(client, model_name)
    if version is None:
        raise ApprovalError(msg.NOT_APPROVED.format(model_name=model_name))
    tags = dict(client.get_model_version(model_name, version).tags or {})
    path = Path(store) if store else Path(tags.get(f"{TAG}store", STORE_NAME))
    mine = [r for r in read_approvals(path)
            if r.model_name == model_name and r.model_version == version]
    last = mine[-1] if mine else None
    if (last is None or last.decision != "approve"
            or last.report_sha256 != tags.get(f"{TAG}report_sha256")):
        raise ApprovalError(msg.CHAMPION_NOT_IN_STORE.format(
            model_name=model_name, version=version, store=path))
    return version
