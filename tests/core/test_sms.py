"""The SMS gateways, run through the real twilio library against a local stand-in of Twilio's API."""

import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator

from core.sms import (
    DEVELOPMENT_AUTH_TOKEN,
    DeliveryState,
    ErrorKind,
    MalformedWebhook,
    OptOutType,
    PermanentSendError,
    SmsGateway,
    SmsSendError,
    TemporarySendError,
    classify_error_code,
)
from core.sms_gateways import DevelopmentGateway, TwilioGateway, gateway_from_settings
from tests.twilio_standin import TwilioStandIn

FROM = "+15017122661"
PATIENT = "+8613800138000"
PUBLIC_URL = "https://careloop.example.org/sms/twilio"
CALLBACK_URL = "https://careloop.example.org/sms/twilio/status"
SID = "SM" + "b" * 32


def make_gateway(standin: TwilioStandIn, **overrides: object) -> TwilioGateway:
    options: dict = {"api_base_url": standin.base_url, "timeout": 5} | overrides
    return TwilioGateway(standin.account_sid, standin.auth_token, options.pop("from_number", FROM), **options)


def send(gateway: SmsGateway, *, to: str = PATIENT, body: str = "空腹血糖 6.1 已记录"):
    return gateway.send(to=to, body=body, status_callback_url=CALLBACK_URL, idempotency_key="outbox-1")


def inbound_params(**overrides: str) -> dict[str, str]:
    params = {
        "MessageSid": "SM" + "a" * 32,
        "SmsSid": "SM" + "a" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": PATIENT,
        "To": FROM,
        "Body": "空腹 6.1",
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "CN",
    }
    return params | overrides


def signed_headers(url: str, params: dict[str, str], token: str) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- sending ---------------------------------------------------------------------------------------


def test_send_returns_the_sid_twilio_assigned(twilio_standin):
    result = send(make_gateway(twilio_standin))

    [message] = twilio_standin.messages
    assert result.provider_message_id == message["sid"]
    assert result.provider_message_id.startswith("SM") and len(result.provider_message_id) == 34
    assert result.status is DeliveryState.queued
    assert result.num_segments == 1


def test_send_posts_basic_auth_and_form_fields(twilio_standin):
    send(make_gateway(twilio_standin), body="血糖 7.8 已记录")

    [request] = twilio_standin.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{twilio_standin.account_sid}/Messages.json"
    assert request.auth == (twilio_standin.account_sid, twilio_standin.auth_token)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {
        "To": PATIENT, "From": FROM, "Body": "血糖 7.8 已记录", "StatusCallback": CALLBACK_URL}


def test_send_without_status_callback_leaves_the_field_out(twilio_standin):
    make_gateway(twilio_standin).send(to=PATIENT, body="OK", status_callback_url=None, idempotency_key="k")

    assert "StatusCallback" not in twilio_standin.requests[0].form


def test_messaging_service_sender_is_posted_as_messaging_service_sid(twilio_standin):
    service = "MG" + "1" * 32
    send(make_gateway(twilio_standin, from_number=service))

    form = twilio_standin.requests[0].form
    assert form["MessagingServiceSid"] == service
    assert "From" not in form


@pytest.mark.parametrize("code", [21211, 21614])
def test_bad_number_raises_permanent_error_with_twilio_code(twilio_standin, code):
    twilio_standin.fail_next(to=PATIENT, status=400, code=code)

    with pytest.raises(PermanentSendError) as caught:
        send(make_gateway(twilio_standin))

    assert caught.value.code == code
    assert caught.value.http_status == 400
    assert caught.value.opted_out is False


def test_opted_out_number_raises_permanent_error_flagged_opted_out(twilio_standin):
    twilio_standin.fail_next(to=PATIENT, status=400, code=21610)

    with pytest.raises(PermanentSendError) as caught:
        send(make_gateway(twilio_standin))

    assert caught.value.code == 21610
    assert caught.value.opted_out is True


def test_permanent_error_message_does_not_carry_the_phone_number(twilio_standin):
    twilio_standin.fail_next(to=PATIENT, status=400, code=21211)

    with pytest.raises(PermanentSendError) as caught:
        send(make_gateway(twilio_standin))

    assert PATIENT not in str(caught.value)


