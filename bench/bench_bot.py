"""The bot's cost per tier and end to end, against Rasa's own REST channel on the same machine in
the same run: whether the bot answers fast enough, and what choosing Rasa costs a utility."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import yaml

from bench.stats import percentile

if TYPE_CHECKING:
    import aiohttp

    from bench.context import BenchContext

HEADLINE = ("msg/s", "p50 ms")
SETUPS = (
    "the bot turn per NLU tier is in-process on a seeded SQLite utility (no server; the bot "
    "is the same code in both deployments); "
    "the SMS webhook rows run the embedded setup (SQLite, workers in-process) against Rasa's "
    "REST channel, because Rasa serves from one process too. The production webhook is the "
    "`sms` benchmark's; repeating it here per NLU tier would add ~4 min per run."
)
TITLE = "Bot: reply latency per NLU tier, webhook messages/s, and Rasa's own REST channel"
DESCRIPTION = (
    "Three measurements in one run on one machine. **Reply latency**: the whole bot "
    "(`BotResponder.respond`, as `stormdesk/wiring.py` builds it) answering the first text of a "
    "conversation on a seeded demo utility (SQLite), one turn at a time, per NLU tier: keyword "
    "commands, held-out utterances (`bot/rasa/tests/heldout_nlu.yml`) decided by the embedded "
    "classifier, and the same utterances decided by a Rasa server over HTTP (`RASA_URL`). "
    "**Webhook**: N concurrent senders post Twilio-signed `POST /channels/twilio/sms` to "
    "`stormdesk serve` (embedded setup: SQLite, workers in-process), every text from a seeded "
    "customer's phone, the held-out utterances in a fixed shuffled order; once with the "
    "embedded engine, once with `RASA_URL` pointing at a Rasa 3.6 server serving the NLU model "
    "trained from `bot/rasa/`. **Rasa REST**: the same senders and texts posted to Rasa 3.6's "
    "own `POST /webhooks/rest/webhook`, serving a full model (same NLU pipeline and data, plus "
    "one static `utter_<intent>` response and one rule per intent, RulePolicy only) trained in a "
    "scratch copy of `bot/rasa/`: Rasa's best case, with no database, no identity look-up and "
    "no business logic. Load generator (aiohttp), servers and Rasa share the same 2 cores."
)

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "bot" / "rasa"
AUTH_TOKEN = "bench-bot-auth-token"
ACCOUNT_SID = "AC" + "b0" * 16
UTILITY = "+15045550100"
SMS_PATH = "/channels/twilio/sms"
REST_PATH = "/webhooks/rest/webhook"
LEVELS = (8, 32)
LATENCY_CUSTOMERS = 40
COLUMNS = ("measure", "setup", "senders", "messages", "msg/s", "p50 ms", "p99 ms", "errors",
           "replies/msg", "reply inline", "bot failures", "NLU fallbacks", "msg/s ÷ Rasa REST",
           "p50 ÷ Rasa REST", "load avg")
# The pipeline's answer when the bot raised (core/conversations/flows.py `_fail_over`).
FAIL_OVER_REPLY = "Sorry, we could not process that."
# First texts of a conversation that the SMS keyword grammar decides (carrier words excluded:
# the pipeline answers those, not the bot).
KEYWORD_TEXTS = ("OUT", "out", "STAT", "stauts", "BAL", "balence", "PAY", "PAY $50", "AGENT",
                 "agnet", "HELP", "hlep", "NICK Lake House", "REG 100000019 70112", "saldo")


@dataclass(frozen=True)
class Caller:
    customer_id: int
    phone: str
    conversation_id: int = 0


@dataclass
class Plan:
    """Sizes for a full run or a --quick smoke run."""

    customers: int
    seconds: float
    warmup: float
    latency_samples: int
    latency_cap_s: float


FULL = Plan(customers=10_000, seconds=25.0, warmup=5.0, latency_samples=700, latency_cap_s=25.0)
QUICK = Plan(customers=800, seconds=4.0, warmup=2.0, latency_samples=60, latency_cap_s=4.0)


def _tooling() -> ModuleType:
    """scripts/rasa_model.py (venv, NLU model cache, Rasa's quiet env), loaded as the tests do."""
    if "rasa_model" in sys.modules:
        return sys.modules["rasa_model"]
    spec = importlib.util.spec_from_file_location("rasa_model", ROOT / "scripts" / "rasa_model.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["rasa_model"] = module
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    """A port the OS says is free, so parallel runs and other engineers' servers never clash."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def heldout_texts() -> list[str]:
    """The held-out utterances in one fixed shuffled order, so every setup gets the same mix."""
    from bot.nlu.training_data import HELDOUT_FILE, load_examples

    texts = [example.text for example in load_examples(HELDOUT_FILE)]
    random.Random(7).shuffle(texts)
    return texts


# ---------------------------------------------------------------- the full Rasa model (peer)

def full_project(scratch: Path) -> Path:
    """A scratch copy of bot/rasa made a complete assistant: a static response and a rule per
    intent, RulePolicy, the REST channel. Never written inside the repository."""
    work = scratch / "full"
    shutil.copytree(PROJECT, work, ignore=shutil.ignore_patterns("tests", "models", ".rasa"))
    domain = yaml.safe_load((work / "domain.yml").read_text(encoding="utf-8"))
    intents = [str(intent) for intent in domain["intents"]]
    domain["responses"] = {
        f"utter_{intent}": [{"text": f"Thanks, we got your message ({intent.replace('_', ' ')})."}]
        for intent in intents
    }
    (work / "domain.yml").write_text(yaml.safe_dump(domain, sort_keys=False, allow_unicode=True))
    rules = [{"rule": f"answer {intent}", "steps": [{"intent": intent},
                                                     {"action": f"utter_{intent}"}]}
             for intent in intents]
    # Rasa's FallbackClassifier answers nlu_fallback below its threshold: give it a reply too.
    rules.append({"rule": "answer nlu_fallback", "steps": [{"intent": "nlu_fallback"},
                                                           {"action": "utter_out_of_scope"}]})
    (work / "data" / "rules.yml").write_text(
        yaml.safe_dump({"version": "3.1", "rules": rules}, sort_keys=False))
    config = yaml.safe_load((work / "config.yml").read_text(encoding="utf-8"))
    config["policies"] = [{"name": "RulePolicy"}]
    (work / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (work / "credentials.yml").write_text("rest:\n")
    return work


def train_full(venv: Path, work: Path, *, timeout: float = 2400) -> tuple[Path, float]:
    """`rasa train` on the scratch project, cached by content hash beside the NLU models."""
    tooling = _tooling()
    digest = hashlib.sha256(b"full\0" + tooling.rasa_version(venv).encode())
    for path in [work / "config.yml", work / "domain.yml", *sorted((work / "data").rglob("*.yml"))]:
        digest.update(str(path.relative_to(work)).encode() + b"\0" + path.read_bytes() + b"\0")
    name = f"full-{digest.hexdigest()[:16]}"
    cached = Path(tooling.CACHE) / f"{name}.tar.gz"
    if cached.exists():
        return cached, 0.0
    cached.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [str(venv / "bin" / "rasa"), "train", "--out", str(work / "models"),
         "--fixed-model-name", name],
        cwd=work, env={**os.environ, **tooling.QUIET_ENV}, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    model = work / "models" / f"{name}.tar.gz"
    if proc.returncode != 0 or not model.exists():
        raise RuntimeError(f"rasa train failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    partial = cached.with_suffix(".partial")
    shutil.copyfile(model, partial)
    partial.replace(cached)  # a concurrent reader never sees half a model
    return cached, time.perf_counter() - started


# ---------------------------------------------------------------- child processes

@contextlib.asynccontextmanager
async def _process(command: Sequence[str], *, env: dict[str, str], cwd: Path,
                   log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """A server child with its output in a file (a pipe nobody reads can stall a chatty child)."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(*command, cwd=cwd, env=env, stdout=out,
                                                    stderr=subprocess.STDOUT,
                                                    start_new_session=True)
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(30):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _wait_ready(base: str, path: str, proc: asyncio.subprocess.Process, log: Path, *,
                      timeout_s: float = 300.0,
                      check: Callable[[Any], bool] | None = None) -> None:
    """Poll until the server answers 200 (and `check` accepts the JSON); fail if it dies."""
    import aiohttp

    async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as client:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"{base} exited with {proc.returncode}:\n"
                                   f"{log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError, ValueError):
                async with client.get(base + path) as response:
                    if response.status == 200 and (check is None or check(await response.json())):
                        return
            await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def rasa_server(venv: Path, model: Path, workdir: Path, *,
                      credentials: Path | None = None) -> AsyncIterator[str]:
    """`rasa run --enable-api` on a free port (with a channel file for the REST channel)."""
    port = _free_port()
    command = [str(venv / "bin" / "rasa"), "run", "--enable-api", "-m", str(model), "-p",
               str(port), "-i", "127.0.0.1"]
    if credentials is not None:
        command += ["--credentials", str(credentials)]
    log = workdir / f"rasa-{port}.log"
    async with _process(command, env={**os.environ, **_tooling().QUIET_ENV}, cwd=workdir,
                        log=log) as proc:
        base = f"http://127.0.0.1:{port}"
        await _wait_ready(base, "/status", proc, log,
                          check=lambda status: bool(status.get("model_file")))
        yield base


def fake_twilio() -> Any:
    """uvicorn --factory target: the Messages API stand-in for replies that miss the inline
    budget, so nothing leaves the machine."""
    from integrations.twilio.fake_api import FakeTwilio

    return FakeTwilio().app()


@contextlib.asynccontextmanager
async def stormdesk_server(db_url: str, workdir: Path, *,
                           rasa_url: str | None = None) -> AsyncIterator[tuple[str, Path]]:
    """`stormdesk serve` (embedded setup) on the seeded database, replies to a fake Twilio."""
    python = sys.executable
    port, fake_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "TWILIO_API_BASE", "RASA_URL")}
    env.update({"STORMDESK_ENV": "test", "STORMDESK_LOG_LEVEL": "WARNING",
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "PYTHONPATH": str(ROOT), "PUBLIC_BASE_URL": base,
                "DATABASE_URL": db_url.replace("sqlite+aiosqlite", "sqlite"),
                "TWILIO_API_BASE": f"http://127.0.0.1:{fake_port}"})
    if rasa_url:
        env["RASA_URL"] = rasa_url
    fake_log, log = workdir / f"fake-twilio-{fake_port}.log", workdir / f"stormdesk-{port}.log"
    async with (
        _process([python, "-m", "uvicorn", "bench.bench_bot:fake_twilio", "--factory",
                  "--port", str(fake_port), "--log-level", "warning", "--no-access-log"],
                 env=env, cwd=ROOT, log=fake_log),
        _process([python, "-m", "stormdesk", "serve", "--port", str(port)], env=env, cwd=ROOT,
                 log=log) as proc,
    ):
        await _wait_ready(base, "/readyz", proc, log)
        yield base, log


