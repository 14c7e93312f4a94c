"""Point-in-time features: our interval engine vs the naive range join, same run, same data.

The data: N children and ~30 N events over 12 agencies (one table or service
each, all about the child), 8 years ending 2026-03-31, with recording lags (a
few records entered months late, so ``recorded_at`` matters), synthesised
directly by a small vectorised generator into a DuckDB warehouse with the
schema's tables. 12 monthly as-of dates (2025-04-01 .. 2026-03-01), windows of
90/365/1095 days: 36 features for N x 12 rows.

Naive baseline (the textbook query): join every event to every as-of date
whose 1095-day window holds it, then ``count(*) FILTER`` per agency x window,
grouped by child and as-of date. Same point-in-time rule as the engine
(event date in the window, recorded on or before the as-of date).

Engine: the generated spec SQL (one query per agency) + per-date deltas and
a cumulative sum over the slots (``earlywarning.features._engine``).

Each side runs in its own subprocess so its peak memory (max RSS) is its own.
Outputs are compared value by value on every (child, as-of) the baseline returns,
and the engine's other rows must be all zero.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
WINDOWS = (90, 365, 1095)
AS_OF = [date(2025 + (m < 4), m, 1) for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)]
DATA_START, DATA_END = date(2018, 4, 1), date(2026, 3, 31)

# agency -> (table, person column, event date column, recorded column, filter column, value)
AGENCY_SOURCES = {
    "csc": ("ssd_contacts", "cont_person_id", "cont_contact_date", "cont_recorded_at", None),
    "early_help": ("ssd_early_help_episodes", "earl_person_id", "earl_episode_start_date",
                   "earl_recorded_at", None),
    "police": ("ext_police_event", "poli_person_id", "poli_event_date", "poli_recorded_at", None),
    "housing": ("ext_housing_event", "hous_person_id", "hous_event_date", "hous_recorded_at",
                None),
    "asc": ("ext_asc_involvement", "asci_person_id", "asci_start_date", "asci_recorded_at", None),
    "adult_mental_health": ("ext_health_event", "heal_person_id", "heal_event_date",
                            "heal_recorded_at", ("heal_service", "adult_mental_health")),
    "drug_alcohol": ("ext_health_event", "heal_person_id", "heal_event_date",
                     "heal_recorded_at", ("heal_service", "drug_alcohol")),
    "health_visiting": ("ext_health_event", "heal_person_id", "heal_event_date",
                        "heal_recorded_at", ("heal_service", "health_visiting")),
    "gp": ("ext_health_event", "heal_person_id", "heal_event_date", "heal_recorded_at",
           ("heal_service", "gp_concern")),
    "acute_health": ("ext_health_event", "heal_person_id", "heal_event_date",
                     "heal_recorded_at", ("heal_service", "a_and_e")),
    "school": ("ext_school_exclusion", "excl_person_id", "excl_exclusion_date",
               "excl_recorded_at", None),
    "youth_justice": ("ext_youth_justice", "yjus_person_id", "yjus_event_date",
                      "yjus_recorded_at", None),
}


# --- the data --------------------------------------------------------------------------
def generate(path: Path, n_children: int, n_events: int, seed: int = 42) -> None:
    """Write a bench warehouse: children in ssd_person, events in the 12 agencies' tables."""
    import duckdb
    import numpy as np
    import pyarrow as pa
    from earlywarning.data.schema import TABLES

    rng = np.random.default_rng(seed)
    sql_types = {"string": "VARCHAR", "json": "VARCHAR", "date": "DATE",
                 "timestamp": "TIMESTAMP", "int": "BIGINT", "float": "DOUBLE"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute("SET preserve_insertion_order = false")
    tables = {"ssd_person", *(v[0] for v in AGENCY_SOURCES.values())}
    for name in tables:
        t = TABLES[name]
        cols = ", ".join(f"{c.name} {sql_types[c.dtype]}" for c in t.columns)
        con.execute(f"CREATE TABLE {name} ({cols})")
    start = (DATA_START - date(1970, 1, 1)).days
    end = (DATA_END - date(1970, 1, 1)).days
    dob = rng.integers(end - 17 * 365, end, n_children)
    con.register("_p", pa.table({"i": np.arange(n_children), "dob": dob}))
    con.execute("INSERT INTO ssd_person (pers_person_id, pers_sex, pers_ethnicity, pers_dob, "
                "pers_is_child) SELECT printf('C%08d', i), 'F', 'WBRI', "
                "DATE '1970-01-01' + CAST(dob AS INTEGER), 'Y' FROM _p")
    con.unregister("_p")
    # skewed activity: a few families generate most records
    weight = rng.gamma(0.4, 1.0, n_children)
    cdf = np.cumsum(weight) / weight.sum()
    per_agency = n_events // len(AGENCY_SOURCES)
    for k, (_agency, (table, pcol, dcol, rcol, filt)) in enumerate(AGENCY_SOURCES.items()):
        person = np.searchsorted(cdf, rng.random(per_agency))
        day = rng.integers(start, end + 1, per_agency)
        lag = rng.exponential(7.0, per_agency)
        late = rng.random(per_agency) < 0.05
        lag[late] += rng.uniform(30, 400, late.sum())
        seconds = (day * 86400 + lag * 86400).astype(np.int64)
        con.register("_e", pa.table({"i": np.arange(per_agency) + k * per_agency,
                                     "p": person, "day": day,
                                     "rec": pa.array(seconds * 1_000_000, pa.timestamp("us"))}))
        key = TABLES[table].primary_key[0]
        cols = [key, pcol, dcol, rcol]
        exprs = ["printf('E%09d', i)", "printf('C%08d', p)",
                 "DATE '1970-01-01' + CAST(day AS INTEGER)", "rec"]
        for c in TABLES[table].columns:
            if c.required and c.name not in cols:
                cols.append(c.name)
                if filt and c.name == filt[0]:
                    exprs.append(f"'{filt[1]}'")
                elif c.codes:
                    exprs.append(f"'{c.codes[0]}'")
                else:
                    exprs.append("'x'")
        con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM _e")
        con.unregister("_e")
    con.close()
    tmp.rename(path)


# --- the two sides ---------------------------------------------------------------------------
def naive_sql() -> str:
    """The naive range join over the union of the 12 agencies' records."""
    parts = []
    for agency, (table, pcol, dcol, rcol, filt) in AGENCY_SOURCES.items():
        where = f" WHERE {filt[0]} = '{filt[1]}'" if filt else ""
        parts.append(f"SELECT {pcol} AS person_id, '{agency}' AS agency, {dcol} AS event_date, "
                     f"CAST({rcol} AS DATE) AS recorded_day FROM {table}{where}")
    aggs = ",\n  ".join(
        f"count(*) FILTER (WHERE e.agency = '{a}' AND e.event_date > a.as_of - {w}) "
        f"AS {a}_count_{w}d"
        for a in AGENCY_SOURCES for w in WINDOWS)
    dates = ", ".join(f"(DATE '{d}')" for d in AS_OF)
    return (
        f"WITH e AS ({' UNION ALL '.join(parts)}),\n"
        f"a AS (SELECT * FROM (VALUES {dates}) v(as_of))\n"
        f"SELECT e.person_id, a.as_of,\n  {aggs}\n"
        "FROM e JOIN a ON e.event_date <= a.as_of AND e.event_date > a.as_of - 1095 "
        "AND e.recorded_day <= a.as_of\n"
        "GROUP BY e.person_id, a.as_of"
    )


def per_date_scan_sql(as_of: date) -> str:
    """Technique 2: no join; one filtered scan of the union per as-of date."""
    parts = []
    for agency, (table, pcol, dcol, rcol, filt) in AGENCY_SOURCES.items():
        where = f" WHERE {filt[0]} = '{filt[1]}'" if filt else ""
        parts.append(f"SELECT {pcol} AS person_id, '{agency}' AS agency, {dcol} AS event_date, "
                     f"CAST({rcol} AS DATE) AS recorded_day FROM {table}{where}")
    d = f"DATE '{as_of}'"
    aggs = ",\n  ".join(
        f"count(*) FILTER (WHERE agency = '{a}' AND event_date > {d} - {w}) AS {a}_count_{w}d"
        for a in AGENCY_SOURCES for w in WINDOWS)
    return (f"SELECT person_id, {d} AS as_of, {aggs} FROM ({' UNION ALL '.join(parts)}) e "
            f"WHERE event_date <= {d} AND event_date > {d} - 1095 AND recorded_day <= {d} "
            "GROUP BY person_id")


def run_scans(db: Path, out: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    con = _connect(db)
    t0 = time.perf_counter()
    result = pa.concat_tables([con.execute(per_date_scan_sql(d)).to_arrow_table()
                               for d in AS_OF])
    seconds = time.perf_counter() - t0
    pq.write_table(result, out)
    return {"seconds": seconds, "rows": result.num_rows}


def engine_specs() -> list:
    from earlywarning.features.specs import Condition, FeatureSpec

    specs = []
    for agency, (table, _p, _d, _r, filt) in AGENCY_SOURCES.items():
        where = (Condition(filt[0], "eq", filt[1]),) if filt else ()
        specs.append(FeatureSpec(agency, table, "count", "{value} records {window}",
                                 where=where, windows=WINDOWS, agency=agency))
    return specs


MEMORY_LIMIT = "10GB"
"""Both sides run under this DuckDB memory limit (the machine is shared; DuckDB spills)."""


def _connect(db: Path):
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET temp_directory = '{WORK / 'spill'}'")
    return con


def run_naive(db: Path, out: Path) -> dict:
    con = _connect(db)
    t0 = time.perf_counter()
    result = con.execute(naive_sql()).to_arrow_table()
    seconds = time.perf_counter() - t0
    import pyarrow.parquet as pq

    pq.write_table(result, out)
    return {"seconds": seconds, "rows": result.num_rows}


def run_engine(db: Path, out: Path) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from earlywarning.features._compute import compute_spec
    from earlywarning.features._engine import Grid
    from earlywarning.features._sql import CHILDREN_TABLE
    from earlywarning.features._timeline import to_days

    con = _connect(db)
    t0 = time.perf_counter()
    people = con.execute("SELECT pers_person_id FROM ssd_person ORDER BY pers_person_id"
                         ).to_arrow_table().column(0)
    n = len(people)
    con.register(CHILDREN_TABLE, pa.table({"person_id": people,
                                           "cidx": pa.array(np.arange(n, dtype=np.int32))}))
    grid = Grid(slot_days=np.array([to_days(d) for d in AS_OF]), n_children=n)
    columns = {}
    for spec in engine_specs():
        for name, values in compute_spec(con, spec, grid).items():
            columns[name] = values.astype(np.float32)  # (child, slot): every child, every date
    seconds = time.perf_counter() - t0
    slot = np.tile(np.arange(len(AS_OF)), n)
    child = np.repeat(np.arange(n), len(AS_OF))
    table = pa.table({"cidx": child, "slot": slot,
                      **{k: v.ravel() for k, v in columns.items()}})
    pq.write_table(table, out)
    (out.with_suffix(".people.json")).write_text(json.dumps(people.to_pylist()))
    return {"seconds": seconds, "rows": n * len(AS_OF)}


def compare(naive_path: Path, engine_path: Path) -> dict:
    import numpy as np
    import pyarrow.parquet as pq

    naive = pq.read_table(naive_path).to_pandas()
    eng = pq.read_table(engine_path).to_pandas()
    people = json.loads(engine_path.with_suffix(".people.json").read_text())
    index = {p: i for i, p in enumerate(people)}
    slot_of = {d: i for i, d in enumerate(AS_OF)}
    n_slots = len(AS_OF)
    flat = naive["person_id"].map(index).to_numpy() * n_slots + \
        naive["as_of"].map(slot_of).to_numpy()
    cols = [c for c in naive.columns if c.endswith("d") and c not in ("person_id",)]
    mismatches = 0
    for c in cols:
        mismatches += int((eng[c].to_numpy()[flat] != naive[c].to_numpy()).sum())
    others = np.ones(len(eng), bool)
    others[flat] = False
    nonzero_elsewhere = int((eng.loc[others, cols].to_numpy() != 0).sum())
    return {"features_compared": len(cols), "rows_compared": int(len(naive)),
            "mismatches": mismatches, "nonzero_where_baseline_has_no_row": nonzero_elsewhere}


def _child(kind: str, db: Path, out: Path) -> dict:
    """Run one side in a fresh interpreter and report its time and peak memory."""
    report = out.with_suffix(".result.json")
    report.unlink(missing_ok=True)
    code = (
        "import json, sys; sys.path.insert(0, %r); import bench_features as b; "
        "from _peak import peak_rss_gb; "
        "from pathlib import Path; r = b.run_%s(Path(%r), Path(%r)); "
        "r['peak_rss_gb'] = peak_rss_gb(); "
        "Path(%r).write_text(json.dumps(r))" % (str(HERE), kind, str(db), str(out), str(report))
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0 or not report.exists():
        raise RuntimeError(f"{kind} failed: {proc.stderr[-2000:]}")
    return json.loads(report.read_text())


def run(quick: bool) -> list[dict]:
    n_children = 20_000 if quick else 1_000_000
    n_events = 30 * n_children
    db = WORK / f"features_{n_children}.duckdb"
    if not db.exists():
        t0 = time.perf_counter()
        generate(db, n_children, n_events)
        print(f"generated {n_events:,} events for {n_children:,} children in "
              f"{time.perf_counter() - t0:.1f} s")
    naive = _child("naive", db, WORK / "naive.parquet")
    engine = _child("engine", db, WORK / "engine.parquet")
    check = compare(WORK / "naive.parquet", WORK / "engine.parquet")
    speedup = naive["seconds"] / engine["seconds"]
    identical = check["mismatches"] == 0 and check["nonzero_where_baseline_has_no_row"] == 0
    details = {"children": n_children, "events": n_events, "as_of_dates": len(AS_OF),
               "features": len(AGENCY_SOURCES) * len(WINDOWS), "naive": naive,
               "engine": engine, "check": check}
    return [
        {"name": "features: engine time", "value": engine["seconds"], "unit": "s",
         "baseline": naive["seconds"], "baseline_label": "naive range join",
         "target": ">= 5x faster than the naive join, identical output",
         "passed": (speedup >= 5 and identical) if not quick else identical,
         "details": details},
        {"name": "features: speed-up over naive join", "value": speedup, "unit": "x",
         "baseline": 1.0, "baseline_label": "naive range join", "target": ">= 5x",
         "passed": speedup >= 5 if not quick else None, "details": {}},
        {"name": "features: engine peak memory", "value": engine["peak_rss_gb"], "unit": "GB",
         "baseline": naive["peak_rss_gb"], "baseline_label": "naive range join",
         "target": "<= 8 GB", "passed": engine["peak_rss_gb"] <= 8, "details": {}},
    ]


def techniques(n_children: int) -> dict:
    """Time every technique on one data set (``python bench/bench_features.py --techniques N``)."""
    db = WORK / f"features_{n_children}.duckdb"
    if not db.exists():
        generate(db, n_children, 30 * n_children)
    out = {}
    for kind in ("engine", "scans", "naive"):
        out[kind] = _child(kind, db, WORK / f"{kind}.parquet")
    out["scans_check"] = compare(WORK / "scans.parquet", WORK / "engine.parquet")
    out["naive_check"] = compare(WORK / "naive.parquet", WORK / "engine.parquet")
    return out


if __name__ == "__main__":
    import pprint

    if "--techniques" in sys.argv:
        pprint.pprint(techniques(int(sys.argv[sys.argv.index("--techniques") + 1])))
    else:
        pprint.pprint(run(quick="--quick" in sys.argv))
