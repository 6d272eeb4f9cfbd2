"""The `bumpbuddies` command line."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from telegram import Update

from bot.config import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Bump Buddies: a council-run Telegram bot for mums-to-be.", no_args_is_help=True
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def configure_logging(level: int = logging.INFO) -> None:
    """Plain logs; libraries that would print request URLs (and so the token) are quietened."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "tornado.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    settings.ensure_sqlite_directory()
    return settings


@app.command()
def run(
    webhook: Annotated[
        str | None,
        typer.Option(help="Public HTTPS URL to receive updates on, instead of polling."),
    ] = None,
) -> None:
    """Run the bot: polls Telegram (or takes webhooks); without a token, opens the sandbox."""
    settings = _settings()
    if settings.telegram_bot_token is None:
        typer.echo("No TELEGRAM_BOT_TOKEN set, so starting the local sandbox instead of Telegram.")
        _run_sandbox(settings)
        return
    from bot.app import build_application

    configure_logging()
    application = build_application(settings)
    if webhook is None:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
        return
    if settings.webhook_secret_token is None:
        typer.echo("Invalid setting WEBHOOK_SECRET_TOKEN: required with --webhook", err=True)
        raise typer.Exit(2)
    application.run_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        webhook_url=webhook,
        secret_token=settings.webhook_secret_token.get_secret_value(),
        allowed_updates=Update.ALL_TYPES,
    )


def _run_sandbox(settings: Settings) -> None:
    from bot.db import upgrade_database
    from bot.sandbox.terminal import run_sandbox

    # Pretend residents get a database of their own, never the one real residents live in.
    settings = settings.model_copy(update={"database_url": settings.sandbox_database_url})
    settings.ensure_sqlite_directory()
    upgrade_database(settings.database_url)
    configure_logging(logging.WARNING)
    asyncio.run(run_sandbox(settings))


@app.command()
def sandbox() -> None:
    """Try the bot without Telegram: the real bot, a pretend Telegram, a chat in this terminal."""
    _run_sandbox(_settings())


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads") -> None:
    """Apply database migrations (Alembic)."""
    from bot.db import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url, revision)
    typer.echo(f"Database is at revision {revision}.")


def main() -> None:
    """Entry point of the `bumpbuddies` command."""
    app(prog_name="bumpbuddies")


if __name__ == "__main__":
    main()
