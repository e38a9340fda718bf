"""Follow-up routes: api (being built)."""

HANDLERS: list[object] = []
