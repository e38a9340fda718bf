"""HTTP routes of the feedback domain: the patient's form, the committee's inbox and item pages, settings and
measures, and the complaints API."""

from feedback.routes.admin import FeedbackMetricsController, FeedbackSettingsController
from feedback.routes.api import ComplaintApiController
from feedback.routes.inbox import FeedbackInboxController
from feedback.routes.intake import FeedbackIntakeController
from feedback.routes.item import FeedbackItemController

HANDLERS = [FeedbackIntakeController, FeedbackInboxController, FeedbackItemController, FeedbackSettingsController,
            FeedbackMetricsController, ComplaintApiController]
