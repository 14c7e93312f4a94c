"""The linked dataset: schema (single source of truth), synthetic LA, loader, warehouse."""
