"""/sandbox/site in headless Chromium: open the chat widget, report an outage, reload the page
and find the conversation still there, ask for a person, and see the agent's answer (and
typing) arrive from the console's real API.

The app runs for real (uvicorn on a free port, embedded default: SQLite, in-process workers);
the browser is Debian's chromium driven by Playwright; the agent uses the console's REST API
and websocket exactly as the console page does."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from websockets.asyncio.client import connect

from core.agents.service import create_agent
from core.config import Settings
from core.db import make_engine, unit_of_work
from core.demo.generator import SeedOptions, seed_demo_utility
from core.outages.models import OutageReport
from core.runtime import Runtime
from stormdesk.app import create_app
from stormdesk.wiring import build_runtime
from tests.bot_helpers import AS_OF, persona

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
AGENT_PASSWORD = "correct-horse-battery-staple"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser


@dataclass
class Served:
    base: str
    settings: Settings
    runtime: Runtime


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[Served]:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("chromium not installed")
    engine = make_engine(sqlite_url)
    try:
        await seed_demo_utility(engine, SeedOptions(customers=12, seed=11, months=3, as_of=AS_OF))
    finally:
        await engine.dispose()
    settings = Settings(database_url=sqlite_url, env="test", log_json=False)
    runtime = await build_runtime(settings)
    async with unit_of_work(runtime.sessions) as session:
        agent = await create_agent(session, username="maria", display_name="Maria",
                                   password=AGENT_PASSWORD, role="agent", skills=("billing",))
        agent.presence = "available"
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, runtime=runtime),
                                           host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                await asyncio.sleep(0.02)
        yield Served(f"http://127.0.0.1:{port}", settings, runtime)
    finally:
        server.should_exit = True
        await task
        await runtime.close()


async def _pending_offer(http: httpx.AsyncClient, auth: dict[str, str]) -> dict:
    """The offer routing made to our agent (the console shows it from /state and offer.new)."""
    async with asyncio.timeout(15):
        while True:
            state = (await http.get("/api/v1/agent/state", headers=auth)).json()
            if state["offers"]:
                return state["offers"][0]
            await asyncio.sleep(0.1)


async def test_report_an_outage_reload_then_an_agent_answers_in_the_widget(
        served: Served) -> None:
    from playwright.async_api import async_playwright, expect

    base = served.base
    dana = persona("resident")
    title = f"Chat with {served.settings.utility_name}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = await browser.new_page()
            outside: list[str] = []
            page.on("request", lambda r: None if r.url.startswith(base)
                    else outside.append(r.url))
            await page.goto(f"{base}/sandbox/site")

            # Open the widget from the keyboard: the launcher is a real, labelled button.
            launcher = page.get_by_role("button", name=title)
            await launcher.focus()
            await page.keyboard.press("Enter")
            await expect(launcher).to_have_attribute("aria-expanded", "true")
            panel = page.get_by_role("dialog", name=title)
            await expect(panel).to_be_visible()
            message_box = page.get_by_role("textbox", name="Message")
            await expect(message_box).to_be_focused()
            log = page.get_by_role("log", name="Conversation")
            await expect(log).to_have_attribute("aria-live", "polite")
            await expect(log.get_by_test_id("chat-message").first).to_contain_text("assistant")

            # Report an outage: OUT → hazard question (buttons) → No → account number → filed.
            await message_box.fill("OUT")
            await page.keyboard.press("Enter")
            bot = log.locator("[data-author=bot]")
            await expect(bot.last).to_contain_text("downed wire", timeout=15_000)
            choices = page.get_by_role("group", name="Suggested replies")
            await choices.get_by_role("button", name="No").click()
            await expect(message_box).to_be_focused()
            await expect(bot.last).to_contain_text("account number", timeout=15_000)
            await message_box.fill(dana.account_number)
            await page.keyboard.press("Enter")
            await expect(bot.last).to_contain_text("is reported", timeout=15_000)
            reported = await bot.last.inner_text()
            async with served.runtime.sessions() as session:
                assert await session.scalar(select(OutageReport.id)) is not None

            # Reload: the same conversation, history and all, is still there.
            await page.reload()
            log = page.get_by_role("log", name="Conversation")
            await expect(log.locator("[data-author=bot]").last).to_contain_text(
                "is reported", timeout=15_000)
            assert await log.locator("[data-author=bot]").last.inner_text() == reported
            await expect(log.locator("[data-author=customer]")).to_have_count(3)
            await expect(log.locator("[data-author=customer]").first).to_contain_text("OUT")

            # Ask for a person.
            message_box = page.get_by_role("textbox", name="Message")
            await message_box.fill("I'd like to talk to a person please")
            await message_box.press("Enter")
            await expect(log.locator("[data-author=bot]").last).to_contain_text(
                "in line", timeout=15_000)

            # An agent accepts through the console's API, types, and answers.
            async with httpx.AsyncClient(base_url=base) as http:
                login = await http.post("/api/v1/agent/login", json={
                    "username": "maria", "password": AGENT_PASSWORD})
                assert login.status_code == 200, login.text
                token = login.json()["token"]
                auth = {"Authorization": f"Bearer {token}"}
                offer = await _pending_offer(http, auth)
                accepted = await http.post(f"/api/v1/agent/offers/{offer['offer_id']}/accept",
                                           headers=auth)
                assert accepted.status_code == 200, accepted.text
                conversation_id = offer["conversation_id"]
                ws_base = base.replace("http://", "ws://")
                async with connect(f"{ws_base}/agent/ws") as console_ws:
                    await console_ws.send(json.dumps({"type": "hello", "token": token}))
                    assert json.loads(await console_ws.recv())["type"] == "welcome"
                    await console_ws.send(json.dumps({"type": "typing",
                                                      "conversation_id": conversation_id}))
                    await expect(page.get_by_test_id("chat-typing")).to_have_text(
                        "An agent is typing…")
                    sent = await http.post(
                        f"/api/v1/agent/conversations/{conversation_id}/messages",
                        json={"text": "Hi, I'm Maria. I see your outage report; how can I help?"},
                        headers=auth)
                    assert sent.status_code == 200, sent.text
            from_agent = log.locator("[data-author=agent]")
            await expect(from_agent).to_have_count(1, timeout=15_000)
            await expect(from_agent).to_contain_text("Maria (agent)")
            await expect(from_agent).to_contain_text("I see your outage report")
            await expect(page.get_by_test_id("chat-typing")).to_have_text("")

            # Escape closes the panel and gives focus back to the launcher.
            await message_box.press("Escape")
            await expect(panel).to_be_hidden()
            await expect(launcher).to_be_focused()
            await expect(launcher).to_have_attribute("aria-expanded", "false")
            assert outside == []  # no CDN, no fonts, nothing from anywhere else
        finally:
            await browser.close()
