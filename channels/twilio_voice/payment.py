"""Paying on the phone, never by a spoken card number (DOMAIN.md "Pay").

The bot's pay flow runs on the phone as everywhere: it checks who is asking, then issues a
single-use payment link for the account (recorded with channel "voice") and words its reply
for the SMS path ("I've sent a secure payment link by text"). The phone line then settles
that step once, under the conversation's lock:
- with a Twilio <Pay> connector configured, the caller keys the card into Twilio instead: the
  bot's words about a text are withdrawn (marked suppressed: never said) and the line says
  the keypad offer; the link is the payment's reference in the ledger;
- else, when the number can take texts, the link goes by SMS through the pipeline's sender
  (an outbound SMS row on the same conversation, consent checked again at send time);
- else (withheld number, opted out of texts), the line says it cannot text and offers a
  person.
A card number spoken or keyed anyway was masked by the pipeline before it was stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows.common import money
from bot.replies import Templates
from channels.twilio_voice.options import TwilioVoiceOptions
from core.accounts.models import Account
from core.auth.service import Caller
from core.billing.service import post_payment
from core.clock import utcnow
from core.conversations import compliance, repository
from core.conversations.events import ReplyRecorded
from core.conversations.flows import OUTBOUND_STREAM, conversation_lock, publish
from core.conversations.models import Conversation, Message
from core.conversations.policy import status_rank
from core.conversations.segments import smart_encode, split_message
from core.db import unit_of_work
from core.enums import Role
from core.errors import DomainError
from core.money import from_cents
from core.payments.models import PaymentLink
from core.payments.service import DEFAULT_TTL, consume_link, issue_link
from core.pii import mask_card_numbers
from core.runtime import Runtime

log = logging.getLogger(__name__)

LOCK_TTL_S = 30.0
LOCK_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class PaymentStep:
    """A turn in which the bot issued a payment link for the caller."""

    link_id: int
    amount_cents: int


@dataclass(frozen=True, slots=True)
class PayResult:
    paid: bool
    amount_cents: int
    confirmation: str = ""
    texted: bool = False


async def link_of_step(session: AsyncSession, inbound: Message,
                       conversation: Conversation) -> PaymentLink | None:
    """The voice payment link the bot issued while handling `inbound`, if any.

    Links carry no message id, so the turn is found by time, on the clock that wrote both:
    the handler stamps the link and the message's handled_at in one transaction, after the
    previous turn was handled. Only the caller's accounts are looked at."""
    if inbound.handled_at is None:
        return None
    accounts = set(await _accounts_of(session, conversation))
    if not accounts:
        return None
    previous = await session.scalar(
        select(Message.handled_at).where(
            Message.conversation_id == conversation.id, Message.direction == "inbound",
            Message.id < inbound.id, Message.handled_at.is_not(None))
        .order_by(Message.id.desc()).limit(1))
    query = select(PaymentLink).where(
        PaymentLink.channel == "voice", PaymentLink.account_id.in_(accounts),
        PaymentLink.created_at <= inbound.handled_at)
    if previous is not None:
        query = query.where(PaymentLink.created_at > previous)
    return await session.scalar(query.order_by(PaymentLink.id.desc()).limit(1))


async def _accounts_of(session: AsyncSession, conversation: Conversation) -> list[int]:
    found: list[int] = []
    verified = (conversation.bot_state or {}).get("verified_account_id")
    if verified:
        found.append(int(verified))
    if conversation.customer_id is not None:
        rows = await session.scalars(
            select(Account.id).where(Account.customer_id == conversation.customer_id))
        found.extend(rows)
    return found


