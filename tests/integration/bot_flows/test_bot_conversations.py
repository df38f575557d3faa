"""Every bot flow, driven as a customer would: signed texts into the real SMS webhook."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from core.accounts.models import Account
from core.arrangements.models import Arrangement
from core.audit.models import AuditEntry
from core.clock import utcnow
from core.conversations.models import Message
from core.customers.models import Contact
from core.outages import service as outages
from core.outages.enums import Device, DeviceKind
from core.outages.models import Outage, OutageReport
from core.premises.models import Premise, ServicePoint
from core.service_orders.models import ServiceOrder
from tests.bot_helpers import Phone, persona, seeded_utility

STRANGER = "+12255550188"


async def _premises(harness, account_number: str) -> list[Premise]:
    async with harness.runtime.sessions() as session:
        return list(await session.scalars(
            select(Premise).join(Account, Premise.account_id == Account.id)
            .where(Account.number == account_number).order_by(Premise.id)))


async def _zip(harness, key: str) -> str:
    return (await _premises(harness, persona(key).account_number))[0].zip[:5]


async def test_outage_report_asks_about_hazards_first_then_files_and_cancels(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        (question,) = await dana.text("OUT")
        assert "downed wire" in question
        (filed,) = await dana.text("no")
        assert "reported" in filed and re.search(r"ref R\d+", filed)
        premise = (await _premises(harness, persona("resident").account_number))[0]
        assert premise.address in filed  # a known caller sees their own address
        assert await harness.count(OutageReport, OutageReport.premise_id == premise.id,
                                   OutageReport.cancelled_at.is_(None)) == 1
        # Texting OUT again does not open a second ticket.
        await dana.text("OUT")
        (again,) = await dana.text("no")
        assert "already reported" in again
        (cancelled,) = await dana.text("OUT CANCEL")
        assert "report is closed" in cancelled
        assert await harness.count(OutageReport, OutageReport.premise_id == premise.id,
                                   OutageReport.cancelled_at.is_(None)) == 0


async def test_landlord_picks_a_premise_by_number_or_nickname(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        robert = Phone(harness, persona("landlord").phone)
        premises = await _premises(harness, persona("landlord").account_number)
        assert len(premises) == 3
        await robert.text("OUT")
        (listing,) = await robert.text("no")
        assert "1)" in listing and "3)" in listing and "Maple duplex" in listing
        (filed,) = await robert.text("2")
        assert premises[1].address in filed
        await robert.text("OUT")
        await robert.text("no")
        (filed,) = await robert.text("cedar rental")
        assert premises[2].address in filed


async def test_report_inside_a_known_outage_gets_its_etr_not_a_ticket(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        premise = (await _premises(harness, persona("resident").account_number))[0]
        async with harness.runtime.sessions() as session:
            transformer_id = await session.scalar(select(ServicePoint.transformer_id).where(
                ServicePoint.premise_id == premise.id,
                ServicePoint.transformer_id.is_not(None)))
            change = await outages.confirm_outage(session, device=Device(DeviceKind.TRANSFORMER, transformer_id),
                                                  cause="storm damage")
            await outages.set_etr(session, outage_id=change.outage.id,
                                  etr=utcnow() + timedelta(hours=3))
            await session.commit()
        dana = Phone(harness, persona("resident").phone)
        await dana.text("my power is out")
        (known,) = await dana.text("no")
        assert "We know about the outage" in known and "storm damage" in known
        assert "Estimated restoration" in known and "being assessed" not in known
        (status,) = await dana.text("STAT")
        assert "confirmed" in status and "storm damage" in status


async def test_hazard_gets_safety_text_and_priority_person(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        replies = await dana.text("there's a power line down on my street and it's sparking")
        assert "35 feet" in replies[0]
        conversation = await dana.conversation()
        assert conversation.owner == "queued" and conversation.skill == "emergency"
        assert conversation.priority == 10
        gas = Phone(harness, persona("spanish").phone)
        (text_es,) = (await gas.text("huele a gas en mi casa"))[:1]
        assert "SALGA" in text_es


async def test_balance_only_after_verification(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        tanya = Phone(harness, persona("past_due").phone)
        (ask,) = await tanya.text("BAL")
        assert "account number" in ask and "$" not in ask
        zip_code = await _zip(harness, "past_due")
        (balance,) = await tanya.text(f"{zip_code} Brooks")
        assert "balance $" in balance and "Past due: $" in balance
        assert persona("past_due").account_number[-4:] in balance


async def test_wrong_zip_three_times_locks_and_is_audited(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        tanya = Phone(harness, persona("past_due").phone)
        await tanya.text("how much do I owe")
        first = await tanya.text("99999 Brooks")
        second = await tanya.text("99998 Brooks")
        third = await tanya.text("99997 Brooks")
        assert "2 tries left" in first[0] and "1 tries left" in second[0]
        assert "can't share account details" in third[0]
        for reply in first + second + third:
            assert "$" not in reply
        assert await harness.count(AuditEntry, AuditEntry.action == "verification_failed") == 3
        # Even the right answer is refused now.
        zip_code = await _zip(harness, "past_due")
        replies = await tanya.text("BAL")
        assert all("$" not in r for r in replies)
        assert zip_code  # the lock does not depend on what is typed


async def test_unknown_number_learns_nothing(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        stranger = Phone(harness, STRANGER)
        (ask,) = await stranger.text("BAL")
        assert "account number" in ask
        # An account number alone is not enough from a number we don't know.
        (refused,) = await stranger.text(persona("resident").account_number)
        assert "doesn't match" in refused and "$" not in refused
        await stranger.text("OUT")
        (unknown,) = await stranger.text("no")
        assert "couldn't find an account" in unknown


async def test_pay_sends_a_single_use_link_and_masks_a_typed_card(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        tanya = Phone(harness, persona("past_due").phone)
        (link,) = await tanya.text("PAY")
        assert re.search(r"https://stormdesk\.example\.org/pay/\S+", link)
        replies = await tanya.text("here is my card 4111 1111 1111 1111 exp 12/29")
        assert "never send a card number" in replies[0]
        assert "/pay/" in replies[1]
        stored = await harness.messages(Message.direction == "inbound")
        assert not any("4111 1111 1111 1111" in m.body for m in stored)
        assert any("•••• •••• •••• 1111" in m.body for m in stored)


async def test_arrangement_offered_accepted_and_created(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        tanya = Phone(harness, persona("past_due").phone)
        (ask,) = await tanya.text("can I split my payment")
        assert "account number" in ask
        (offer,) = await tanya.text(persona("past_due").account_number)
        assert "plan" in offer and "YES" in offer
        (done,) = await tanya.text("yes")
        assert "payment plan is set" in done
        assert await harness.count(Arrangement) >= 1


async def test_arrangement_refused_when_policy_says_no(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        jasmine = Phone(harness, persona("broken_arrangement").phone)
        await jasmine.text("I need more time to pay")
        before = await harness.count(Arrangement)
        (refused,) = await jasmine.text(persona("broken_arrangement").account_number)
        assert "can't set up a payment plan" in refused
        assert await harness.count(Arrangement) == before


async def test_customer_changes_their_mind_mid_flow(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        await dana.text("BAL")
        (hazard,) = await dana.text("actually never mind, my power just went out")
        assert "downed wire" in hazard


async def test_customer_switches_to_spanish(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        (english,) = await dana.text("hello")
        assert "Hi" in english
        (spanish,) = await dana.text("hola, no tengo luz en mi casa")
        assert "cable caído" in spanish


async def test_two_misunderstandings_then_a_person(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        (first,) = await dana.text("purple monkey dishwasher")
        assert "HELP" in first and (await dana.conversation()).owner == "bot"
        replies = await dana.text("zxq blorf wibble")
        assert any("number 1 in line" in r or "in line" in r for r in replies)
        assert (await dana.conversation()).owner == "queued"


async def test_agent_any_time_and_quiet_bot_while_queued(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        await dana.text("BAL")
        replies = await dana.text("let me talk to a real person")
        assert any("in line" in r for r in replies)
        conversation = await dana.conversation()
        assert conversation.owner == "queued"
        assert conversation.handoff["summary"]["intent"] == "balance"
        (waiting,) = await dana.text("hello?")
        assert "in line" in waiting


async def test_stop_service_creates_the_order_with_a_final_bill(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        await dana.text("I'm moving out, please stop my service")
        zip_code = await _zip(harness, "resident")
        (when,) = await dana.text(f"{zip_code} Whitfield")
        assert "What date" in when
        (confirm,) = await dana.text("2030-01-15")
        assert "2030-01-15" in confirm and "YES" in confirm
        (created,) = await dana.text("yes")
        assert "request is in" in created and "final bill" in created
        assert await harness.count(ServiceOrder, ServiceOrder.kind == "stop") == 1


async def test_reg_links_a_new_phone_after_address_confirmation(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        stranger = Phone(harness, STRANGER)
        await stranger.text("REG")
        zip_code = await _zip(harness, "resident")
        (confirm,) = await stranger.text(f"{persona('resident').account_number} {zip_code}")
        assert "Reply Y" in confirm
        (linked,) = await stranger.text("Y")
        assert "linked" in linked
        assert await harness.count(Contact, Contact.value == STRANGER) == 1
        # Now the new phone is known: OUT finds the premise without asking who they are.
        await stranger.text("OUT")
        (filed,) = await stranger.text("no")
        assert "reported" in filed


async def test_billing_question_explains_the_last_bill(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        await dana.text("why is my bill so high")
        zip_code = await _zip(harness, "resident")
        (explained,) = await dana.text(f"{zip_code} Whitfield")
        assert "last bill" in explained and "kWh" in explained


async def test_nickname_a_premise(db_url: str) -> None:
    async with seeded_utility(db_url) as harness:
        dana = Phone(harness, persona("resident").phone)
        (saved,) = await dana.text("NICK cabin")
        assert '"cabin"' in saved
        premise = (await _premises(harness, persona("resident").account_number))[0]
        assert premise.nickname == "cabin"


async def test_outage_counts_roll_up_from_texts(db_url: str) -> None:
    """Two customers under one transformer texting OUT predict that transformer."""
    async with seeded_utility(db_url, customers=60) as harness:
        async with harness.runtime.sessions() as session:
            rows = (await session.execute(
                select(ServicePoint.transformer_id, func.count())
                .where(ServicePoint.transformer_id.is_not(None))
                .group_by(ServicePoint.transformer_id).having(func.count() >= 3))).all()
            transformer_id = rows[0][0]
            phones = list(await session.scalars(
                select(Contact.value).join(Account, Account.customer_id == Contact.customer_id)
                .join(Premise, Premise.account_id == Account.id)
                .join(ServicePoint, ServicePoint.premise_id == Premise.id)
                .where(ServicePoint.transformer_id == transformer_id, Contact.kind == "phone")
                .distinct()))
            single = set(await session.scalars(
                select(Contact.value).join(Account, Account.customer_id == Contact.customer_id)
                .join(Premise, Premise.account_id == Account.id)
                .group_by(Contact.value).having(func.count(Premise.id) == 1)))
        reporters = [number for number in phones if number in single][:2]
        assert len(reporters) == 2
        for number in reporters:
            phone = Phone(harness, number)
            await phone.text("OUT")
            (filed,) = await phone.text("no")
            assert "reported" in filed or "know about" in filed
        assert await harness.count(Outage, Outage.device_kind == "transformer",
                                   Outage.device_id == transformer_id) == 1
