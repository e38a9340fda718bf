"""HTTP routes of the follow-up domain."""

from followup.routes.sms import SmsWebhookController

HANDLERS: list[object] = [SmsWebhookController]
