"""The `bumpbuddies` command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from telegram import Update

from bot.config import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.services.content import ContentSet
    from bot.services.reports.sections import Period

app = typer.Typer(
    help="Bump Buddies: a council-run Telegram bot for mums-to-be.", no_args_is_help=True
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
export_app = typer.Typer(help="Exports for the council.", no_args_is_help=True)
app.add_typer(export_app, name="export")
content_app = typer.Typer(
    help="The council's content (week messages, services, helplines): check and load.",
    no_args_is_help=True,
)
app.add_typer(content_app, name="content")


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
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations (Alembic) as the owner, then grant the bot's role (PostgreSQL)."""
    from bot.db import upgrade_database
    from bot.db_roles import RoleError

    settings = _settings()
    try:
        upgrade_database(settings.migration_url, revision, app_role=settings.app_role)
    except RoleError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Database is at revision {revision}.")
    if settings.app_role:
        typer.echo(f"Role {settings.app_role} may read and write, and only add to the records.")


@db_app.command("grant")
def db_grant() -> None:
    """Grant the bot's PostgreSQL role (DATABASE_APP_ROLE) what it needs, and no more."""
    from bot.db_roles import RoleError, grant

    settings = _settings()
    if settings.app_role is None:
        typer.echo(
            "Invalid setting DATABASE_APP_ROLE: required (or a DATABASE_URL user other than "
            "MIGRATION_DATABASE_URL's) on PostgreSQL",
            err=True,
        )
        raise typer.Exit(2)
    try:
        asyncio.run(grant(settings.migration_url, settings.app_role))
    except RoleError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Role {settings.app_role} may read and write, and only add to the records.")


FromOption = Annotated[
    str | None, typer.Option("--from", help="First month, e.g. 2026-01 (default: 11 months ago).")
]
ToOption = Annotated[str | None, typer.Option("--to", help="Last month, e.g. 2026-12.")]


def _period(first: str | None, last: str | None, settings: Settings) -> Period:
    from bot.services.reports.sections import Period

    today = dt.datetime.now(settings.zone).date()
    default = Period.last_months(today, 12, settings.zone)
    start = Period.parse_month(first) if first else default.first
    end = Period.parse_month(last) if last else default.last
    if start is None or end is None or end < start:
        typer.echo("Please give months as YYYY-MM, with --from no later than --to.", err=True)
        raise typer.Exit(2)
    return Period(start, end, settings.zone)


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
    first: FromOption = None,
    last: ToOption = None,
    csv_dir: Annotated[
        Path | None, typer.Option(help="Folder for the CSV files (default: beside --out).")
    ] = None,
    threshold: Annotated[
        int | None, typer.Option(min=2, help="Counts below this show as <N (default: setting).")
    ] = None,
) -> None:
    """The council report: HTML with charts, and a CSV file per table; small numbers withheld."""
    from bot.services.reports.files import write_report

    settings = _settings()
    period = _period(first, last, settings)
    folder = csv_dir or out.with_name(f"{out.stem}-csv")
    written = write_report(
        settings,
        period,
        out,
        folder,
        threshold or settings.report_suppression_threshold,
        dt.datetime.now(dt.UTC),
    )
    typer.echo(f"Report for {period.label()}: {out} and {written.count} CSV files in {folder}.")


@export_app.command("consent")
def export_consent(
    out: Annotated[
        Path, typer.Option(help="Path without extension: writes .csv and .json.")
    ] = Path("consent-evidence"),
    first: FromOption = None,
    last: ToOption = None,
) -> None:
    """Every consent choice as audit evidence (pseudonymous), as CSV and JSON."""
    from bot.services.reports.files import write_consent_export

    settings = _settings()
    period = _period(first, last, settings) if first or last else None
    written = write_consent_export(settings, out, period, dt.datetime.now(dt.UTC))
    names = " and ".join(str(p) for p in written.paths)
    typer.echo(f"{written.count} consent events written to {names}.")


@export_app.command("feedback")
def export_feedback(
    out: Annotated[Path, typer.Option(help="The CSV file to write.")] = Path("comments.csv"),
    first: FromOption = None,
    last: ToOption = None,
) -> None:
    """Residents' comments for admins: redacted, with nothing that says who wrote them."""
    from bot.services.reports.files import write_comments_export

    settings = _settings()
    period = _period(first, last, settings)
    written = write_comments_export(settings, out, period)
    typer.echo(f"{written.count} comments for {period.label()} written to {out}.")


ContentFolder = Annotated[
    Path | None, typer.Option("--folder", help="The content folder (default: CONTENT_DIR).")
]


def _checked_content(folder: Path) -> ContentSet:
    from bot.services.content_files import ContentInvalid, read_content
    from bot.services.geo import default_gazetteer

    try:
        content = read_content(folder, default_gazetteer())
    except ContentInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"{folder / problem.file}:{problem.line}: {problem.message}", err=True)
        typer.echo(f"{len(exc.problems)} problem(s) found; nothing was loaded.", err=True)
        raise typer.Exit(1) from None
    if content.sample:
        typer.echo("Note: this is SAMPLE content, for the council to review before going live.")
    return content


