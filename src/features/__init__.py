"""earlywarning.features."""
