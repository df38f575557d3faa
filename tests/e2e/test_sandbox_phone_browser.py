"""/sandbox/phone in headless Chromium: pick a demo customer, text OUT, see the reply.

The app runs for real (uvicorn, embedded default: SQLite, in-process workers, sandbox
sender); the browser is Debian's chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from core.config import Settings
from core.conversations.models import Message
from core.customers.models import Contact, Customer
from core.db import unit_of_work
from stormdesk.app import create_app
from stormdesk.wiring import build_runtime

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PHONE = "+15045550177"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[tuple[str, Settings]]:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("chromium not installed")
    settings = Settings(database_url=sqlite_url, env="test", log_json=False)
    runtime = await build_runtime(settings)
    async with unit_of_work(runtime.sessions) as session:
        customer = Customer(first_name="Rosa", last_name="Delgado")
        session.add(customer)
        await session.flush()
        session.add(Contact(customer_id=customer.id, kind="phone", value=PHONE))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, runtime=runtime),
                                           host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}", settings
        # What the page showed was stored and "sent" by the sandbox: nothing left the machine.
        async with runtime.sessions() as session:
            from sqlalchemy import select

            replies = list(await session.scalars(
                select(Message).where(Message.direction == "outbound")))
        assert replies and all(r.status == "sent" and r.external_id.startswith("SB")
                               for r in replies if r.external_id)
    finally:
        server.should_exit = True
        await task
        await runtime.close()


async def test_text_out_from_a_demo_customer_and_see_the_reply(
        served: tuple[str, Settings]) -> None:
    from playwright.async_api import async_playwright, expect

    base, settings = served
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        try:
            page = await browser.new_page()
            blocked: list[str] = []
            # No CDN, no outside request of any kind.
            page.on("request", lambda r: None if r.url.startswith(base)
                    else blocked.append(r.url))
            await page.goto(f"{base}/sandbox/phone")
            customer = page.get_by_test_id("customer")
            await expect(customer.locator(f"option[value='{PHONE}']")).to_have_count(1)
            await customer.select_option(PHONE)
            await expect(page.get_by_test_id("number")).to_have_value(PHONE)

            await page.get_by_test_id("text").fill("OUT")
            await page.get_by_test_id("send").click()

            await expect(page.get_by_test_id("sent-message").last).to_have_text("OUT")
            # Whatever the bot says to OUT, it says it on the phone.
            await expect(page.get_by_test_id("reply")).to_have_count(1, timeout=10_000)
            assert (await page.get_by_test_id("reply").last.inner_text()).strip()

            # HELP, then a new page load shows the whole thread again (it is stored).
            await page.get_by_test_id("text").fill("HELP")
            await page.get_by_test_id("text").press("Enter")
            await expect(page.get_by_test_id("reply")).to_have_count(2, timeout=10_000)
            await expect(page.get_by_test_id("reply").last).to_contain_text(
                settings.utility_name)
            await page.reload()
            await page.get_by_test_id("number").fill(PHONE)
            await page.get_by_test_id("number").dispatch_event("change")
            await expect(page.get_by_test_id("reply")).to_have_count(2, timeout=10_000)
            assert blocked == []
        finally:
            await browser.close()


async def test_sandbox_phone_is_not_served_with_a_real_twilio_account(sqlite_url: str) -> None:
    import httpx

    settings = Settings(database_url=sqlite_url, env="test", twilio_account_sid="AC" + "0" * 32,
                        twilio_auth_token="token")
    app = create_app(settings)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                  base_url="http://test") as client):
        assert (await client.get("/sandbox/phone")).status_code == 404
        assert (await client.post("/sandbox/phone/messages",
                                  json={"number": PHONE, "text": "OUT"})).status_code == 404
