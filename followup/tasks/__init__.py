"""Follow-up jobs: callback sweeps and escalation, reminders and missing-data checks."""

from followup.tasks import callbacks, reminders  # noqa: F401 - importing declares the actors
