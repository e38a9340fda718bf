"""HTTP routes of the feedback domain (being built)."""

HANDLERS: list[object] = []
