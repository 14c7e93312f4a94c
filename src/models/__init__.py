"""earlywarning.models."""
