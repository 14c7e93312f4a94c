"""Where flags are kept: the warehouse tables and the Parquet folder, replaced atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from earlywarning.models._provenance import PROVENANCE_COLUMNS
from earlywarning.models._registry_io import ScoringError

__all__ = ["FLAG_COLUMNS", "REASON_TABLE_COLUMNS", "write_flags_to_warehouse", "write_parquet"]

FLAG_COLUMNS = ("flag_id", "person_id", "family_id", "as_of", "risk", "band", "rank",
                "model_name", "model_version", "run_id", "created_at")
REASON_TABLE_COLUMNS = ("flag_id", "direction", "agency", "feature", "text", "contribution",
                        "order")


_DDL = {
    "flags": "flag_id VARCHAR, person_id VARCHAR, family_id VARCHAR, as_of DATE, risk DOUBLE, "
             "band VARCHAR, rank BIGINT, model_name VARCHAR, model_version VARCHAR, "
             "run_id VARCHAR, created_at TIMESTAMP",
    "flag_reasons": 'flag_id VARCHAR, direction VARCHAR, agency VARCHAR, feature VARCHAR, '
                    'text VARCHAR, contribution DOUBLE, "order" BIGINT',
    "flag_provenance": "flag_id VARCHAR, agency VARCHAR, extract_date DATE, coverage DOUBLE, "
                       "note VARCHAR",
}


def write_flags_to_warehouse(warehouse: str | Path, result: Any) -> None:
    """Replace this model's flags for the as-of date, in one transaction.

    Flags of other as-of dates and other pipelines' models are kept. On any
    error the transaction is rolled back and the previous flags stay.

    Parameters
    ----------
    warehouse : str or Path
        The DuckDB warehouse file (must exist).
    result : ScoringResult
        Output of :func:`score_features`.
    """
    import duckdb

    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise ScoringError(f"{warehouse}: warehouse not found; run `earlywarning load` first")
    flags = result.flags
    model_names = sorted(set(flags["model_name"])) or [""]
    as_of = sorted(set(flags["as_of"]))
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("BEGIN TRANSACTION")
        for table, ddl in _DDL.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
        old = ("SELECT flag_id FROM flags WHERE model_name IN (SELECT unnest(?)) "
               "AND as_of IN (SELECT unnest(?))")
        params = [model_names, as_of]
        con.execute(f"DELETE FROM flag_reasons WHERE flag_id IN ({old})", params)
        con.execute(f"DELETE FROM flag_provenance WHERE flag_id IN ({old})", params)
        con.execute(f"DELETE FROM flags WHERE flag_id IN ({old})", params)
        for table, frame, cols in (("flags", flags, FLAG_COLUMNS),
                                   ("flag_reasons", result.reasons, REASON_TABLE_COLUMNS),
                                   ("flag_provenance", result.provenance, PROVENANCE_COLUMNS)):
            con.register("_incoming", frame[list(cols)])
            quoted = ", ".join(f'"{c}"' for c in cols)
            con.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM _incoming")
            con.unregister("_incoming")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def write_parquet(out_dir: Path, result: Any) -> None:
    """Write the outputs to a temporary sibling folder, then swap it in."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        result.flags.to_parquet(tmp / "flags.parquet", index=False)
        result.reasons.to_parquet(tmp / "flag_reasons.parquet", index=False)
        result.provenance.to_parquet(tmp / "flag_provenance.parquet", index=False)
        result.sample_reasons.to_parquet(tmp / "sample_reasons.parquet", index=False)
        result.contributions.to_parquet(tmp / "shap_values.parquet", index=False)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
