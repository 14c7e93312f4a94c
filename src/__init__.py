"""earlywarning: explained, audited early-warning flags for Early Help.

The package is organised as the data flows:

- :mod:`earlywarning.data` - the linked dataset: schema, synthetic LA, loader, warehouse
- :mod:`earlywarning.features` - cohorts, labels and point-in-time features
- :mod:`earlywarning.models` - temporal evaluation, training, calibration, MLflow, scoring
- :mod:`earlywarning.fairness` - Fairlearn audits, ethics report, model card, approval
- :mod:`earlywarning.app` - the web app for Early Help leads and ethics boards
"""

__version__ = "0.1.0"
