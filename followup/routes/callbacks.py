"""Follow-up routes: callbacks (being built)."""

HANDLERS: list[object] = []