# ---------------------------------------------------------------- the seeded utility

async def seed(db_url: str, customers: int) -> list[Caller]:
    """The demo utility; one phone per customer (a phone no other customer shares), in order."""
    from sqlalchemy import select

    from core.clock import today
    from core.customers.models import Contact
    from core.db import make_engine
    from core.demo.generator import SeedOptions, seed_demo_utility

    engine = make_engine(db_url)
    try:
        await seed_demo_utility(engine, SeedOptions(customers=customers, seed=11, months=6,
                                                    as_of=today()))
        async with engine.connect() as conn:
            rows = (await conn.execute(select(Contact.customer_id, Contact.value).where(
                Contact.kind == "phone").order_by(Contact.customer_id, Contact.id))).all()
    finally:
        await engine.dispose()
    owners: dict[str, set[int]] = {}
    for customer_id, phone in rows:
        owners.setdefault(phone, set()).add(customer_id)
    seen: set[int] = set()
    callers = []
    for customer_id, phone in rows:
        if len(owners[phone]) == 1 and customer_id not in seen:
            seen.add(customer_id)
            callers.append(Caller(customer_id, phone))
    return callers


async def open_conversations(db_url: str, callers: Sequence[Caller]) -> list[Caller]:
    """One open bot-owned SMS conversation per caller, as the pipeline would have opened it."""
    from core.conversations.models import Conversation
    from core.db import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = [Conversation(customer_id=c.customer_id, channel="sms", address=c.phone,
                                 owner="bot", open_key=f"customer:{c.customer_id}",
                                 language="en", bot_state={}) for c in callers]
            session.add_all(rows)
            await session.commit()
            return [Caller(c.customer_id, c.phone, row.id) for c, row in zip(callers, rows,
                                                                            strict=True)]
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- 1. reply latency per tier

