"""lake ingest commands (filled in by their issue)."""
