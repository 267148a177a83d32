"""lake train / models / deploy / serve / predict / transform (filled in by their issue)."""
