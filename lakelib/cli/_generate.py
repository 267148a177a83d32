"""``lake generate``: synthetic source files (filled in by the samples work)."""
