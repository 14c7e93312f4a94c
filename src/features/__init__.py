"""Point-in-time features: cohorts, labels and declared feature specs -> a feature table.

Public entry points:

- :func:`build_features` builds (and writes) a pipeline's feature table;
- :data:`LIBRARY` / :class:`FeatureSpec` declare the features;
- :func:`dictionary_entries` renders the feature dictionary from specs;
- :func:`spec_sql` shows the SQL generated for a spec.

The point-in-time convention (records known by the end of the as-of date; labels
in ``(as_of, as_of + horizon]``) is documented with a worked example in
:mod:`earlywarning.features._timeline`.
"""

from ._sql import render, spec_query
from ._timeline import as_of_dates, horizon_end, window_start
from .build import (
    BuildResult,
    FeatureBuildError,
    all_specs,
    build_features,
    compare_cohorts,
    load_feature_table,
    plan_as_of,
)
from .cohort import COHORTS
from .dictionary import dictionary_entries, render_meaning
from .labels import OUTCOME_SOURCES
from .specs import LIBRARY, Condition, FeatureSpec, feature_column, resolve_specs

__all__ = [
    "BuildResult",
    "COHORTS",
    "Condition",
    "FeatureBuildError",
    "FeatureSpec",
    "LIBRARY",
    "OUTCOME_SOURCES",
    "all_specs",
    "as_of_dates",
    "build_features",
    "compare_cohorts",
    "load_feature_table",
    "dictionary_entries",
    "feature_column",
    "horizon_end",
    "plan_as_of",
    "render_meaning",
    "resolve_specs",
    "spec_sql",
    "window_start",
]


def spec_sql(spec: FeatureSpec, dialect: str = "duckdb") -> str:
    """Return the SQL generated for ``spec`` in ``dialect`` (``duckdb`` or ``spark``)."""
    return render(spec_query(spec), dialect)
