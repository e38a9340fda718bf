"""Follow-up jobs: callbacks (being built)."""
