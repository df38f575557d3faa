"""`stormdesk storm …`: look at and switch storm mode, and replay a storm against a running
Stormdesk (a drill: pick feeders of the seeded utility, fire last-gasp reports and OUT texts,
then confirm, set and move the ETR, and restore, watching the notices go out)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

storm_app = typer.Typer(no_args_is_help=True, help="Storm mode and storm drills")
console = Console(stderr=True)

URL = typer.Option("http://127.0.0.1:8000", envvar="STORMDESK_URL", help="a running Stormdesk")
TOKEN = typer.Option(..., envvar="STORMDESK_TOKEN",
                     help="a bearer token (supervisor or admin; `stormdesk token create`)")


def _client(url: str, token: str) -> Any:
    import httpx

    return httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30.0,
                             headers={"Authorization": f"Bearer {token}"})


@storm_app.command("status")
def status(url: str = URL, token: str = TOKEN) -> None:
    """Show storm mode and the report rate."""

    async def run() -> dict[str, Any]:
        async with _client(url, token) as http:
            response = await http.get("/api/v1/storm")
            response.raise_for_status()
            return response.json()

    state = asyncio.run(run())
    console.print(f"storm mode [bold]{'ON' if state['active'] else 'off'}[/bold] "
                  f"({state['source']}, auto={state['auto']}); "
                  f"{state['reports_last_minute']} reports in the last minute "
                  f"(on at {state['on_rpm']:g}, off at {state['off_rpm']:g})")


def _switch(url: str, token: str, *, active: bool, message: str | None, auto: bool | None) -> None:
    async def run() -> dict[str, Any]:
        async with _client(url, token) as http:
            response = await http.put("/api/v1/storm", json={
                "active": active, "message": message, "auto": auto, "reason": "cli"})
            response.raise_for_status()
            return response.json()

    state = asyncio.run(run())
    console.print(f"storm mode is now [bold]{'ON' if state['active'] else 'off'}[/bold]")


@storm_app.command("on")
def storm_on(url: str = URL, token: str = TOKEN,
             message: str = typer.Option(None, help="what callers hear first"),
             hold: bool = typer.Option(False, help="keep it on: no automatic switching")) -> None:
    """Switch storm mode on (audited under the token's name)."""
    _switch(url, token, active=True, message=message, auto=False if hold else None)


@storm_app.command("off")
def storm_off(url: str = URL, token: str = TOKEN,
              hold: bool = typer.Option(False, help="keep it off: no automatic switching")) -> None:
    """Switch storm mode off."""
    _switch(url, token, active=False, message=None, auto=False if hold else None)


# -- the drill ---------------------------------------------------------------------------


@dataclass
class Drill:
    feeders: list[tuple[int, str]] = field(default_factory=list)  # (id, code)
    meters: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    customers: int = 0


async def _pick(feeders: int, share: float, texts: int, seed: int) -> Drill:
    """Read the seeded utility (read-only) for feeders to knock out and who will call."""
    from sqlalchemy import func, select

    from core.accounts.models import Account
    from core.config import get_settings
    from core.customers.models import Contact
    from core.db import make_engine
    from core.network.models import Feeder, Transformer
    from core.premises.models import Premise, ServicePoint

    rng = random.Random(seed)
    engine = make_engine(get_settings().effective_database_url)
    drill = Drill()
    try:
        async with engine.connect() as conn:
            sizes = (await conn.execute(
                select(Feeder.id, Feeder.code, func.count(ServicePoint.id))
                .join(Transformer, Transformer.feeder_id == Feeder.id)
                .join(ServicePoint, ServicePoint.transformer_id == Transformer.id)
                .group_by(Feeder.id, Feeder.code).order_by(func.count(ServicePoint.id).desc())
                .limit(feeders * 3))).all()
            if not sizes:
                raise typer.BadParameter("no network: seed the demo utility first "
                                         "(`stormdesk seed`)")
            picked = rng.sample(list(sizes), min(feeders, len(sizes)))
            drill.feeders = [(fid, code) for fid, code, _ in picked]
            drill.customers = sum(n for _, _, n in picked)
            ids = [fid for fid, _ in drill.feeders]
            under = (select(ServicePoint.meter_number, ServicePoint.smart_meter, Premise.account_id)
                     .join(Transformer, Transformer.id == ServicePoint.transformer_id)
                     .join(Premise, Premise.id == ServicePoint.premise_id)
                     .where(Transformer.feeder_id.in_(ids)))
            rows = (await conn.execute(under)).all()
            smart = [m for m, is_smart, _ in rows if is_smart]
            drill.meters = rng.sample(smart, int(len(smart) * share))
            accounts = [a for _, _, a in rows if a is not None]
            phones = (await conn.execute(
                select(Contact.value).join(Account, Account.customer_id == Contact.customer_id)
                .where(Account.id.in_(accounts[:5000]), Contact.kind == "phone"))).scalars()
            found = sorted(set(phones))
            drill.phones = rng.sample(found, min(texts, len(found)))
    finally:
        await engine.dispose()
    return drill


@storm_app.command("simulate")
def simulate(
    url: str = URL, token: str = TOKEN,
    feeders: int = typer.Option(3, min=1, help="feeders the storm knocks out"),
    share: float = typer.Option(0.3, min=0.0, max=1.0,
                                help="share of their smart meters that send a last gasp"),
    texts: int = typer.Option(20, min=0, help="customers who text OUT (sandbox phone)"),
    rate: float = typer.Option(100.0, min=1.0, help="reports per second at most"),
    etr_hours: float = typer.Option(4.0, help="first ETR, hours from now"),
    hold: float = typer.Option(10.0, help="seconds between the storm's phases"),
    seed: int = typer.Option(7),
    storm_mode: bool = typer.Option(True, help="switch storm mode on for the drill"),
    wait: float = typer.Option(600.0, help="seconds to wait for notices to go out"),
) -> None:
    """Replay a storm against the running system, with progress bars."""
    asyncio.run(_simulate(url=url, token=token, feeders=feeders, share=share, texts=texts,
                          rate=rate, etr_hours=etr_hours, hold=hold, seed=seed,
                          storm_mode=storm_mode, wait=wait))


async def _simulate(*, url: str, token: str, feeders: int, share: float, texts: int,
                    rate: float, etr_hours: float, hold: float, seed: int, storm_mode: bool,
                    wait: float) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    drill = await _pick(feeders, share, texts, seed)
    console.print(f"storm on {', '.join(code for _, code in drill.feeders)}: "
                  f"{drill.customers:,} customers, {len(drill.meters):,} last gasps, "
                  f"{len(drill.phones)} OUT texts")
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with _client(url, token) as http:
        if storm_mode:
            (await http.put("/api/v1/storm", json={"active": True, "reason": "drill"})) \
                .raise_for_status()
        with Progress(*columns, console=console) as progress:
            gasps = progress.add_task("last gasps", total=len(drill.meters))
            outs = progress.add_task("OUT texts", total=len(drill.phones))
            await asyncio.gather(
                _paced(drill.meters, rate, lambda m: _gasp(http, m),
                       lambda: progress.advance(gasps)),
                _paced(drill.phones, max(1.0, rate / 20), lambda p: _text_out(http, p),
                       lambda: progress.advance(outs)))
        await asyncio.sleep(hold)
        outages: list[int] = []
        for feeder_id, code in drill.feeders:
            response = await http.post("/api/v1/outages/confirm", json={
                "device": {"kind": "feeder", "id": feeder_id}, "cause": "storm damage"})
            response.raise_for_status()
            outages.append(response.json()["id"])
            console.print(f"confirmed outage {outages[-1]} on {code}")
        first_etr = datetime.now(UTC) + timedelta(hours=etr_hours)
        for outage_id in outages:
            await _etr(http, outage_id, first_etr)
        done = _total(await _watch(http, "initial alerts", wait, after=_total(
            (await http.get("/api/v1/storm/dashboard")).json())))
        await asyncio.sleep(hold)
        for outage_id in outages:
            await _etr(http, outage_id, first_etr + timedelta(hours=2))
        console.print("ETR moved by two hours")
        done = _total(await _watch(http, "ETR updates", wait, after=done))
        await asyncio.sleep(hold)
        for outage_id in outages:
            (await http.post(f"/api/v1/outages/{outage_id}/restore", json={})) \
                .raise_for_status()
        console.print("power restored")
        summary = await _watch(http, "restoration notices", wait, after=done)
        if storm_mode:
            await http.put("/api/v1/storm", json={"active": False, "reason": "drill over"})
    _summary(summary)


async def _paced(items: list[str], rate: float, call: Any, done: Any) -> None:
    slots = asyncio.Semaphore(16)
    started = time.monotonic()

    async def one(index: int, item: str) -> None:
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        async with slots:
            try:
                await call(item)
            finally:
                done()

    await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))


