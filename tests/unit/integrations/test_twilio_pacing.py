"""Messages per second by kind of sender number, and the client's origin override."""

from __future__ import annotations

import pytest

from integrations.twilio.http import HttpxTwilioClient
from integrations.twilio.pacing import messages_per_second, pacing_key, sender_kind


@pytest.mark.parametrize(("sender", "kind", "mps"), [
    ("+15045550100", "long_code", 1.0),
    ("+18885550100", "toll_free", 3.0),
    ("+18335550100", "toll_free", 3.0),
    ("89361", "short_code", 100.0),
    ("whatsapp:+14155238886", "whatsapp", 80.0),
])
def test_kinds(sender: str, kind: str, mps: float) -> None:
    assert sender_kind(sender) == kind
    assert messages_per_second(sender) == mps


def test_per_number_override_and_shared_key() -> None:
    assert messages_per_second("+15045550100", {"+15045550100": 10.0}) == 10.0
    assert pacing_key("+15045550100") == "twilio:mps:+15045550100"


async def test_origin_override_keeps_path_and_query() -> None:
    client = HttpxTwilioClient(api_base="http://127.0.0.1:9911/fake")
    try:
        assert client.rebase(
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=1"
        ) == "http://127.0.0.1:9911/fake/2010-04-01/Accounts/AC1/Messages.json?PageSize=1"
        assert HttpxTwilioClient().rebase("https://api.twilio.com/x") == "https://api.twilio.com/x"
    finally:
        await client.aclose()


def test_operators_set_per_number_rates_in_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """STORMDESK_TWILIO_MPS reaches both senders: replies and storm notices."""
    from core.config import Settings
    from core.local import local_ports
    from integrations.notices.senders import build_notice_senders
    from integrations.twilio import build_senders

    monkeypatch.setenv("STORMDESK_TWILIO_MPS",
                       " (888) 555-0100=30 , 89361=300,whatsapp:+14155238886=120")
    settings = Settings(twilio_account_sid="AC" + "0" * 32, twilio_auth_token="token")
    assert settings.twilio_mps == {"+18885550100": 30.0, "89361": 300.0,
                                   "whatsapp:+14155238886": 120.0}
    limiter = local_ports().limiter
    replies = build_senders(settings, limiter=limiter)["sms"]
    notices = build_notice_senders(settings, limiter=limiter)["sms"]
    for sender in (replies, notices):
        overrides = sender._options.mps_overrides  # type: ignore[attr-defined]
        assert messages_per_second("+18885550100", overrides) == 30.0
        assert messages_per_second("+15045550100", overrides) == 1.0  # its kind's default


@pytest.mark.parametrize("value", [
    "+18885550100", "+18885550100=0", "+18885550100=-2", "+18885550100=fast",
    "+18885550100=20000", "=5", "not-a-number=5", "+1888=5",
])
def test_a_bad_rate_setting_stops_the_start_up(value: str) -> None:
    from pydantic import ValidationError

    from core.config import Settings

    with pytest.raises(ValidationError, match="STORMDESK_TWILIO_MPS"):
        Settings(twilio_mps=value)