def _fallback_count() -> float:
    """This process's Rasa fallbacks so far: a Rasa-tier sample the embedded engine decided."""
    from prometheus_client import REGISTRY

    return sum(REGISTRY.get_sample_value("stormdesk_nlu_fallback_total", {"reason": reason}) or 0.0
               for reason in ("timeout", "error", "circuit_open"))


async def reply_latency(db_url: str, callers: Sequence[Caller], texts: Sequence[str], *,
                        rasa_url: str | None, plan: Plan) -> dict[str, Any]:
    """Time BotResponder.respond on first turns; each turn's writes are rolled back, so every
    sample starts from the same seeded state."""
    from core.config import Settings
    from core.conversations.schemas import Turn
    from stormdesk.wiring import build_runtime

    settings = Settings(database_url=db_url, env="test", log_json=False, rasa_url=rasa_url,
                        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                        public_base_url="http://127.0.0.1")
    runtime = await build_runtime(settings)
    responder = runtime.extras["responder"]

    async def turn(index: int, text: str) -> tuple[float, int]:
        caller = callers[index % len(callers)]
        async with runtime.sessions() as session:
            pipeline_turn = Turn(conversation_id=caller.conversation_id, message_id=0,
                                 channel="sms", address=caller.phone,
                                 customer_id=caller.customer_id, owner="bot", language="en",
                                 text=text, state={})
            began = time.perf_counter()
            outcome = await responder.respond(session, pipeline_turn)
            elapsed = time.perf_counter() - began
            await session.rollback()
        return elapsed, len(outcome.replies)

    samples: list[float] = []
    replies = 0
    try:
        for index, text in enumerate(texts[:10]):  # warm: classifier training, caches, pools
            await turn(index, text)
        before = _fallback_count()
        deadline = time.perf_counter() + plan.latency_cap_s
        index = 0
        while len(samples) < plan.latency_samples and time.perf_counter() < deadline:
            elapsed, count = await turn(index, texts[index % len(texts)])
            samples.append(elapsed)
            replies += count
            index += 1
        fallbacks = _fallback_count() - before
    finally:
        await responder.bot.nlu.aclose()
        await runtime.close()
    return {
        "turns": len(samples),
        "p50 ms": round(percentile(samples, 0.50) * 1000, 2) if samples else "-",
        "p99 ms": round(percentile(samples, 0.99) * 1000, 2) if samples else "-",
        "replies/msg": round(replies / len(samples), 2) if samples else 0,
        "NLU fallbacks": int(fallbacks) if rasa_url else "-",
    }


