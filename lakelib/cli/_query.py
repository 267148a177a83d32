"""lake query commands (filled in by their issue)."""
