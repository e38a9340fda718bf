"""Twilio webhooks: inbound patient messages (answered with TwiML) and delivery status callbacks."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.enums import RequestEncodingType
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.params import Body
from litestar.types import Receive, Scope, Send
from sqlmodel import Session

from core.audit import record_audit
from core.messaging import apply_delivery_status
from core.models import AuditAction
from core.settings import Settings
from core.sms import DeliveryState, MalformedWebhook, SmsGateway
from core.web import client_address
from followup.conversation import handle_inbound_sms

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


class _ConfiguredRateLimit(RateLimitMiddleware):
    """Litestar's per-address limiter with the rate taken from the settings (`sms_webhook_rate_per_second`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.max_requests = scope["litestar_app"].state.settings.sms_webhook_rate_per_second
        await super().__call__(scope, receive, send)


webhook_rate_limit = RateLimitConfig(rate_limit=("second", 50), store="rate_limit_webhook",
                                     middleware_class=_ConfiguredRateLimit)
_STATUS = {DeliveryState.delivered: "delivered", DeliveryState.failed: "failed", DeliveryState.sent: "sent"}


def _params(data: dict[str, Any]) -> dict[str, str]:
    return {str(k): (v[-1] if isinstance(v, list) else str(v)) for k, v in data.items()}


def _verified(request: Request[Any, Any, Any], settings: Settings, params: dict[str, str], db: Session) -> bool:
    gateway: SmsGateway = request.app.state.sms_gateway
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    if gateway.verify_inbound(url=url, params=params, headers=dict(request.headers)):
        return True
    record_audit(session=db, action=AuditAction.security, object_type="sms_webhook", actor_kind="unknown",
                 client_address=client_address(request), detail=f"bad signature on {request.url.path}")
    db.commit()
    return False


class SmsWebhookController(Controller):
    path = "/sms/twilio"
    include_in_schema = False
    middleware = [webhook_rate_limit.middleware]

    @post("/", name="followup:sms-inbound", sync_to_thread=True, status_code=200)
    def inbound(self, request: Request[Any, Any, Any], db: Session, settings: Settings, data: Form) -> Response[str]:
        params = _params(data)
        if not _verified(request, settings, params, db):
            return Response("invalid signature", status_code=403, media_type="text/plain")
        gateway: SmsGateway = request.app.state.sms_gateway
        try:
            inbound = gateway.parse_inbound(params)
        except MalformedWebhook as exc:
            return Response(f"malformed webhook: {exc}", status_code=400, media_type="text/plain")
        outcome = handle_inbound_sms(session=db, inbound=inbound)
        content, media_type = gateway.reply_document(outcome.reply)
        return Response(content, media_type=media_type)

    @post("/status", name="followup:sms-status", sync_to_thread=True, status_code=200)
    def status(self, request: Request[Any, Any, Any], db: Session, settings: Settings, data: Form) -> Response[str]:
        params = _params(data)
        if not _verified(request, settings, params, db):
            return Response("invalid signature", status_code=403, media_type="text/plain")
        gateway: SmsGateway = request.app.state.sms_gateway
        try:
            status = gateway.parse_status_callback(params)
        except MalformedWebhook as exc:
            return Response(f"malformed webhook: {exc}", status_code=400, media_type="text/plain")
        apply_delivery_status(session=db, provider=status.provider, provider_message_id=status.provider_message_id,
                              status=_STATUS.get(status.status, ""), error_code=str(status.error_code or "") or None)
        return Response("", media_type="text/plain")