# ---------------------------------------------------------------- 2./3. load

Send = Callable[["aiohttp.ClientSession", int], Awaitable[tuple[bool, int]]]


async def drive(send: Send, *, senders: int, plan: Plan) -> dict[str, Any]:
    """`senders` clients, each sending its next text when the previous one was answered;
    answers (and failures) that arrive inside the measured window, after the warm-up, count."""
    import aiohttp

    loop = asyncio.get_running_loop()
    start = loop.time() + plan.warmup
    stop = start + plan.seconds
    samples: list[float] = []
    inline = errors = sent = 0
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=senders),
                                     timeout=timeout) as client:
        async def sender() -> None:
            nonlocal inline, errors, sent
            while loop.time() < stop:
                k = sent
                sent += 1
                began = loop.time()
                try:
                    ok, replies = await send(client, k)
                except (aiohttp.ClientError, TimeoutError):
                    ok, replies = False, 0
                ended = loop.time()
                if not start <= ended <= stop:
                    continue
                if not ok:
                    errors += 1
                    continue
                samples.append(ended - began)
                inline += replies

        await asyncio.gather(*(sender() for _ in range(senders)))
    return {
        "senders": senders,
        "messages": len(samples),
        "msg/s": round(len(samples) / plan.seconds, 1),
        "p50 ms": round(percentile(samples, 0.50) * 1000, 1) if samples else "-",
        "p99 ms": round(percentile(samples, 0.99) * 1000, 1) if samples else "-",
        "errors": errors,
        "_sent": sent,
        "_inline": inline,
    }


