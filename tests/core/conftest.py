"""Fixtures for core/ tests: a local stand-in of the Twilio REST API."""

from collections.abc import Iterator

import pytest

from tests.twilio_standin import TwilioStandIn


@pytest.fixture
def twilio_standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as standin:
        yield standin