def test_server_error_raises_temporary_error_that_may_have_sent(twilio_standin):
    twilio_standin.fail_next(to=PATIENT, status=500)

    with pytest.raises(TemporarySendError) as caught:
        send(make_gateway(twilio_standin))

    assert caught.value.http_status == 500
    assert caught.value.code is None  # the library's stand-in of the status as code is not passed on
    assert caught.value.maybe_sent is True


def test_rate_limit_raises_temporary_error_that_was_not_sent(twilio_standin):
    twilio_standin.fail_next(to=PATIENT, status=429, code=20429)

    with pytest.raises(TemporarySendError) as caught:
        send(make_gateway(twilio_standin))

    assert caught.value.code == 20429
    assert caught.value.maybe_sent is False


def test_failure_applies_only_to_the_number_it_was_set_for(twilio_standin):
    twilio_standin.fail_next(to="+8613900139000", status=400, code=21211)

    result = send(make_gateway(twilio_standin))

    assert result.provider_message_id == twilio_standin.messages[0]["sid"]


def test_connection_refused_raises_temporary_error_that_was_not_sent():
    gateway = TwilioGateway("AC" + "0" * 32, "token", FROM, api_base_url=f"http://127.0.0.1:{closed_port()}")

    with pytest.raises(TemporarySendError) as caught:
        send(gateway)

    assert caught.value.maybe_sent is False


def test_timeout_raises_temporary_error_that_may_have_sent(twilio_standin):
    twilio_standin.hang_next(to=PATIENT, seconds=30)

    with pytest.raises(TemporarySendError) as caught:
        send(make_gateway(twilio_standin, timeout=0.5))

    assert caught.value.maybe_sent is True
    assert len(twilio_standin.messages) == 1  # Twilio had accepted it: a blind retry would send twice


def test_wrong_credentials_raise_temporary_error_so_messages_wait_for_a_fix(twilio_standin):
    gateway = TwilioGateway(twilio_standin.account_sid, "wrong-token", FROM,
                            api_base_url=twilio_standin.base_url)

    with pytest.raises(TemporarySendError) as caught:
        send(gateway)

    assert (caught.value.http_status, caught.value.code) == (401, 20003)


def test_both_send_errors_share_one_base_class():
    assert issubclass(PermanentSendError, SmsSendError) and issubclass(TemporarySendError, SmsSendError)


def test_twilio_region_in_the_environment_still_reaches_the_standin(twilio_standin, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "ie1")  # the library then calls api.ie1.twilio.com

    send(make_gateway(twilio_standin))

    assert len(twilio_standin.messages) == 1


def test_fetch_status_reads_the_carrier_outcome(twilio_standin):
    gateway = make_gateway(twilio_standin)
    sid = send(gateway).provider_message_id
    twilio_standin.set_status(sid, status="undelivered", error_code=30003)

    status = gateway.fetch_status(provider_message_id=sid)

    assert (status.status, status.error_code, status.raw_status) == (
        DeliveryState.failed, 30003, "undelivered")
    assert twilio_standin.requests[-1].method == "GET"


# -- inbound webhooks ------------------------------------------------------------------------------


@pytest.fixture
def twilio_gateway() -> TwilioGateway:
    # Webhook checks need no API; the address is never called.
    return TwilioGateway("AC" + "0" * 32, "live-token", FROM, api_base_url="http://127.0.0.1:9")


def test_signature_computed_for_the_public_url_is_accepted(twilio_gateway):
    params = inbound_params()
    headers = signed_headers(PUBLIC_URL, params, "live-token")

    assert twilio_gateway.verify_inbound(url=PUBLIC_URL, params=params, headers=headers)


def test_signature_header_name_is_matched_without_regard_to_case(twilio_gateway):
    params = inbound_params()
    headers = {"x-twilio-signature": signed_headers(PUBLIC_URL, params, "live-token")["X-Twilio-Signature"]}

    assert twilio_gateway.verify_inbound(url=PUBLIC_URL, params=params, headers=headers)


def test_wrong_signature_is_rejected(twilio_gateway):
    params = inbound_params()
    headers = signed_headers(PUBLIC_URL, params, "someone-elses-token")

    assert not twilio_gateway.verify_inbound(url=PUBLIC_URL, params=params, headers=headers)