async def _gasp(http: Any, meter: str) -> None:
    response = await http.post("/api/v1/outages/reports",
                               json={"meter_number": meter, "source": "last_gasp"})
    if response.status_code >= 500:
        console.print(f"[red]report for {meter}: {response.status_code}[/red]")


async def _text_out(http: Any, phone: str) -> None:
    """Through the sandbox phone (development only): OUT, then "no" to the hazard question."""
    for text in ("OUT", "no"):
        response = await http.post("/sandbox/messages", json={"number": phone, "text": text})
        if response.status_code >= 400:
            return


async def _etr(http: Any, outage_id: int, etr: datetime) -> None:
    response = await http.put(f"/api/v1/outages/{outage_id}/etr", json={"etr": etr.isoformat()})
    response.raise_for_status()


async def _watch(http: Any, what: str, wait: float, *, after: int = 0) -> dict[str, Any]:
    """Follow the notices on the dashboard until more than `after` exist (the phase's own
    were planned: by the outage write, or by the relay's catch-up sweep within seconds) and
    nothing is waiting to go."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    deadline = time.monotonic() + wait
    data: dict[str, Any] = {}
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(what, total=None)
        while time.monotonic() < deadline:
            response = await http.get("/api/v1/storm/dashboard")
            response.raise_for_status()
            data = response.json()
            counts = data["notices"]
            waiting = sum(counts.get(k, 0) for k in ("pending", "queued", "sending"))
            finished = sum(v for k, v in counts.items()
                           if k not in ("pending", "queued", "sending", "held_quiet_hours"))
            progress.update(task, total=finished + waiting - after,
                            completed=max(0, finished - after))
            if not waiting and finished > after:
                break
            await asyncio.sleep(2.0)
    return data


def _total(data: dict[str, Any]) -> int:
    return sum(data.get("notices", {}).values())


def _summary(data: dict[str, Any]) -> None:
    table = Table(title="notices")
    table.add_column("status")
    table.add_column("count", justify="right")
    for status, count in sorted(data.get("notices", {}).items()):
        table.add_row(status, f"{count:,}")
    console.print(table)
