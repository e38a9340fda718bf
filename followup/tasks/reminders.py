"""Follow-up jobs: reminders (being built)."""