async def settle(runtime: Runtime, *, inbound_id: int, language: str,
                 options: TwilioVoiceOptions) -> PaymentStep | None:
    """Decide, once, how this turn's payment happens (see the module docstring); returns the
    payment step for the TwiML, or None when the turn issued no link. Safe to repeat."""
    async with runtime.sessions() as session:
        inbound = await session.get(Message, inbound_id)
        conversation = (await session.get(Conversation, inbound.conversation_id)
                        if inbound is not None else None)
        if inbound is None or conversation is None:
            return None
        if await link_of_step(session, inbound, conversation) is None:
            return None  # most turns: no lock taken
        conversation_id = conversation.id
    lock = runtime.lock.hold(conversation_lock(conversation_id), ttl_s=LOCK_TTL_S,
                             wait_s=LOCK_WAIT_S)
    async with lock, unit_of_work(runtime.sessions) as session:
        step, new_rows = await _settle_turn(session, runtime=runtime, inbound_id=inbound_id,
                                            language=language, options=options)
        events = [ReplyRecorded(conversation_id=r.conversation_id, message_id=r.id,
                                author=r.author, channel=r.channel) for r in new_rows]
        to_send = [r.id for r in new_rows if r.channel == "sms"]
    await _after_commit(runtime, to_send, events)
    return step



async def _settle_turn(session: AsyncSession, *, runtime: Runtime, inbound_id: int,
                       language: str,
                       options: TwilioVoiceOptions) -> tuple[PaymentStep | None, list[Message]]:
    inbound = await session.get(Message, inbound_id, populate_existing=True)
    assert inbound is not None
    conversation = await session.get(Conversation, inbound.conversation_id,
                                     populate_existing=True)
    assert conversation is not None
    link = await link_of_step(session, inbound, conversation)
    if link is None:
        return None, []
    step = PaymentStep(link_id=link.id, amount_cents=link.amount_cents)
    replies = list(await session.scalars(repository.replies_to(inbound.id)))
    if any(r.author == "system" or r.channel == "sms" for r in replies):
        return step, []  # settled by an earlier delivery of this turn
    templates = Templates(runtime.settings.templates_dir)
    common = {"utility": runtime.settings.utility_name,
              "utility_phone": runtime.settings.utility_phone}
    if options.pay_connector:
        await _withdraw(session, replies)
        line = _voice_line(inbound, templates.render(
            "voice_pay_intro", language=language, channel="voice",
            amount=money(link.amount_cents), **common).text)
    elif await _can_text(session, inbound.sender):
        return step, await _text_link(session, runtime=runtime, inbound=inbound,
                                      account_id=link.account_id,
                                      amount_cents=link.amount_cents, language=language,
                                      options=options)
    else:
        await _withdraw(session, replies)
        line = _voice_line(inbound, templates.render(
            "voice_pay_no_sms", language=language, channel="voice", **common).text)
    session.add(line)
    await session.flush()
    return step, [line]

async def pay_result(runtime: Runtime, *, form: dict[str, str], inbound_id: int, link_id: int,
                     language: str, options: TwilioVoiceOptions) -> PayResult:
    """Twilio posts <Pay>'s outcome to its action. On success the payment goes on the ledger
    (once: the link is its reference, and a repeat finds it used); on anything else nothing
    was charged, and the caller gets the link by text instead, once."""
    outcome = str(form.get("Result") or "")
    confirmation = str(form.get("PaymentConfirmationCode") or "")[:32]
    to_send: list[int] = []
    events: list[ReplyRecorded] = []
    async with unit_of_work(runtime.sessions) as session:
        link = await session.get(PaymentLink, link_id, with_for_update=True)
        if link is None:
            return PayResult(paid=False, amount_cents=0)
        if outcome == "success":
            if link.used_at is None:
                try:
                    posted = await post_payment(
                        session, caller=Caller(name="voice:pay", role=Role.SYSTEM),
                        account_id=link.account_id, amount=from_cents(link.amount_cents),
                        method="card", reference=f"paylink:{link.id}",
                        memo=f"phone keypad payment (Twilio Pay {confirmation})")
                    await consume_link(session, link=link, ledger_entry_id=posted.payment.id)
                except DomainError:
                    # The processor has charged the card: the ledger must catch up by hand.
                    log.exception("Twilio Pay succeeded but link %s could not be posted",
                                  link.id)
            return PayResult(paid=True, amount_cents=link.amount_cents,
                             confirmation=confirmation)
        inbound = await session.get(Message, inbound_id)
        texted = False
        if inbound is not None and await _can_text(session, inbound.sender):
            texted = True
            already = await session.scalar(select(Message.id).where(
                Message.reply_to_id == inbound.id, Message.channel == "sms").limit(1))
            if already is None:
                rows = await _text_link(session, runtime=runtime, inbound=inbound,
                                        account_id=link.account_id,
                                        amount_cents=link.amount_cents, language=language,
                                        options=options)
                to_send = [r.id for r in rows]
                events = [ReplyRecorded(conversation_id=r.conversation_id, message_id=r.id,
                                        author=r.author, channel=r.channel) for r in rows]
        amount = link.amount_cents
    await _after_commit(runtime, to_send, events)
    return PayResult(paid=False, amount_cents=amount, texted=texted)


