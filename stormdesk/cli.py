"""The `stormdesk` command: serve, migrate, seed, tokens, and operator tools."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import typer
from rich.console import Console

from core.config import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Stormdesk contact center")
token_app = typer.Typer(no_args_is_help=True, help="API tokens for operators and integrations")
app.add_typer(token_app, name="token")
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
    )


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
