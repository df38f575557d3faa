"""The production setup a drill runs on, the phones that text it, and the tally.

Everything is started here and nothing shared is touched: a scratch PostgreSQL database on
the local server (reached through a proxy the drill can cut), a Redis server of its own on a
spare port (so restarting it disturbs nobody), the fake Twilio Messages API, API processes
and two workers. Counts come from the database and from what the fake Twilio accepted, never
from the drill's own bookkeeping alone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from twilio.request_validator import RequestValidator

from channels.twilio_sms.options import STATUS_PATH as REPLY_STATUS_PATH
from chaos.blackout import Blackout

ROOT = Path(__file__).resolve().parents[1]
AUTH_TOKEN = "chaos-auth-token"
ACCOUNT_SID = "AC" + "c4" * 16
UTILITY = "+15045550100"
SENDERS = ["24700", "24701", "24702", "24703"]  # short codes for notices, 100/s each
CUSTOMERS = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phone(i: int) -> str:
    return f"+1504666{i % CUSTOMERS:04d}"


@dataclass
class Row:
    """One drill's verdict line."""

    fault: str
    messages_in: int = 0
    replies_out: int = 0
    notices_sent: int = 0
    lost: int = 0
    doubled: int = 0
    seconds: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.doubled == 0


class Setup:
    """PostgreSQL (behind a proxy) + own Redis + fake Twilio + API processes + two workers."""

    def __init__(self, name: str, *, apis: int = 1, workers: int = 2,
                 fake_args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.name = name
        self.tmp = Path(tempfile.mkdtemp(prefix=f"chaos_{name}_"))
        # Each process's output, kept after the drill (last run only) for the post-mortem.
        self.logs = ROOT / "var" / "chaos" / name
        shutil.rmtree(self.logs, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.proxy = Blackout("127.0.0.1", 5432)  # cut to make PostgreSQL vanish
        self.redis_port = free_port()
        self.fake_port = free_port()
        self.api_ports = [free_port() for _ in range(apis)]
        self.worker_count = workers
        self.fake_args = fake_args
        self.extra_env = env or {}
        self.database = f"chaos_{name}_{os.getpid()}"
        self.redis: subprocess.Popen[bytes] | None = None
        self.fake: subprocess.Popen[bytes] | None = None
        self.apis: dict[int, subprocess.Popen[bytes]] = {}
        self.workers: list[subprocess.Popen[bytes]] = []

    # -- urls ------------------------------------------------------------------------------
    @property
    def direct_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.database}"

    @property
    def proxied_url(self) -> str:
        return self.proxy.via(self.direct_url)

    @property
    def fake_base(self) -> str:
        return f"http://127.0.0.1:{self.fake_port}"

    def base(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "TWILIO_API_BASE", "RASA_URL")}
        env.update({
            "DATABASE_URL": self.proxied_url, "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "TWILIO_API_BASE": self.fake_base, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "STORMDESK_ENV": "test",
            "STORMDESK_LOG_JSON": "false", "STORMDESK_LOG_LEVEL": "WARNING",
            # Every API process signs for the same public URL, as behind one load balancer.
            "PUBLIC_BASE_URL": "https://chaos.stormdesk.example",
            "STORMDESK_NOTICE_SMS_FROM": ",".join(SENDERS),
            "STORMDESK_NOTICE_STALE_CLAIM_S": "10", "STORMDESK_NOTICE_RETRY_AFTER_S": "1",
            "STORMDESK_EMAIL_STORE_DIR": str(self.tmp / "email"),
            "STORMDESK_STORM_EVALUATE_EVERY_S": "3600", "PYTHONPATH": str(ROOT),
        })
        env.update(self.extra_env)
        return env

    # -- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        from bench.bench_sms import _seed
        from stormdesk.migrate import upgrade

        await _admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        await _admin(f'CREATE DATABASE "{self.database}"')
        await asyncio.to_thread(upgrade, self.direct_url)
        await _seed(self.direct_url)
        await self.proxy.start()
        self.start_redis()
        self.fake = self._spawn("fake", [sys.executable, "-m", "integrations.fake_twilio",
                                         "--port", str(self.fake_port), *self.fake_args])
        await _until(lambda: _get_ok(self.fake_base + "/_fake/stats"), 30, "fake Twilio")
        for port in self.api_ports:
            self.start_api(port)
        for _ in range(self.worker_count):
            self.start_worker()
        for port in self.api_ports:
            await self.wait_api(port)

    def _spawn(self, tag: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{tag}.log").open("ab")
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_redis(self) -> None:
        # Append-only with fsync on every write: a Redis that restarts keeps its streams, the
        # way a production Redis holding durable queues must be configured.
        data = self.tmp / "redis"
        data.mkdir(exist_ok=True)
        self.redis = self._spawn("redis", [
            shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--dir", str(data)])
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.redis_port), timeout=0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def start_api(self, port: int) -> None:
        self.apis[port] = self._spawn(f"api{port}", [
            sys.executable, "-m", "stormdesk", "serve", "--port", str(port)])

    def start_worker(self) -> None:
        self.workers.append(self._spawn(f"worker{len(self.workers)}", [
            sys.executable, "-m", "stormdesk", "worker"]))

    async def wait_api(self, port: int) -> None:
        await _until(lambda: _get_ok(self.base(port) + "/readyz"), 180, f"API on {port}")
        # Until a text gets its reply (inline, or by REST where the inline budget is 0): the
        # workers are consuming.
        phones = Phones(self, [port])
        for attempt in range(2000):
            reply = await phones.post_once(phone(CUSTOMERS - 1), "HELP", f"SMwarm{port}{attempt}")
            if reply is not None and "<Message" in reply:
                return
            if any(m["to"] == phone(CUSTOMERS - 1) for m in await self.accepted()):
                return
            await asyncio.sleep(0.1 if attempt < 20 else 1.0)
        raise RuntimeError("the pipeline never answered")

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL: no shutdown, no acks, requests cut off mid-flight."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    async def stop(self) -> None:
        procs = [*self.apis.values(), *self.workers]
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                await asyncio.to_thread(p.wait, 20)
            except subprocess.TimeoutExpired:
                self.kill(p)
        for p in (self.fake, self.redis):
            if p is not None and p.poll() is None:
                self.kill(p)
        await self.proxy.stop()
        with contextlib.suppress(Exception):
            await _admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- what the fake Twilio took ---------------------------------------------------------
    async def accepted(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=60) as http:
            return (await http.get(self.fake_base + "/_fake/messages")).json()["messages"]

    async def configure_fake(self, **config: Any) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await http.post(self.fake_base + "/_fake/config", json=config)


class Phones:
    """Customers texting the utility through Twilio: each message signed as Twilio signs it,
    and retried with the same MessageSid on a 5xx or a broken connection, as Twilio does."""

    def __init__(self, setup: Setup, ports: list[int]) -> None:
        self.setup = setup
        self.ports = ports
        self.validator = RequestValidator(AUTH_TOKEN)
        self.acked: set[str] = set()  # MessageSids that got a 2xx
        self.inline: Counter[int] = Counter()  # reply id -> times it rode a TwiML answer
        self.statuses: Counter[int] = Counter()
        self.retries = 0

    def _payload(self, sender: str, body: str, sid: str) -> dict[str, str]:
        return {"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
                "SmsStatus": "received", "Body": body, "FromCountry": "US", "To": UTILITY,
                "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID,
                "From": sender, "ApiVersion": "2010-04-01"}

    async def post_once(self, sender: str, body: str, sid: str, *, port: int | None = None,
                        client: httpx.AsyncClient | None = None) -> str | None:
        """The TwiML answer, or None for a 5xx / no answer."""
        payload = self._payload(sender, body, sid)
        url = "https://chaos.stormdesk.example/channels/twilio/sms"
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, payload)}
        target = self.setup.base(port or self.ports[0]) + "/channels/twilio/sms"
        own = client is None
        http = client or httpx.AsyncClient(timeout=15)
        try:
            response = await http.post(target, data=payload, headers=headers)
        except httpx.HTTPError:
            return None
        finally:
            if own:
                await http.aclose()
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            return None
        return response.text

    async def text(self, client: httpx.AsyncClient, sender: str, body: str, sid: str,
                   start: int, deadline: float) -> None:
        """Deliver until a 2xx (Twilio gives up after a while; so do we, at `deadline`)."""
        attempt = 0
        while time.monotonic() < deadline:
            port = self.ports[(start + attempt) % len(self.ports)]
            answer = await self.post_once(sender, body, sid, port=port, client=client)
            if answer is not None:
                self.acked.add(sid)
                for message in ET.fromstring(answer).findall("Message"):
                    reply_id = _m(message.get("action"))
                    if reply_id is not None:
                        self.inline[reply_id] += 1
                return
            attempt += 1
            self.retries += 1
            await asyncio.sleep(min(2.0, 0.25 * attempt))

    async def run(self, *, senders: int, per_sender: int, tag: str,
                  during: Callable[[], Awaitable[None]] | None = None,
                  give_up_s: float = 120.0, pace_s: float = 0.1) -> None:
        """`senders` phones, each texting at least `per_sender` messages in turn, `pace_s`
        apart, and on until `during` (the fault and its healing) is over: the load spans the
        whole outage, whatever the machine's speed."""
        deadline = time.monotonic() + give_up_s
        fault_over = asyncio.Event()

        async def one(i: int) -> None:
            async with httpx.AsyncClient(timeout=15) as client:
                n = 0
                while n < per_sender or not fault_over.is_set():
                    body = "STAT" if n % 2 else "hi"
                    await self.text(client, phone(i), body, f"SM{tag}{i:05d}{n:05d}", i + n,
                                    deadline)
                    n += 1
                    await asyncio.sleep(pace_s)

        async def fault() -> None:
            try:
                if during is not None:
                    await during()
            finally:
                fault_over.set()

        await asyncio.gather(fault(), *(one(i) for i in range(senders)))


