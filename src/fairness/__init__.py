"""earlywarning.fairness."""