async def _can_text(session: AsyncSession, address: str) -> bool:
    return address.startswith("+") and await compliance.may_send(
        session, address=address, purpose="reply")


async def _text_link(session: AsyncSession, *, runtime: Runtime, inbound: Message, account_id: int,
                     amount_cents: int, language: str,
                     options: TwilioVoiceOptions) -> list[Message]:
    """A fresh link for the text (the voice one's URL was never kept anywhere), recorded as
    outbound SMS on the caller's conversation and sent by the SMS sender."""
    settings = runtime.settings
    link = await issue_link(session, account_id=account_id,
                            amount_cents=amount_cents,
                            secret=settings.secret_key.get_secret_value(),
                            base_url=settings.public_base_url, channel="sms")
    text = Templates(settings.templates_dir).render(
        "pay_link", language=language, channel="sms", amount=money(amount_cents), url=link.url,
        minutes=int(DEFAULT_TTL.total_seconds() // 60), utility=settings.utility_name,
        utility_phone=settings.utility_phone).text
    now = utcnow()
    rows = [Message(conversation_id=inbound.conversation_id, direction="outbound",
                    channel="sms", author="bot", sender=options.sms_from or inbound.recipient,
                    recipient=inbound.sender, body=piece, media=[], quick_replies=[],
                    purpose="reply", status="pending", status_rank=status_rank("pending"),
                    reply_to_id=inbound.id, created_at=now, status_at=now)
            for piece in split_message(smart_encode(mask_card_numbers(text)))]
    session.add_all(rows)
    await session.flush()
    return rows


def _voice_line(inbound: Message, text: str) -> Message:
    """What the line says instead, stored like the bot's replies so the transcript is true."""
    now = utcnow()
    return Message(conversation_id=inbound.conversation_id, direction="outbound",
                   channel="voice", author="system", sender=inbound.recipient,
                   recipient=inbound.sender, body=mask_card_numbers(text), media=[],
                   quick_replies=[], purpose="reply", status="held",
                   status_rank=status_rank("held"), reply_to_id=inbound.id, created_at=now,
                   status_at=now)


async def _withdraw(session: AsyncSession, replies: list[Message]) -> None:
    """The bot's words for the text path, never said on this call."""
    ids = [r.id for r in replies if r.channel == "voice"]
    if ids:
        await session.execute(
            update(Message).where(Message.id.in_(ids))
            .values(status="suppressed", status_rank=status_rank("suppressed"),
                    status_at=utcnow())
            .execution_options(synchronize_session=False))


async def _after_commit(runtime: Runtime, to_send: list[int],
                        events: list[ReplyRecorded]) -> None:
    for message_id in to_send:
        await runtime.queue.enqueue(OUTBOUND_STREAM, {"message_id": message_id})
    await publish(runtime, list(events))