def webhook_sender(base: str, tag: int, phones: Sequence[str], texts: Sequence[str]) -> Send:
    """Message k: a Twilio-signed SMS from phones[k] (a new conversation while phones last)."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(AUTH_TOKEN)
    url = base + SMS_PATH

    async def send(client: aiohttp.ClientSession, k: int) -> tuple[bool, int]:
        sid = f"SMbb{tag:02d}{k:028x}"
        payload = {"ToCountry": "US", "ToState": "LA", "SmsMessageSid": sid, "NumMedia": "0",
                   "SmsSid": sid, "SmsStatus": "received", "Body": texts[k % len(texts)],
                   "FromCountry": "US", "To": UTILITY, "NumSegments": "1", "MessageSid": sid,
                   "AccountSid": ACCOUNT_SID, "From": phones[k % len(phones)],
                   "ApiVersion": "2010-04-01"}
        headers = {"X-Twilio-Signature": validator.compute_signature(url, payload)}
        async with client.post(url, data=payload, headers=headers) as response:
            body = await response.text()
        return response.status == 200, body.count("<Message")

    return send


def rest_sender(base: str, tag: int, texts: Sequence[str]) -> Send:
    """Message k to Rasa's REST channel from its own sender id (a new tracker, like a new
    conversation on the Stormdesk side)."""
    url = base + REST_PATH

    async def send(client: aiohttp.ClientSession, k: int) -> tuple[bool, int]:
        async with client.post(url, json={"sender": f"bench-{tag}-{k}",
                                          "message": texts[k % len(texts)]}) as response:
            answers = await response.json() if response.status == 200 else []
        return response.status == 200, sum(1 for answer in answers if answer.get("text"))

    return send


async def stored_replies(db_url: str, tag: int, *, timeout_s: float = 90.0) -> dict[str, int]:
    """Once every inbound text of this setup is handled: how many replies the pipeline stored."""
    from sqlalchemy import func, select

    from core.conversations.models import Message
    from core.db import make_engine

    inbound = select(Message.id).where(Message.direction == "inbound",
                                       Message.external_id.like(f"SMbb{tag:02d}%"))
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            deadline = time.monotonic() + timeout_s
            while True:
                total = await conn.scalar(select(func.count()).select_from(inbound.subquery()))
                handled = await conn.scalar(select(func.count()).select_from(
                    inbound.where(Message.handled_at.is_not(None)).subquery()))
                if handled == total or time.monotonic() > deadline:
                    break
                await conn.rollback()  # a fresh snapshot for the next look
                await asyncio.sleep(0.5)
            replies = select(func.count()).select_from(Message).where(
                Message.direction == "outbound", Message.reply_to_id.in_(inbound))
            stored = await conn.scalar(replies)
            failed = await conn.scalar(replies.where(Message.body.startswith(FAIL_OVER_REPLY)))
    finally:
        await engine.dispose()
    return {"inbound": int(total or 0), "handled": int(handled or 0),
            "replies": int(stored or 0), "failed": int(failed or 0)}


async def server_fallbacks(base: str) -> float:
    """stormdesk_nlu_fallback_total from the server's /metrics (Rasa answers it could not use)."""
    import aiohttp

    async with aiohttp.ClientSession() as client, client.get(base + "/metrics") as response:
        text = await response.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("stormdesk_nlu_fallback_total{"))


