"""Jobs of the feedback domain (being built)."""
