"""Inbound email cost: MIME parsing + cleaning + loop checks per message shape, and the SMTP
listener's answer time (DATA sent → 250, which comes only after the message is stored)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosmtplib

from bench.context import BenchContext
from bench.stats import human, summary_ms

HEADLINE = "p50 ms"
SETUPS = (
    "parsing is in-process (no database, the same in both deployments); SMTP accept runs "
    "embedded (SQLite) and on PostgreSQL, with the app in-process."
)
TITLE = "Inbound email: parse, clean, loop checks; SMTP accept latency"
DESCRIPTION = (
    "Per message shape, the CPU time of `parse_raw` + `clean_body` + `machine_written` on the "
    "test fixtures (real client shapes). Then the whole app on SQLite with the SMTP listener "
    "on: one client sends N distinct messages over one connection; each 250 arrives only "
    "after the message is committed and queued for the bot."
)

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "email"
SHAPES = {
    "Gmail reply (plain + HTML, quote, signature)": "gmail_reply_thread.eml",
    "Outlook reply (windows-1252, footer, header block)": "outlook_reply.eml",
    "HTML-only": "html_only.eml",
    "ISO-2022-JP": "iso2022jp.eml",
    "iPhone, 150 KB photo + PDF + 2 refused": "attachments_photo_pdf.eml",
    "DSN bounce": "dsn_bounce.eml",
}


def _pipeline_cost(raw: bytes, rounds: int) -> list[float]:
    from channels.email.clean import clean_body
    from channels.email.loops import machine_written
    from channels.email.parse import parse_raw

    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        email = parse_raw(raw)
        machine_written(email)
        clean_body(email.body)
        samples.append(time.perf_counter() - started)
    return samples


async def _smtp_accept(ctx: BenchContext, count: int, backend: str) -> dict[str, Any]:
    from core.config import Settings
    from stormdesk.app import create_app
    from stormdesk.wiring import build_runtime

    template = (FIXTURES / "gmail_reply_thread.eml").read_bytes()
    async with ctx.database(backend) as url:
        with tempfile.TemporaryDirectory(prefix="bench_email_") as store:
            settings = Settings(database_url=url, env="test", log_json=False,
                                log_level="WARNING", email_store_dir=Path(store),
                                email_smtp_listen=True, email_smtp_port=0,
                                email_address="help@riverbend.example")
            runtime = await build_runtime(settings)
            app = create_app(settings, runtime=runtime)
            samples: list[float] = []
            try:
                async with app.router.lifespan_context(app):
                    port = runtime.extras["email_channel"].listener_port
                    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
                        for n in range(count):
                            raw = template.replace(b"CAHx8Lq0Qw3r9", f"bench{n:06d}".encode())
                            # Distinct senders: one conversation each, as in a storm.
                            raw = raw.replace(b"Maria.Lopez.Home@gmail.com",
                                              f"customer{n}@mail.example".encode())
                            started = time.perf_counter()
                            await smtp.sendmail(f"customer{n}@mail.example",
                                                ["help@riverbend.example"], raw)
                            samples.append(time.perf_counter() - started)
            finally:
                await runtime.close()
    stats = summary_ms(samples)
    setup = "embedded: SQLite" if backend == "sqlite" else "production: PostgreSQL"
    return {"setup": setup, "case": f"SMTP DATA → 250 (stored), {count} messages",
            "p50 ms": stats["p50"],
            "p99 ms": stats["p99"], "per second": human(count / sum(samples))}


async def run(ctx: BenchContext) -> list[dict[str, Any]]:
    rounds = 50 if ctx.quick else 500
    rows: list[dict[str, Any]] = []
    for label, name in SHAPES.items():
        raw = (FIXTURES / name).read_bytes()
        _pipeline_cost(raw, 3)  # warm
        samples = _pipeline_cost(raw, rounds)
        stats = summary_ms(samples)
        rows.append({"setup": "in-process", "case": label,
                     "p50 ms": stats["p50"], "p99 ms": stats["p99"],
                     "per second": human(len(samples) / sum(samples))})
        ctx.log(f"{label}: p50 {stats['p50']} ms")
    for backend in ("sqlite", "postgresql"):
        rows.append(await _smtp_accept(ctx, 50 if ctx.quick else 500, backend))
    ctx.note("The machine is shared (2 cores, other engineers' jobs running): compare shapes "
             "with each other, not with another run.")
    return rows


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run(BenchContext(name="email", quick=True))), indent=2))