def _pool_timeouts(log: Path) -> int:
    """Connection-pool exhaustion errors the server has logged so far."""
    return log.read_text(errors="replace").count("QueuePool limit")


def _load() -> float:
    return round(os.getloadavg()[0], 1)


async def webhook_rows(ctx: BenchContext, db_url: str, workdir: Path, slices: list[list[str]],
                       texts: Sequence[str], plan: Plan, *, setup: str, first_tag: int,
                       rasa_url: str | None) -> list[dict[str, Any]]:
    """One server, every concurrency level: throughput, latency, stored replies, fallbacks."""
    rows = []
    async with stormdesk_server(db_url, workdir, rasa_url=rasa_url) as (base, log):
        for offset, senders in enumerate(LEVELS):
            tag = first_tag + offset
            phones = slices[tag - 1]
            ctx.log(f"{setup}, {senders} senders")
            fallbacks_before = await server_fallbacks(base)
            pool_before = _pool_timeouts(log)
            result = await drive(webhook_sender(base, tag, phones, texts), senders=senders,
                                 plan=plan)
            load = _load()
            stored = await stored_replies(db_url, tag)
            fallbacks = await server_fallbacks(base) - fallbacks_before
            sent = result.pop("_sent")
            inline = result.pop("_inline")
            if sent > len(phones):
                ctx.note(f"{setup}, {senders} senders: {sent} texts from {len(phones)} phones, "
                         "so some texts were a second turn of a conversation")
            rows.append({
                "measure": "SMS webhook, end to end", "setup": setup, **result,
                "replies/msg": round(stored["replies"] / stored["handled"], 2)
                if stored["handled"] else 0,
                "reply inline": f"{100 * inline / max(1, result['messages']):.0f}%",
                "bot failures": stored["failed"],
                "NLU fallbacks": int(fallbacks) if rasa_url else "-",
                "load avg": load,
            })
            pool_timeouts = _pool_timeouts(log) - pool_before
            if pool_timeouts:
                ctx.note(f"{setup}, {senders} senders: the server logged {pool_timeouts} "
                         "SQLAlchemy `QueuePool limit ... timeout 30.00` errors (no free "
                         "database connection for 30 s): webhooks that hit one answered 500, "
                         "handlers that hit one failed over to a person (`bot failures`).")
            if stored["handled"] != stored["inbound"]:
                ctx.note(f"{setup}, {senders} senders: only {stored['handled']} of "
                         f"{stored['inbound']} texts were handled 90 s after the run")
    return rows


# ---------------------------------------------------------------- the run

