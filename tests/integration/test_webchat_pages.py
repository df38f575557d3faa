"""The widget script and the demo site: served as one self-contained script, and the demo
page only where the sandbox phone is (no Twilio account, not production)."""

from __future__ import annotations

import re

import httpx

from core.config import Settings
from core.db import make_engine
from core.demo.generator import SeedOptions, seed_demo_utility
from core.demo.personas import DEMO_PERSONAS
from stormdesk.app import create_app
from tests.bot_helpers import AS_OF


async def _get(settings: Settings, *paths: str) -> list[httpx.Response]:
    app = create_app(settings)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url="http://test") as client):
        return [await client.get(path) for path in paths]


async def test_demo_site_embeds_the_widget_with_one_script_tag(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        await seed_demo_utility(engine, SeedOptions(customers=8, seed=11, months=2, as_of=AS_OF))
    finally:
        await engine.dispose()
    settings = Settings(database_url=sqlite_url, env="test", log_json=False)
    page, script = await _get(settings, "/sandbox/site", "/channels/webchat/widget.js")
    assert page.status_code == 200
    tags = re.findall(r"<script[^>]*>", page.text)
    expected = (f'<script src="/channels/webchat/widget.js" data-title="Chat with '
                f'{settings.utility_name}" defer>')
    assert tags == [expected]
    assert "<link" not in page.text  # no outside stylesheet or font
    for persona in DEMO_PERSONAS[:3]:
        assert persona.account_number in page.text

    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    # Nothing fetched from anywhere else: no imports, no fonts, no absolute URLs in code.
    code = re.sub(r"/\*.*?\*/", "", script.text, flags=re.DOTALL)
    assert not re.search(r"https?://|@import|@font-face|url\(|\bimport\(", code)


async def test_demo_site_is_not_served_with_a_real_twilio_account(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, env="test", log_json=False,
                        twilio_account_sid="AC" + "0" * 32, twilio_auth_token="token")
    page, script = await _get(settings, "/sandbox/site", "/channels/webchat/widget.js")
    assert page.status_code == 404
    assert script.status_code == 200  # the widget itself is for real sites
