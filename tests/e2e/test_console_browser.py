"""The console in headless Chromium with two agents and a supervisor.

A customer texts AGENT through the signed Twilio webhook; the longest-idle agent gets the
offer (sound + pulse), accepts with Alt+A, replies (the sandbox sender "sends" it on SMS),
posts an adjustment above their limit; the supervisor approves it on their page; the agent
sees the approval and wraps up with a disposition."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from accountcore_factories import bill, customer_with_account
from messaging_helpers import AUTH_TOKEN, PUBLIC_BASE_URL, SMS_PATH, sms_payload, twilio_signature
from sqlalchemy import select

from core.clock import today, utcnow
from core.conversations.models import Conversation, Message
from core.db import unit_of_work

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "agent_console"))
from console_kit import PASSWORD, console, eventually, served

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CUSTOMER = "+15045550101"
ALL_SKILLS = ("billing", "outage", "collections", "commercial", "emergency")

pytestmark = pytest.mark.browser


def _need_chromium() -> None:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("chromium not installed")


async def _sign_in(browser, base: str, path: str, username: str):
    from playwright.async_api import expect

    context = await browser.new_context()
    page = await context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith("ws")
            else outside.append(r.url))
    page.outside = outside  # type: ignore[attr-defined]
    await page.goto(f"{base}{path}")
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await expect(page.locator("#conn-status")).to_have_text("live", timeout=10_000)
    return page


async def test_customer_to_agent_to_supervisor_approval_and_wrap_up(sqlite_url: str) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright, expect

    twilio = {"twilio_auth_token": AUTH_TOKEN, "public_base_url": PUBLIC_BASE_URL}
    async with console(sqlite_url, settings=twilio, offer_timeout_s=120) as c:
        async with unit_of_work(c.runtime.sessions) as session:
            _, account = await customer_with_account(session, phone=CUSTOMER)
            await bill(session, account_id=account.id, issued_on=today() - timedelta(days=20),
                       amount="212.40")
        now = utcnow()
        await c.agent("amy", skills=ALL_SKILLS, idle_since=now - timedelta(minutes=5))
        await c.agent("bob", skills=ALL_SKILLS, idle_since=now - timedelta(minutes=40))
        await c.agent("sue", role="supervisor")

        async with served(c.app) as host, async_playwright() as pw:
            base = f"http://{host}"
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                amy = await _sign_in(browser, base, "/console", "amy")
                bob = await _sign_in(browser, base, "/console", "bob")
                sue = await _sign_in(browser, base, "/console/supervisor", "sue")

                # The customer texts in through the real, signed webhook.
                payload = sms_payload(sender=CUSTOMER, body="AGENT")
                async with httpx.AsyncClient(base_url=base) as customer:
                    answered = await customer.post(SMS_PATH, data=payload, headers={
                        "X-Twilio-Signature": twilio_signature(PUBLIC_BASE_URL + SMS_PATH,
                                                               payload)})
                assert answered.status_code == 200, answered.text

                # Bob has been idle longest: the offer pulses on his console only.
                await expect(bob.locator(".offer")).to_have_count(1, timeout=15_000)
                await expect(amy.locator(".offer")).to_have_count(0)
                assert await bob.evaluate("document.body.classList.contains('has-offer')")
                await bob.keyboard.press("Alt+a")
                await expect(bob.locator("#open")).to_be_visible(timeout=10_000)
                await expect(bob.locator("#transcript")).to_contain_text("AGENT")
                await expect(bob.locator(".offer")).to_have_count(0)

                await bob.fill("#reply", "Hi, this is Bob. I can help with your bill.")
                await bob.keyboard.press("Control+Enter")
                await expect(bob.locator("#transcript .msg.agent")).to_contain_text("I can help")

                async def reply_sent() -> Message | None:
                    async with c.runtime.sessions() as session:
                        return await session.scalar(select(Message).where(
                            Message.author == "agent", Message.status == "sent"))

                sent = await eventually(reply_sent, timeout=15)
                assert sent.recipient == CUSTOMER and sent.channel == "sms"
                assert sent.external_id and sent.external_id.startswith("SB")

                # The account panel opened by itself (one account); post above the limit.
                await expect(bob.locator("#acct-balance")).to_have_text("$212.40", timeout=10_000)
                await bob.fill("#adj-amount", "-150.00")
                await bob.fill("#adj-reason", "estimated read billed twice")
                await bob.click("#adj-submit")
                await expect(bob.locator(".toast.warn")).to_contain_text("supervisor")

                approval = sue.locator(".approval")
                await expect(approval).to_have_count(1, timeout=10_000)
                await expect(approval).to_contain_text("-150.00")
                await approval.locator("button.approve").click()
                await expect(bob.locator(".toast.good").filter(has_text="approved")).to_have_count(
                    1, timeout=10_000)
                await expect(bob.locator("#acct-balance")).to_have_text("$62.40",
                                                                        timeout=10_000)

                await bob.keyboard.press("Alt+w")
                await expect(bob.locator("#wrapup-form")).to_be_visible(timeout=10_000)
                await bob.select_option("#disposition", "adjustment")
                await bob.fill("#wrapup-notes", "credited the duplicate estimate")
                await bob.click("#wrapup-submit")
                await expect(bob.locator("#empty")).to_be_visible(timeout=10_000)

                async with c.runtime.sessions() as session:
                    owners = list(await session.scalars(select(Conversation.owner)))
                assert owners == ["closed"]
                for page in (amy, bob, sue):
                    assert page.outside == [], page.outside  # no CDN, nothing off-box
            finally:
                await browser.close()