async def run(ctx: BenchContext) -> list[dict[str, Any]]:
    plan = QUICK if ctx.quick else FULL
    tooling = _tooling()
    texts = heldout_texts()
    from bot.nlu.keywords import parse_keyword

    keyword_texts = [t for t in KEYWORD_TEXTS if (m := parse_keyword(t)) and not m.carrier]
    classifier_texts = [t for t in texts if parse_keyword(t) is None]
    ctx.note(f"Load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} "
             f"(1/5/15 min) on {os.cpu_count()} cores; the `load avg` column is the 1-minute "
             "figure at the end of each measured window.")

    with tempfile.TemporaryDirectory(prefix="stormdesk-bench-bot-") as scratch_name:
        scratch = Path(scratch_name)
        venv = await asyncio.to_thread(tooling.ensure_env)
        ctx.log("NLU model (cached by content hash)")
        nlu_model, nlu_train_s = await asyncio.to_thread(tooling.train, venv)
        work = full_project(scratch)
        ctx.log("full Rasa model (cached by content hash; training takes minutes)")
        full_model, full_train_s = await asyncio.to_thread(train_full, venv, work)
        ctx.note(f"Rasa models: NLU `{nlu_model.name}` "
                 f"({'from cache' if not nlu_train_s else f'trained in {nlu_train_s:.0f} s'}), "
                 f"full `{full_model.name}` "
                 f"({'from cache' if not full_train_s else f'trained in {full_train_s:.0f} s'}); "
                 "both under ~/.cache/stormdesk/rasa-models, keyed by a hash of Rasa's version "
                 "and the training files.")
        rows: list[dict[str, Any]] = []
        async with ctx.database("sqlite") as db_url:
            ctx.log(f"seeding {plan.customers} customers")
            callers = await seed(db_url, plan.customers)
            latency_callers = await open_conversations(db_url, callers[:LATENCY_CUSTOMERS])
            pool = [c.phone for c in callers[LATENCY_CUSTOMERS:]]
            share = len(pool) // 4
            slices = [pool[i * share:(i + 1) * share] for i in range(4)]

            async with rasa_server(venv, nlu_model, scratch) as nlu_url:
                for tier, tier_texts, url in (("keyword commands", keyword_texts, None),
                                              ("embedded classifier", classifier_texts, None),
                                              ("Rasa NLU over HTTP", classifier_texts, nlu_url)):
                    ctx.log(f"reply latency: {tier}")
                    stats = await reply_latency(db_url, latency_callers, tier_texts,
                                                rasa_url=url, plan=plan)
                    rows.append({"measure": "bot reply latency, one turn at a time",
                                 "setup": tier, "senders": 1, "messages": stats["turns"],
                                 "p50 ms": stats["p50 ms"], "p99 ms": stats["p99 ms"],
                                 "replies/msg": stats["replies/msg"],
                                 "NLU fallbacks": stats["NLU fallbacks"], "load avg": _load()})
                rows += await webhook_rows(ctx, db_url, scratch, slices, texts, plan,
                                           setup="Stormdesk, embedded NLU", first_tag=1,
                                           rasa_url=None)
                rows += await webhook_rows(ctx, db_url, scratch, slices, texts, plan,
                                           setup="Stormdesk, Rasa NLU (RASA_URL)", first_tag=3,
                                           rasa_url=nlu_url)

        async with rasa_server(venv, full_model, work,
                               credentials=work / "credentials.yml") as rest_url:
            for offset, senders in enumerate(LEVELS):
                ctx.log(f"Rasa REST channel, {senders} senders")
                result = await drive(rest_sender(rest_url, 10 + offset, texts),
                                     senders=senders, plan=plan)
                load = _load()
                replies = result.pop("_inline")
                result.pop("_sent")
                rows.append({"measure": "Rasa REST channel (peer)",
                             "setup": "Rasa 3.6 full model, RulePolicy + 1 response/intent",
                             **result,
                             "replies/msg": round(replies / result["messages"], 2)
                             if result["messages"] else 0,
                             "reply inline": "100%", "NLU fallbacks": "-", "load avg": load})

    _add_ratios(rows)
    _explain(ctx, plan)
    _where_time_goes(ctx, rows)
    return [{column: row.get(column, "") for column in COLUMNS} for row in rows]


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """Stormdesk webhook msg/s over Rasa REST msg/s at the same concurrency: the headline."""
    peer = {row["senders"]: row for row in rows if row["measure"].startswith("Rasa REST")}
    for row in rows:
        base = peer.get(row.get("senders"))
        if not (row["measure"].startswith("SMS webhook") and base and base["msg/s"]):
            continue
        row["msg/s ÷ Rasa REST"] = f"{row['msg/s'] / base['msg/s']:.2f}×"
        both = isinstance(row["p50 ms"], float) and isinstance(base["p50 ms"], float)
        row["p50 ÷ Rasa REST"] = f"{row['p50 ms'] / base['p50 ms']:.2f}×" if both else "-"


