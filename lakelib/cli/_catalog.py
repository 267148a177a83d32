"""lake catalog commands (filled in by their issue)."""
