"""Console sign-in: argon2 passwords, short-lived JWTs, and audited refusals."""

from __future__ import annotations

from console_kit import PASSWORD, console
from fastapi import APIRouter
from sqlalchemy import select

from agent_console.auth import tokens
from core.agents.models import Agent
from core.audit.models import AuditEntry
from core.http import CurrentCaller


async def _refusals(runtime, action_prefix: str = "denied:") -> list[AuditEntry]:
    async with runtime.sessions() as session:
        rows = await session.scalars(select(AuditEntry)
                                     .where(AuditEntry.action.startswith(action_prefix))
                                     .order_by(AuditEntry.id))
        return list(rows)


async def test_login_issues_a_short_lived_token_and_stores_only_an_argon2_hash(db_url) -> None:
    async with console(db_url, token_ttl_s=300) as c:
        await c.agent("amy")
        async with c.runtime.sessions() as session:
            stored = await session.scalar(select(Agent).where(Agent.username == "amy"))
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash

        response = await c.http.post("/api/v1/agent/login",
                                     json={"username": "AMY", "password": PASSWORD})
        assert response.status_code == 200
        body = response.json()
        caller, expires = tokens.verify(
            body["token"], secret_key=c.runtime.settings.secret_key.get_secret_value())
        assert caller.agent_id == stored.id and caller.role == "agent"
        assert expires == body["expires_at"]

        state = await c.http.get("/api/v1/agent/state",
                                 headers={"Authorization": f"Bearer {body['token']}"})
        assert state.status_code == 200
        assert state.json()["agent"]["username"] == "amy"


async def test_wrong_password_and_unknown_user_look_the_same_and_are_audited(db_url) -> None:
    async with console(db_url) as c:
        await c.agent("amy")
        wrong = await c.http.post("/api/v1/agent/login",
                                  json={"username": "amy", "password": "not-the-password"})
        unknown = await c.http.post("/api/v1/agent/login",
                                    json={"username": "zed", "password": PASSWORD})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["message"] == unknown.json()["message"]
        audited = await _refusals(c.runtime)
        assert [(a.action, a.entity_id) for a in audited] == [
            ("denied:login", "amy"), ("denied:login", "zed")]


async def test_no_token_and_expired_token_are_refused_and_audited(db_url) -> None:
    async with console(db_url) as c:
        agent = await c.agent("amy")
        missing = await c.http.get("/api/v1/agent/state")
        assert missing.status_code == 401

        secret = c.runtime.settings.secret_key.get_secret_value()
        stale = tokens.issue(agent, secret_key=secret, ttl_s=60, now=1_000_000.0).token
        expired = await c.http.get("/api/v1/agent/state",
                                   headers={"Authorization": f"Bearer {stale}"})
        assert expired.status_code == 401 and expired.json()["message"] == "token expired"

        forged = tokens.issue(agent, secret_key="someone-elses-secret-key", ttl_s=60).token
        bad = await c.http.get("/api/v1/agent/state", headers={"Authorization": f"Bearer {forged}"})
        assert bad.status_code == 401 and bad.json()["message"] == "invalid token"

        reasons = [(a.actor_role, a.action, a.reason) for a in await _refusals(c.runtime)]
        assert reasons == [
            ("none", "denied:GET /api/v1/agent/state", "a console token is required"),
            ("none", "denied:GET /api/v1/agent/state", "token expired"),
            ("none", "denied:GET /api/v1/agent/state", "invalid token"),
        ]


async def test_agent_calling_a_supervisor_action_is_refused_and_audited(db_url) -> None:
    async with console(db_url) as c:
        await c.agent("amy")
        await c.agent("sue", role="supervisor")
        await c.login("amy")
        await c.login("sue")
        for method, path, body in [
            ("GET", "/api/v1/supervisor/overview", None),
            ("POST", "/api/v1/supervisor/storm", {"on": True, "message": "ice storm"}),
        ]:
            refused = await c.http.request(method, path, json=body, headers=c.auth("amy"))
            assert refused.status_code == 403, refused.text
        allowed = await c.http.get("/api/v1/supervisor/overview", headers=c.auth("sue"))
        assert allowed.status_code == 200
        assert [a["username"] for a in allowed.json()["agents"]] == ["amy", "sue"]
        audited = await _refusals(c.runtime)
        assert [(a.actor, a.actor_role, a.action) for a in audited] == [
            ("agent:amy", "agent", "denied:GET /api/v1/supervisor/overview"),
            ("agent:amy", "agent", "denied:POST /api/v1/supervisor/storm"),
        ]
        storm = await c.http.get("/api/v1/supervisor/storm", headers=c.auth("sue"))
        assert storm.json()["on"] is False


async def test_core_bearer_guard_accepts_console_jwts(db_url) -> None:
    """Other domains' endpoints (core.http.CurrentCaller) know who an agent is."""
    probe = APIRouter()

    @probe.get("/probe/whoami")
    async def whoami(caller: CurrentCaller) -> dict[str, object]:
        return {"name": caller.name, "role": caller.role.value, "agent_id": caller.agent_id}

    async with console(db_url) as c:
        c.app.include_router(probe)
        agent = await c.agent("amy")
        await c.login("amy")
        response = await c.http.get("/probe/whoami", headers=c.auth("amy"))
        assert response.json() == {"name": "agent:amy", "role": "agent", "agent_id": agent.id}