def _where_time_goes(ctx: BenchContext, rows: list[dict[str, Any]]) -> None:
    """Put the bot's own turn beside the webhook's answer time, from this run's rows."""
    turn = next((r for r in rows if r["setup"] == "embedded classifier"), None)
    hook = next((r for r in rows if r["setup"] == "Stormdesk, embedded NLU"
                 and r["senders"] == LEVELS[0]), None)
    if not (turn and hook and isinstance(turn["p50 ms"], float)
            and isinstance(hook["p50 ms"], float) and hook["p50 ms"]):
        return
    ctx.note(f"Where the time goes: the bot's own turn (embedded tier, p50 {turn['p50 ms']} ms) "
             f"is {turn['p50 ms'] / hook['p50 ms']:.0%} of the webhook's p50 at "
             f"{LEVELS[0]} senders ({hook['p50 ms']:.0f} ms). The rest is the pipeline around "
             "the bot (the text and the reply stored in their own SQLite transactions, the "
             "in-process queue and conversation lock, the inline hand-back) and waiting for "
             "the shared cores, so the gap to Rasa's REST channel, which stores nothing, is "
             "in the pipeline rather than in the bot.")


def _explain(ctx: BenchContext, plan: Plan) -> None:
    """How to read each number: what is inside it and what is not."""
    ctx.note("How to read **bot reply latency**: wall time of one `BotResponder.respond` call "
             "(the bot wired as in production: NLU, flow, core look-ups, reply templates, the "
             "console's queue estimate on hand-offs) on a seeded demo utility (SQLite), first "
             "turn of an open conversation, one turn at a time. Included: NLU (keyword grammar "
             "first; then the embedded classifier, or Rasa's `/model/parse` over local HTTP), "
             "the flow's database reads and writes (flushed, then rolled back so every turn "
             "starts alike). Not included: the webhook, signature check, storing the message, "
             "the conversation lock, the commit. *keyword commands*: OUT, STAT, BAL, PAY, "
             "AGENT, HELP, REG, NICK and typos; *embedded* and *Rasa*: the held-out utterances "
             "the keyword grammar does not claim, so the named tier decides each one.")
    ctx.note("How to read **SMS webhook, end to end**: messages/s = webhook answers per second "
             f"inside a {plan.seconds:.0f} s window after {plan.warmup:.0f} s of warm-up; p50/p99 "
             "= a sender's wait from request to TwiML answer, which includes signature check, "
             "storing the text, identity look-up, the bot's turn under the conversation lock "
             "(in-process worker), storing the reply and rendering it as TwiML. Each text "
             "comes from a different seeded customer's phone (a new conversation), the held-out "
             "utterances in order. `replies/msg` counts the replies the pipeline stored per "
             "handled text (read from the database after the run); `reply inline` is the share "
             "carried in the TwiML answer; the rest went by REST to a local fake Twilio (the "
             "2 s inline budget). `bot failures` are texts whose handler raised, so the pipeline "
             "stored its apology and queued the conversation for a person. `errors` are "
             "webhook answers other than 200 (Twilio would retry those). `NLU fallbacks` are texts Rasa did not answer in its 1.5 s "
             "timeout (or the breaker was open), so the embedded engine decided them: "
             "when it is non-zero, part of the Rasa row is the embedded engine's work.")
    ctx.note("How to read **Rasa REST channel**: the same senders and texts posted to "
             "`/webhooks/rest/webhook` of one `rasa run` process (in-memory tracker and lock "
             "stores, no action server), a new sender id per text; latency is request to JSON "
             "answer, `replies/msg` counts the texts in the answers. It does no signature "
             "check, stores nothing durable, looks nobody up and runs no flow: a floor for any "
             "Rasa-based bot, not an equivalent of the Stormdesk rows.")
    ctx.note("How to read the **ratios**: Stormdesk webhook msg/s (or p50) divided by Rasa "
             "REST's at the same number of senders; above 1× means Stormdesk moved more "
             "messages per second (or waited longer, for p50).")
    ctx.note("All processes share 2 cores with the load generator and with other engineers' "
             "jobs; single runs are noisy (±20% or worse), compare rows of the same run.")
