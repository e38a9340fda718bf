"""Jobs of the surveys domain (being built)."""
