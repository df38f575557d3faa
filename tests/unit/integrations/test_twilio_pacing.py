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
