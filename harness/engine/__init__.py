"""Running one config: building components, the cached stage pipeline, contracts between stages, the up-to-date check."""
