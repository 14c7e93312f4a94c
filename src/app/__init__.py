"""earlywarning.app."""