def _m(url: str | None) -> int | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("m")
    return int(values[0]) if values else None


async def tally_messages(setup: Setup, phones: Phones, *, sid_prefix: str,
                         settle_s: float = 60.0) -> tuple[int, int, int, int, str]:
    """(messages in, replies out, lost, doubled, detail) for the texts the phones sent.

    In: every MessageSid that got a 2xx is stored exactly once. Out: every stored reply to
    them reached the customer exactly once — inline in a TwiML answer or through the REST
    API — unless it was suppressed (opt-out) on purpose."""
    from sqlalchemy import select

    from core.conversations.models import Message
    from core.db import make_engine, make_sessionmaker

    engine = make_engine(setup.direct_url)
    sessions = make_sessionmaker(engine)
    try:
        deadline = time.monotonic() + settle_s
        while True:
            async with sessions() as session:
                inbound = (await session.execute(
                    select(Message.id, Message.external_id, Message.handled_at)
                    .where(Message.direction == "inbound",
                           Message.external_id.like(f"SM{sid_prefix}%")))).all()
                ids = [row.id for row in inbound]
                replies = (await session.execute(
                    select(Message.id, Message.reply_to_id, Message.status)
                    .where(Message.reply_to_id.in_(ids)))).all() if ids else []
            accepted = await setup.accepted()
            # Replies only: a notice's callback carries `?m=` too, but a notice id, on its own
            # path (counting those would match notice ids to reply ids).
            rest: Counter[int] = Counter(
                m for m in (_m(a.get("callback")) for a in accepted
                            if urlsplit(a.get("callback") or "").path == REPLY_STATUS_PATH)
                if m is not None)
            wanted = [r for r in replies if r.status != "suppressed"]
            delivered = {r.id for r in wanted if phones.inline[r.id] + rest[r.id] >= 1}
            unhandled = [row for row in inbound if row.handled_at is None]
            if (len(delivered) == len(wanted) and not unhandled) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        stored = Counter(row.external_id for row in inbound)
        acked = {sid for sid in phones.acked if sid.startswith(f"SM{sid_prefix}")}
        lost_in = len(acked - set(stored))
        doubled_in = sum(n - 1 for n in stored.values() if n > 1)
        answered = {r.reply_to_id for r in replies}
        no_reply = [row.id for row in inbound if row.id not in answered]
        lost_out = (len(wanted) - len(delivered)) + len(no_reply)
        doubled_out = sum(phones.inline[r.id] + rest[r.id] - 1 for r in wanted
                          if phones.inline[r.id] + rest[r.id] > 1)
        inline = sum(1 for r in wanted if phones.inline[r.id])
        detail = (f"{len(acked)} texts acked, {phones.retries} client retries, "
                  f"{inline} replies inline, {len(wanted) - inline} by REST, "
                  f"HTTP {dict(sorted(phones.statuses.items()))}")
        # What became of what was lost, so a failed run names the path that dropped it.
        undelivered = Counter(r.status for r in wanted if r.id not in delivered)
        if undelivered or no_reply or unhandled:
            detail += (f"; lost: {len(unhandled)} never handled, {len(no_reply)} handled "
                       f"without a reply, undelivered replies by status "
                       f"{dict(sorted(undelivered.items()))}")
        return (len(acked), len(delivered), lost_in + lost_out, doubled_in + doubled_out,
                detail)
    finally:
        await engine.dispose()


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _get_ok(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up in {timeout_s:.0f} s")
        await asyncio.sleep(0.2)


def kind_of(body: str) -> str:
    text = body.lower()
    if "restored" in text or "restableci" in text:
        return "restoration"
    if "new estimate" in text or "nueva hora" in text:
        return "etr"
    return "initial"

