"""lake etl commands (filled in by their issue)."""
