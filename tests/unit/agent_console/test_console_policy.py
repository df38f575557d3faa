"""Pure routing and rendering rules: who gets an offer, queue priority, canned placeholders,
and the console's tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent_console.auth import tokens
from agent_console.canned import render
from agent_console.routing.offers import _Candidate, pick_agent
from core.agents.models import Agent, QueueEntry
from core.agents.policy import Skill, entry_priority, parse_skill
from core.errors import Unauthorized

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _agent(agent_id: int, *, idle_min: int, skills: tuple[str, ...] = ("billing",),
           presence: str = "available", sms: int = 2) -> Agent:
    return Agent(id=agent_id, username=f"a{agent_id}", role="agent", skills=list(skills),
                 capacity={"sms": sms}, presence=presence,
                 idle_since=NOW - timedelta(minutes=idle_min))


def _entry(*, skill: str = "billing", passed: tuple[int, ...] = (), target: int | None = None,
           waited_s: int = 10) -> QueueEntry:
    return QueueEntry(id=1, conversation_id=1, skill=skill, channel="sms", priority=0,
                      enqueued_at=NOW - timedelta(seconds=waited_s),
                      passed_agent_ids=list(passed), target_agent_id=target)


def test_longest_idle_least_loaded_eligible_agent_wins() -> None:
    candidates = [
        _Candidate(_agent(1, idle_min=5), {}),
        _Candidate(_agent(2, idle_min=50), {"sms": 1}),  # idle longer but already busy
        _Candidate(_agent(3, idle_min=30), {}),
        _Candidate(_agent(4, idle_min=90, skills=("outage",)), {}),
        _Candidate(_agent(5, idle_min=99, presence="away"), {}),
        _Candidate(_agent(6, idle_min=80, sms=0), {}),  # no sms capacity at all
    ]
    chosen = pick_agent(_entry(), candidates, now=NOW, overflow_after_s=300)
    assert chosen is not None and chosen.agent.id == 3


def test_agents_who_passed_are_skipped_until_everyone_has() -> None:
    candidates = [_Candidate(_agent(1, idle_min=5), {}), _Candidate(_agent(2, idle_min=50), {})]
    assert pick_agent(_entry(passed=(2,)), candidates, now=NOW,
                      overflow_after_s=300).agent.id == 1  # type: ignore[union-attr]
    assert pick_agent(_entry(passed=(1, 2)), candidates, now=NOW,
                      overflow_after_s=300).agent.id == 2  # type: ignore[union-attr]


def test_overflow_lets_any_skill_take_a_long_wait_and_transfers_go_to_the_named_agent() -> None:
    outage_only = [_Candidate(_agent(7, idle_min=5, skills=("outage",)), {})]
    assert pick_agent(_entry(waited_s=10), outage_only, now=NOW, overflow_after_s=300) is None
    assert pick_agent(_entry(waited_s=400), outage_only, now=NOW,
                      overflow_after_s=300) is not None
    busy_named = [_Candidate(_agent(8, idle_min=1, presence="busy"), {}),
                  _Candidate(_agent(9, idle_min=60), {})]
    chosen = pick_agent(_entry(target=8), busy_named, now=NOW, overflow_after_s=300)
    assert chosen is not None and chosen.agent.id == 8
    assert pick_agent(_entry(target=8, passed=(8,)), busy_named, now=NOW,
                      overflow_after_s=300) is None


def test_queue_priority_puts_emergencies_first_and_unknown_skills_in_billing() -> None:
    assert entry_priority(Skill.EMERGENCY, 0) > entry_priority(Skill.COLLECTIONS, 50)
    assert entry_priority(Skill.BILLING, 500) == entry_priority(Skill.BILLING, 99)
    assert parse_skill("general") is Skill.BILLING and parse_skill("outage") is Skill.OUTAGE


def test_canned_placeholders_fill_known_keep_unknown_and_survive_stray_braces() -> None:
    values = {"customer_name": "Ngozi", "balance": "$12.00"}
    assert render("Hi {customer_name}, you owe {balance} by {due_date}.", values) == \
        "Hi Ngozi, you owe $12.00 by {due_date}."
    assert render("use { and } freely", values) == "use { and } freely"


def test_tokens_carry_the_agent_and_expire() -> None:
    agent = Agent(id=42, username="amy", role="supervisor")
    issued = tokens.issue(agent, secret_key="k" * 32, ttl_s=60, now=1_000_000)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.verify(issued.token, secret_key="k" * 32)
    fresh = tokens.issue(agent, secret_key="k" * 32, ttl_s=60)
    caller, _ = tokens.verify(fresh.token, secret_key="k" * 32)
    assert (caller.agent_id, caller.role, caller.name) == (42, "supervisor", "agent:amy")
    with pytest.raises(Unauthorized, match="invalid"):
        tokens.verify(fresh.token, secret_key="another-secret")
    operations = Agent(id=1, username="ops", role="operations")
    with pytest.raises(Unauthorized):
        tokens.verify(tokens.issue(operations, secret_key="k" * 32, ttl_s=60).token,
                      secret_key="k" * 32)
