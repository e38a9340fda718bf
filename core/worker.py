"""The worker entry point for `dramatiq core.worker` and `periodiq core.worker`: broker, actors, runtime.

Importing this module configures the broker from the environment and declares every domain's actors,
which is what the dramatiq and periodiq command lines expect of a broker module.
"""

from __future__ import annotations

from core import jobs
from core.app import import_tasks
from core.messaging import set_gateway
from core.settings import get_settings
from core.sms_gateways import gateway_from_settings

settings = get_settings()
import_tasks()
broker = jobs.configure(settings)
set_gateway(gateway_from_settings(
    account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
    from_number=settings.twilio_from, api_base_url=settings.twilio_api_base_url or None,
        development_auth_token=settings.dev_sms_token,
))
