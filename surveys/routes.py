"""HTTP routes of the surveys domain (being built)."""

HANDLERS: list[object] = []
