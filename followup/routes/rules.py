"""Follow-up routes: rules (being built)."""

HANDLERS: list[object] = []
