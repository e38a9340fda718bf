"""Follow-up routes: readings (being built)."""

HANDLERS: list[object] = []