def test_missing_signature_is_rejected(twilio_gateway):
    assert not twilio_gateway.verify_inbound(url=PUBLIC_URL, params=inbound_params(), headers={})


def test_tampered_parameter_is_rejected(twilio_gateway):
    params = inbound_params()
    headers = signed_headers(PUBLIC_URL, params, "live-token")

    tampered = params | {"Body": "空腹 16.1"}
    assert not twilio_gateway.verify_inbound(url=PUBLIC_URL, params=tampered, headers=headers)


def test_signature_for_the_internal_url_behind_the_proxy_is_rejected(twilio_gateway):
    params = inbound_params()
    headers = signed_headers("http://127.0.0.1:8000/sms/twilio", params, "live-token")

    assert not twilio_gateway.verify_inbound(url=PUBLIC_URL, params=params, headers=headers)


def test_previous_auth_token_is_accepted_during_rotation():
    gateway = TwilioGateway("AC" + "0" * 32, "new-token", FROM, previous_auth_token="old-token")
    params = inbound_params()

    headers = signed_headers(PUBLIC_URL, params, "old-token")

    assert gateway.verify_inbound(url=PUBLIC_URL, params=params, headers=headers)


def test_webhook_for_another_account_is_rejected(twilio_gateway):
    params = inbound_params(AccountSid="AC" + "9" * 32)
    headers = signed_headers(PUBLIC_URL, params, "live-token")

    assert not twilio_gateway.verify_inbound(url=PUBLIC_URL, params=params, headers=headers)


def test_parse_inbound_normalises_twilio_form_fields(twilio_gateway):
    received = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)

    params = inbound_params(NumMedia="1", MediaUrl0="https://x")

    sms = twilio_gateway.parse_inbound(params, received_at=received)

    assert sms.provider == "twilio"
    assert sms.provider_message_id == "SM" + "a" * 32
    assert (sms.from_e164, sms.to, sms.body) == (PATIENT, FROM, "空腹 6.1")
    assert sms.received_at == received
    assert sms.num_media == 1
    assert sms.opt_out_type is None
    assert sms.raw["FromCountry"] == "CN" and sms.raw["MediaUrl0"] == "https://x"


def test_parse_inbound_reads_advanced_opt_out_type(twilio_gateway):
    sms = twilio_gateway.parse_inbound(inbound_params(Body="STOP", OptOutType="STOP"))

    assert sms.opt_out_type is OptOutType.stop


def test_parse_inbound_stamps_arrival_in_utc_when_no_time_is_given(twilio_gateway):
    sms = twilio_gateway.parse_inbound(inbound_params())

    assert sms.received_at.tzinfo is UTC


def test_parse_inbound_without_message_sid_names_the_field(twilio_gateway):
    params = inbound_params()
    del params["MessageSid"], params["SmsSid"]

    with pytest.raises(MalformedWebhook) as caught:
        twilio_gateway.parse_inbound(params)

    assert caught.value.field_name == "MessageSid"


def test_parse_inbound_refuses_a_body_longer_than_twilio_delivers(twilio_gateway):
    with pytest.raises(MalformedWebhook) as caught:
        twilio_gateway.parse_inbound(inbound_params(Body="1" * 1601))

    assert caught.value.field_name == "Body"


# -- delivery status callbacks ---------------------------------------------------------------------


def test_delivered_callback_parses_to_delivered(twilio_gateway):
    status = twilio_gateway.parse_status_callback({"MessageSid": SID, "MessageStatus": "delivered"})

    assert (status.provider_message_id, status.status, status.error_code) == (SID, "delivered", None)
    assert status.error_kind is None