@content_app.command("check")
def content_check(folder: ContentFolder = None) -> None:
    """Check the content files; every problem is shown with its file and line."""
    settings = _settings()
    content = _checked_content(folder or settings.content_dir)
    typer.echo(
        f"Content is fine: {len(content.weeks)} week messages, {len(content.services)} services, "
        f"{len(content.urgent)} urgent-help groups."
    )


@content_app.command("load")
def content_load(
    folder: ContentFolder = None,
    allow_sample: Annotated[
        bool, typer.Option("--allow-sample", help="Load content marked as SAMPLE (for trying out).")
    ] = False,
) -> None:
    """Check the content, then replace what the bot uses with it, all or nothing."""
    from bot.db import upgrade_database
    from bot.services.content import store_in_database
    from bot.services.geo import default_gazetteer

    settings = _settings()
    content = _checked_content(folder or settings.content_dir)
    if content.sample and not allow_sample:
        typer.echo(
            "Not loaded: the files are marked sample: true. Review them and set sample: false, "
            "or pass --allow-sample to load them for trying out.",
            err=True,
        )
        raise typer.Exit(1)
    upgrade_database(settings.database_url)
    digests = asyncio.run(
        store_in_database(
            settings.database_url, content, default_gazetteer(), dt.datetime.now(dt.UTC)
        )
    )
    typer.echo(
        f"Loaded {len(content.weeks)} week messages and {len(content.services)} services "
        f"({digests} neighbourhood digests). The bot uses them from its next daily run or restart."
    )


staff_app = typer.Typer(help="Staff roles and the audit trail.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
joinlink_app = typer.Typer(help="Midwives' join links and their QR posters.", no_args_is_help=True)
app.add_typer(joinlink_app, name="joinlink")
StaffRoleName = Literal["admin", "broadcaster", "midwife", "moderator"]


@staff_app.command("add")
def staff_add(
    telegram_id: Annotated[int, typer.Option("--telegram-id", help="Their Telegram user id.")],
    role: Annotated[StaffRoleName, typer.Option(help="admin, broadcaster, midwife or moderator.")],
) -> None:
    """Make someone staff (the first admin is made this way); their menu updates at next start."""
    from bot.db import upgrade_database
    from bot.services.staff_cli import add_staff_member
    from models import StaffRole

    settings = _settings()
    upgrade_database(settings.database_url)
    number = asyncio.run(add_staff_member(settings.database_url, telegram_id, StaffRole(role)))
    typer.echo(f"Staff member #{number} is now {role}.")


@staff_app.command("audit")
def staff_audit(
    out: Annotated[Path, typer.Option(help="The CSV file to write.")] = Path("audit.csv"),
) -> None:
    """Export the append-only audit trail of staff actions as CSV."""
    from bot.services.staff_cli import export_audit

    settings = _settings()
    out.write_text(asyncio.run(export_audit(settings.database_url)), encoding="utf-8")
    typer.echo(f"Audit trail written to {out}.")


@joinlink_app.command("create")
def joinlink_create(
    clinic: Annotated[str, typer.Option(help="The clinic or team the link is for.")],
    out: Annotated[Path, typer.Option(help="Where to write the QR poster (PNG).")] = Path(
        "poster.png"
    ),
    district: Annotated[
        str | None, typer.Option(help="District code to suggest at sign-up, e.g. E07000070.")
    ] = None,
    bot_username: Annotated[
        str | None, typer.Option(help="The bot's @username (default: BOT_USERNAME).")
    ] = None,
) -> None:
    """Make a join link for a clinic and write its printable QR poster."""
    from bot.handlers.staff_links import poster_text
    from bot.services.geo import default_gazetteer
    from bot.services.join_links import clean_clinic, deep_link
    from bot.services.staff_cli import create_link
    from bot.services.staff_poster import render_poster
    from bot.texts import catalogue

    settings = _settings()
    username = (bot_username or settings.bot_username or "").removeprefix("@")
    if not username:
        typer.echo("Please give --bot-username (or set BOT_USERNAME).", err=True)
        raise typer.Exit(2)
    if clean_clinic(clinic) is None:
        typer.echo("Please give a clinic name of 1 to 100 characters.", err=True)
        raise typer.Exit(2)
    if district is not None and default_gazetteer().district(district) is None:
        typer.echo(f"Unknown district code {district!r}.", err=True)
        raise typer.Exit(2)
    from bot.db import upgrade_database

    upgrade_database(settings.database_url)
    link = asyncio.run(create_link(settings.database_url, clinic, district))
    url = deep_link(username, link.code)
    poster = render_poster(url, poster_text(catalogue("en"), settings.council_name, link.clinic))
    out.write_bytes(poster.png)
    typer.echo(f"Join link for {link.clinic}: {url}")
    typer.echo(f"Poster written to {out}.")


def main() -> None:
    """Entry point of the `bumpbuddies` command."""
    app(prog_name="bumpbuddies")


if __name__ == "__main__":
    main()
