"""The `stormdesk` command: serve, migrate, seed, tokens, and operator tools."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.config import get_settings
from stormdesk.storm_cli import storm_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Stormdesk contact center")
token_app = typer.Typer(no_args_is_help=True, help="API tokens for operators and integrations")
app.add_typer(token_app, name="token")
app.add_typer(storm_app, name="storm")
agents_app = typer.Typer(no_args_is_help=True, help="Console users: agents, supervisors, admins")
app.add_typer(agents_app, name="agents")
console = Console(stderr=True)


@app.command()
def migrate() -> None:
    """Bring the database schema to the code's version (SQLite file or DATABASE_URL)."""
    from stormdesk.migrate import upgrade

    settings = get_settings()
    upgrade(settings.effective_database_url)
    console.print(f"[green]migrated[/green] {_safe_url(settings.effective_database_url)}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", envvar="HOST"),
    port: int = typer.Option(8000, envvar="PORT"),
    workers: int = typer.Option(1, help="API processes (production mode only)"),
) -> None:
    """Serve the API, webhooks and pages."""
    import uvicorn

    settings = get_settings()
    console.print(
        f"Stormdesk on [bold]http://{host}:{port}[/bold]  "
        f"(database: {_safe_url(settings.effective_database_url)}, "
        f"bus: {'redis' if settings.redis_url else 'in-process'})\n"
        f"  API docs      http://{host}:{port}/docs\n"
        f"  health        http://{host}:{port}/readyz"
    )
    uvicorn.run(
        "stormdesk.asgi:app",
        host=host,
        port=port,
        workers=workers if settings.redis_url else 1,
        log_level="warning",
        access_log=False,
        # No websocket frame we accept is larger (console 64 KB, web chat 16 KB): refuse
        # bigger ones before they are buffered.
        ws_max_size=64 * 1024,
    )


