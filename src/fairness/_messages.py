"""Error and status messages of the fairness audit.

They are part of the interface: tests assert them word for word, and the
ethics report shows the status texts to lay readers. Placeholders are filled
with :meth:`str.format`.
"""

from __future__ import annotations

# --- bad input ----------------------------------------------------------------
MISSING_COLUMNS = (
    "{source}: missing column(s) {missing}; the file has columns {available}"
)
NO_OUTCOMES = (
    "{source}: column {column!r} has no recorded outcomes (every value is empty); "
    "an audit needs observed outcomes: cannot assess"
)
BAD_OUTCOME_VALUES = (
    "{source}: column {column!r} must hold outcomes coded 0 or 1; found {values} "
    "(first at row {row})"
)
BAD_SCORE_VALUES = (
    "{source}: column {column!r} must hold scores between 0 and 1; found {value} "
    "at row {row}"
)
BAD_FLAG_VALUES = (
    "{source}: column {column!r} must be true/false (or 1/0); found {values} (first at row {row})"
)
UNSEEN_CODES = (
    "{source}: column {column!r} has code(s) {codes} that are not valid for {attribute} "
    "(valid: {valid}); first at row {row}"
)
ONE_GROUP_ONLY = (
    "{attribute}: every row is in one group ({group!r}); there is nothing to compare, "
    "cannot assess"
)
UNKNOWN_REFERENCE = (
    "audit.reference_groups.{attribute} = {group!r}: no such group in the data; "
    "groups present: {present}"
)
NO_FLAG_RULE = (
    "{source}: say how flags are chosen: give a flagged column, a score threshold, "
    "or a top fraction"
)
BAD_INTERSECTION = (
    "audit.intersections: {pair} names attribute(s) {unknown} that are not audited; "
    "audited attributes: {known}"
)
NO_ROWS = "{source}: no rows to audit"

# --- statuses shown in the report instead of a number -------------------------
TOO_FEW = "too few to say"
TOO_FEW_EVENTS = "too few to say ({what})"
CANNOT_ASSESS = "cannot assess ({why})"

# --- approval gate ------------------------------------------------------------
BAD_DECISION = "decision must be 'approve' or 'refuse'; got {decision!r}"
EMPTY_REASON = "a decision needs a reason: say why the board approved or refused"
EMPTY_APPROVER = "a decision needs the name or role of who made it"
NO_REPORT = "{run_dir}: no ethics report ({path}); run `earlywarning audit {run_dir}` first"
REPORT_CHANGED = (
    "{run_dir}: the ethics report changed since it was audited (recorded sha256 {expected}, "
    "file now {actual}); re-run the audit and review the new report before deciding"
)
FAILED_PASS_BAR = (
    "{run_dir}: the run failed its pre-registered pass bar ({why}); it cannot be approved"
)
NO_MODEL_VERSION = (
    "{run_dir}: the run has no registered model version (looked for {where}); "
    "only a registered model can be approved"
)
NOT_APPROVED = (
    "model {model_name!r} has no approved version (no 'champion' alias); an ethics board "
    "must approve it with `earlywarning approve RUN_DIR --decision approve` before scoring"
)
CHAMPION_NOT_IN_STORE = (
    "model {model_name!r} version {version} carries the 'champion' alias but has no approval "
    "record in {store}; refusing to score with it"
)
