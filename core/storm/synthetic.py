"""A synthetic utility sized for storm drills: N customers, one premise and one electric meter
each, in tidy feeders and transformers, with the contact mix a storm meets (WhatsApp and
voice preferences, emails, no-alert contacts, STOPs, numbers shared by two households).

Deterministic by customer index, so a test can say who must hear about an outage without
asking the SQL under test. Written with the demo generator's bulk writer (COPY on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from core.demo.rows import Batch, Ids
from core.demo.writer import RowWriter, last_ids

OPENED = date(2024, 1, 1)
SINCE = datetime(2024, 1, 1, 12, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Household:
    """The contact rules of customer number `i` (0-based inside the synthetic utility)."""

    i: int
    # Of every ten households, how many keep their phone subscribed to outage alerts (before
    # the one in ten who never subscribed): 10 means 90%, 5 about 45% (a storm-time share).
    subscribed_tenths: int = 10

    @property
    def phone(self) -> str:
        n = self.i - 1 if self.shares_phone else self.i
        return f"+1{700 + (n // 10**7) % 200}{n % 10**7:07d}"

    @property
    def shares_phone(self) -> bool:
        return self.i % 100 == 99  # the number is also on the previous customer's account

    @property
    def opted_out(self) -> bool:
        return self.i % 50 == 7

    @property
    def alerts(self) -> bool:
        return self.i % 10 != 3 and (self.i // 10) % 10 < self.subscribed_tenths

    @property
    def channel(self) -> str:
        return {11: "whatsapp", 5: "voice"}.get(self.i % 20, "sms")

    @property
    def email(self) -> str | None:
        return f"storm{self.i}@example.net" if self.i % 25 == 4 else None

    @property
    def language(self) -> str:
        return "es" if self.i % 7 == 0 else "en"

    def addresses(self) -> set[str]:
        """Where this household's outage notices must go (and nowhere else)."""
        found: set[str] = set()
        if self.alerts and not self.opted_out:
            found.add(f"whatsapp:{self.phone}" if self.channel == "whatsapp" else self.phone)
        if self.email:
            found.add(self.email)
        return found


@dataclass
class SyntheticUtility:
    customers: int
    per_transformer: int
    per_feeder: int
    tag: str
    subscribed_tenths: int = 10
    first_customer_id: int = 0
    feeder_ids: list[int] = field(default_factory=list)
    transformer_ids: list[int] = field(default_factory=list)
    premise_ids: list[int] = field(default_factory=list)  # by customer index
    substation_ids: list[int] = field(default_factory=list)

    def households_on(self, feeder_ids: Iterable[int]) -> list[Household]:
        wanted = set(feeder_ids)
        return [Household(i, self.subscribed_tenths) for i in range(self.customers)
                if self.feeder_ids[i // self.per_feeder] in wanted]

    def expected_addresses(self, feeder_ids: Iterable[int]) -> set[str]:
        found: set[str] = set()
        for household in self.households_on(feeder_ids):
            found |= household.addresses()
        return found

    def premises_on(self, feeder_id: int) -> list[int]:
        index = self.feeder_ids.index(feeder_id)
        return self.premise_ids[index * self.per_feeder:(index + 1) * self.per_feeder]


async def build_synthetic_utility(
    engine: AsyncEngine, *, customers: int, per_transformer: int = 8, per_feeder: int = 1000,
    feeders_per_substation: int = 10, tag: str = "SYN", chunk: int = 20_000,
    subscribed_tenths: int = 10, on_progress: Callable[[int], None] | None = None,
) -> SyntheticUtility:
    if per_feeder % per_transformer:
        raise ValueError("per_feeder must be a multiple of per_transformer")
    ids = Ids(await last_ids(engine))
    writer = RowWriter(engine)
    utility = SyntheticUtility(customers=customers, per_transformer=per_transformer,
                               per_feeder=per_feeder, tag=tag,
                               subscribed_tenths=subscribed_tenths)
    batch = Batch()
    for i in range(customers):
        if i % (per_feeder * feeders_per_substation) == 0:
            substation = ids.next("substations")
            utility.substation_ids.append(substation)
            batch.add("substations", {"id": substation, "code": f"{tag}-S{substation}",
                                      "name": f"{tag} substation {substation}"})
        if i % per_feeder == 0:
            feeder = ids.next("feeders")
            utility.feeder_ids.append(feeder)
            batch.add("feeders", {"id": feeder, "code": f"{tag}-F{feeder}",
                                  "substation_id": utility.substation_ids[-1]})
        if i % per_transformer == 0:
            transformer = ids.next("transformers")
            utility.transformer_ids.append(transformer)
            batch.add("transformers", {"id": transformer, "code": f"{tag}-T{transformer}",
                                       "feeder_id": utility.feeder_ids[-1]})
        _add_household(batch, ids, Household(i, subscribed_tenths), utility)
        if (i + 1) % chunk == 0 or i + 1 == customers:
            await writer.write(batch)
            if on_progress is not None:
                on_progress(len(batch.rows.get("customers", [])))
            batch.clear()
    await writer.finish(ids)
    return utility


def _add_household(batch: Batch, ids: Ids, household: Household,
                   utility: SyntheticUtility) -> None:
    i = household.i
    customer_id = ids.next("customers")
    account_id = ids.next("accounts")
    premise_id = ids.next("premises")
    utility.premise_ids.append(premise_id)
    batch.add("customers", {"id": customer_id, "kind": "person", "first_name": "Storm",
                            "last_name": f"Household {i}", "language": household.language,
                            "mailing_zip": "70001", "created_at": SINCE})
    batch.add("accounts", {"id": account_id, "number": f"{utility.tag}{account_id:012d}",
                           "customer_id": customer_id, "kind": "residential",
                           "status": "active", "opened_on": OPENED, "credit_rating": "none",
                           "cash_only": False, "energy_assistance": False,
                           "collection_stage": "none", "disconnect_pending": False,
                           "created_at": SINCE})
    batch.add("contacts", {"id": ids.next("contacts"), "customer_id": customer_id,
                           "kind": "phone", "value": household.phone, "is_primary": True,
                           "language": household.language,
                           "preferred_channel": household.channel,
                           "outage_alerts": household.alerts,
                           "consent_at": SINCE if household.alerts else None,
                           "verified_at": SINCE, "created_at": SINCE})
    if household.email:
        batch.add("contacts", {"id": ids.next("contacts"), "customer_id": customer_id,
                               "kind": "email", "value": household.email, "is_primary": False,
                               "language": household.language, "preferred_channel": "email",
                               "outage_alerts": True, "consent_at": SINCE,
                               "verified_at": SINCE, "created_at": SINCE})
    if household.opted_out:
        batch.add("opt_outs", {"id": ids.next("opt_outs"), "address": household.phone,
                               "opted_out": True, "keyword": "STOP", "changed_at": SINCE})
    batch.add("premises", {"id": premise_id, "account_id": account_id, "kind": "residential",
                           "address": f"{100 + i % 900} {utility.tag} Storm Way",
                           "unit": None, "city": "Riverbend", "state": "LA", "zip": "70001",
                           "nickname": None})
    batch.add("service_points", {"id": ids.next("service_points"), "premise_id": premise_id,
                                 "service_kind": "electric",
                                 "meter_number": f"{utility.tag}M{premise_id:010d}",
                                 "smart_meter": True,
                                 "transformer_id": utility.transformer_ids[-1]})