@app.command()
def seed(
    customers: int = typer.Option(2000, min=1, help="how many customers the demo utility has"),
    seed: int = typer.Option(7, help="random seed: the same seed gives the same utility"),
    months: int = typer.Option(12, min=1, max=60, help="months of bills and payments"),
    if_empty: bool = typer.Option(False, "--if-empty", help="do nothing if customers exist"),
) -> None:
    """Fill the database with a fictional demo utility (phones are 555 numbers, emails example.*)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from core.db import make_engine
    from core.demo import SeedOptions, has_customers, seed_demo_utility

    url = get_settings().effective_database_url

    async def run() -> None:
        engine = make_engine(url)
        try:
            if await has_customers(engine):
                if if_empty:
                    console.print("demo utility not seeded: the database already has customers")
                    return
                console.print("[red]the database already has customers[/red]: "
                              "seed an empty database (or pass --if-empty)")
                raise typer.Exit(1)
            columns = ("{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn())
            with Progress(*columns, console=console) as progress:
                task = progress.add_task("seeding customers", total=customers)
                report = await seed_demo_utility(
                    engine, SeedOptions(customers=customers, seed=seed, months=months),
                    on_progress=lambda done: progress.advance(task, done),
                )
            rows = sum(report.rows.values())
            console.print(f"[green]seeded[/green] {report.customers:,} customers "
                          f"({rows:,} rows) in {report.seconds:.1f} s")
        finally:
            await engine.dispose()

    asyncio.run(run())


@app.command()
def worker(
    concurrency: int = typer.Option(16, help="messages handled at once (< DB pool size)"),
    messages: bool = typer.Option(True, help="handle inbound messages and send replies"),
    notices: bool = typer.Option(True, help="relay and send outage notices, run storm mode"),
) -> None:
    """Handle inbound messages, deliver replies and notices (production: run as many as needed)."""
    from stormdesk.wiring import build_runtime
    from stormdesk.worker import work

    async def run() -> None:
        runtime = await build_runtime(get_settings())
        try:
            await work(runtime, concurrency=concurrency, messages=messages, notices=notices)
        finally:
            await runtime.close()

    asyncio.run(run())


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="admin | supervisor | agent | operations | integration"),
    name: str = typer.Option("operator", help="who or what will use it (goes in the audit log)"),
    days: int = typer.Option(0, help="expires after this many days (0: never)"),
) -> None:
    """Create a bearer token and print it once (only its hash is stored)."""
    from core.auth.service import create_token
    from core.db import make_engine, make_sessionmaker, unit_of_work

    async def run() -> str:
        engine = make_engine(get_settings().effective_database_url)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                ttl = timedelta(days=days) if days else None
                _, raw = await create_token(session, name=name, role=role, ttl=ttl)
                return raw
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()))


@agents_app.command("create")
def agents_create(
    username: str = typer.Option(..., help="sign-in name"),
    name: str = typer.Option("", help="display name (default: the username)"),
    role: str = typer.Option("admin", help="admin | supervisor | agent"),
    skills: str = typer.Option("", help="comma-separated: billing,outage,collections,..."),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="STORMDESK_AGENT_PASSWORD",
                                 help="at least 12 characters (prompted if not given)"),
) -> None:
    """Create a console user, e.g. the first admin, who then enrols everyone else."""
    from core.agents.service import create_agent
    from core.db import make_engine, make_sessionmaker, unit_of_work

    async def run() -> int:
        engine = make_engine(get_settings().effective_database_url)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                agent = await create_agent(session, username=username,
                                           display_name=name or username, password=password,
                                           role=role, skills=skills.split(","))
                return agent.id
        finally:
            await engine.dispose()

    from core.errors import DomainError

    try:
        agent_id = asyncio.run(run())
    except DomainError as error:
        console.print(f"[red]not created[/red]: {error.message}")
        raise typer.Exit(1) from error
    console.print(f"[green]created[/green] {role} {username} (id {agent_id})")


nlu_app = typer.Typer(no_args_is_help=True, help="The embedded NLU: train it, measure it")
app.add_typer(nlu_app, name="nlu")


@nlu_app.command("train")
def nlu_train() -> None:
    """Train the embedded classifier from bot/rasa/data/nlu.yml and report its size and time."""
    from bot.nlu.embedded import TRAINING_FILE, EmbeddedNlu

    started = time.perf_counter()
    engine = EmbeddedNlu.train(TRAINING_FILE)
    console.print(f"trained on {TRAINING_FILE} in {time.perf_counter() - started:.2f} s "
                  f"({len(engine.classifier.intents)} intents)")


@nlu_app.command("eval")
def nlu_eval(
    file: Annotated[Path, typer.Option(
        exists=True, dir_okay=False, help="held-out examples in Rasa NLU YAML (like data/nlu.yml)")],
    rasa_url: Annotated[str | None, typer.Option(
        envvar="RASA_URL", help="also evaluate Rasa")] = None,
) -> None:
    """Intent accuracy, macro F1 and a confusion table, embedded (and Rasa) side by side."""
    from bot.nlu.evaluate import run_eval

    typer.echo(run_eval(file, rasa_url))


DEMO_PASSWORD = "stormdesk-demo"
DEMO_USERS = (
    ("agent1", "Avery Lin", "agent", "billing,outage,collections,emergency"),
    ("agent2", "Blake Moreno", "agent", "billing,outage,commercial,emergency"),
    ("supervisor", "Sam Ortiz", "supervisor", ""),
)


@agents_app.command("demo")
def agents_demo() -> None:
    """Create the demo console users (password stormdesk-demo) if missing; never in production."""
    from core.agents import repository as agents
    from core.agents.service import create_agent
    from core.db import make_engine, make_sessionmaker, unit_of_work

    settings = get_settings()
    if settings.env == "production":
        console.print("[red]refused[/red]: demo users with a known password are not for production")
        raise typer.Exit(1)

    async def run() -> list[str]:
        engine = make_engine(settings.effective_database_url)
        created: list[str] = []
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                for username, display, role, skills in DEMO_USERS:
                    if await agents.by_username(session, username=username) is None:
                        await create_agent(session, username=username, display_name=display,
                                           password=DEMO_PASSWORD, role=role,
                                           skills=[s for s in skills.split(",") if s])
                        created.append(username)
        finally:
            await engine.dispose()
        return created

    created = asyncio.run(run())
    console.print(f"demo console users: {', '.join(u for u, *_ in DEMO_USERS)} "
                  f"(password {DEMO_PASSWORD}){'' if created else ' — already there'}")


def _safe_url(url: str) -> str:
    """Never print a password from DATABASE_URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
    return url


if __name__ == "__main__":
    app()