def test_undelivered_callback_with_handset_off_is_a_temporary_failure(twilio_gateway):
    status = twilio_gateway.parse_status_callback(
        {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )

    assert (status.status, status.error_code, status.error_kind) == (
        DeliveryState.failed, 30003, ErrorKind.temporary)


def test_failed_callback_for_opted_out_number_is_a_permanent_failure(twilio_gateway):
    status = twilio_gateway.parse_status_callback(
        {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "21610"}
    )

    assert status.error_kind is ErrorKind.permanent


def test_status_twilio_adds_later_parses_to_unknown(twilio_gateway):
    status = twilio_gateway.parse_status_callback({"MessageSid": SID, "MessageStatus": "teleported"})

    assert (status.status, status.raw_status) == (DeliveryState.unknown, "teleported")


@pytest.mark.parametrize(
    ("code", "http_status", "kind"),
    [
        (21211, 400, ErrorKind.permanent),
        (21610, 400, ErrorKind.permanent),
        (21614, 400, ErrorKind.permanent),
        (30007, None, ErrorKind.permanent),
        (30003, None, ErrorKind.temporary),
        (20429, 429, ErrorKind.temporary),
        (None, 503, ErrorKind.temporary),
        (None, 400, ErrorKind.permanent),
        (39999, None, ErrorKind.permanent),  # unknown: never resend blindly
    ],
)
def test_error_codes_are_classified_permanent_or_temporary(code, http_status, kind):
    assert classify_error_code(code, http_status=http_status) is kind


# -- replies ---------------------------------------------------------------------------------------


def test_reply_document_is_twiml_with_escaped_chinese_text(twilio_gateway):
    text = "已收到：血糖 7.8 <餐后> & 血压 135/85，谢谢"

    content, media_type = twilio_gateway.reply_document(text)

    assert media_type == "text/xml"
    assert "7.8 &lt;餐后&gt; &amp; 血压" in content
    assert ET.fromstring(content.encode()).find("Message").text == text


def test_reply_document_without_text_is_an_empty_response(twilio_gateway):
    content, _ = twilio_gateway.reply_document(None)

    root = ET.fromstring(content.encode())
    assert (root.tag, list(root)) == ("Response", [])


# -- development gateway and choice ----------------------------------------------------------------


def test_development_send_succeeds_with_an_id_derived_from_the_idempotency_key():
    gateway = DevelopmentGateway(record_sent=True)

    first = gateway.send(to=PATIENT, body="OK", status_callback_url=None, idempotency_key="outbox-7")
    again = gateway.send(to=PATIENT, body="OK", status_callback_url=None, idempotency_key="outbox-7")
    other = gateway.send(to=PATIENT, body="OK", status_callback_url=None, idempotency_key="outbox-8")

    assert first.provider_message_id.startswith("DEV") and len(first.provider_message_id) == 34
    assert first.provider_message_id == again.provider_message_id != other.provider_message_id
    assert [sent.idempotency_key for sent in gateway.sent] == ["outbox-7", "outbox-7", "outbox-8"]


def test_development_send_to_twilios_opted_out_test_number_fails_like_twilio():
    with pytest.raises(PermanentSendError) as caught:
        send(DevelopmentGateway(), to="+15005550004")

    assert caught.value.opted_out is True


def test_development_gateway_accepts_requests_signed_with_the_development_token():
    gateway = DevelopmentGateway()
    params = inbound_params()

    assert gateway.verify_inbound(
        url=PUBLIC_URL, params=params, headers=signed_headers(PUBLIC_URL, params, DEVELOPMENT_AUTH_TOKEN))
    assert not gateway.verify_inbound(
        url=PUBLIC_URL, params=params, headers=signed_headers(PUBLIC_URL, params, "live-token"))


def test_no_credentials_choose_the_development_gateway():
    gateway = gateway_from_settings(account_sid=None, auth_token=None, from_number=None)

    assert isinstance(gateway, DevelopmentGateway)
    assert isinstance(gateway, SmsGateway)


def test_development_gateway_from_settings_verifies_with_the_configured_token():
    gateway = gateway_from_settings(account_sid="", auth_token="", from_number="",
                                    development_auth_token="local-tools-token")
    params = inbound_params()

    assert gateway.verify_inbound(
        url=PUBLIC_URL, params=params, headers=signed_headers(PUBLIC_URL, params, "local-tools-token"))


def test_credentials_choose_the_twilio_gateway(twilio_standin):
    gateway = gateway_from_settings(
        account_sid=twilio_standin.account_sid, auth_token=twilio_standin.auth_token, from_number=FROM,
        api_base_url=twilio_standin.base_url)

    assert isinstance(gateway, TwilioGateway) and isinstance(gateway, SmsGateway)
    assert send(gateway).provider_message_id == twilio_standin.messages[0]["sid"]


def test_half_configured_twilio_is_an_error_not_a_silent_fallback():
    with pytest.raises(ValueError, match="auth_token"):
        gateway_from_settings(account_sid="AC" + "0" * 32, auth_token="", from_number=FROM)
