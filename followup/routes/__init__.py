"""HTTP routes of the follow-up domain."""

from followup.routes import api, callbacks, followups, readings, rules, summary
from followup.routes.sms import SmsWebhookController

HANDLERS: list[object] = [SmsWebhookController, *readings.HANDLERS, *api.HANDLERS, *callbacks.HANDLERS,
                          *rules.HANDLERS, *followups.HANDLERS, *summary.HANDLERS]
