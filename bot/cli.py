"""The `bumpbuddies` command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit

import typer
from pydantic import SecretStr
from telegram import Update

from bot.config import Settings, SettingsError, load_settings
from bot.languages import offered_languages

if TYPE_CHECKING:
    from bot.context import BotApplication
    from bot.db import SchemaState
    from bot.services.local_info.content import ContentSet
    from bot.services.reports.sections import Period
    from bot.startup import RefusedTokenFilter

# Plain help: typer's rich help labels every flag, even --help, with a "<bool>" it never takes.
PLAIN_HELP = None
app = typer.Typer(
    help="Bump Buddies: a council-run Telegram bot for mums-to-be.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
    # A traceback's local variables could hold the token or a resident's words.
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True, rich_markup_mode=PLAIN_HELP)
app.add_typer(db_app, name="db")
export_app = typer.Typer(
    help="Exports for the council.", no_args_is_help=True, rich_markup_mode=PLAIN_HELP
)
app.add_typer(export_app, name="export")
content_app = typer.Typer(
    help="The council's content (week messages, services, helplines): check and load.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
app.add_typer(content_app, name="content")
i18n_app = typer.Typer(
    help="The message catalogue's PO files: templates for translators, TOML drafts to PO.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
app.add_typer(i18n_app, name="i18n")
SandboxOption = Annotated[
    bool,
    typer.Option(
        "--sandbox", help="Act on the sandbox's database (SANDBOX_DATABASE_URL), for trying out."
    ),
]


def _show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"bumpbuddies {version('bumpbuddies')}")
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Bump Buddies: a council-run Telegram bot for mums-to-be."""


def configure_logging(level: int = logging.INFO, secrets: Iterable[str] = ()) -> RefusedTokenFilter:
    """Plain logs, with `secrets` (the token) masked in every line and traceback.

    Libraries that would print request URLs, which hold the token, are quietened as well. The
    filter returned keeps a refused token's traceback out until `.starting` is set False.
    """
    from bot.startup import RedactingFormatter, RefusedTokenFilter

    refused = RefusedTokenFilter()
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    handler.addFilter(refused)
    logging.basicConfig(level=level, handlers=[handler])
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "tornado.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return refused


def _settings(sandbox: bool = False) -> Settings:
    try:
        settings = load_settings()
        if sandbox or settings.telegram_bot_token is None:
            # The sandbox (also what `run` opens without a token) tries out draft translations,
            # as it loads SAMPLE content: ALLOW_UNREVIEWED_LANGUAGES is set for it.
            settings = settings.model_copy(update={"allow_unreviewed_languages": True})
        offered_languages(settings)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    settings.ensure_sqlite_directory()
    return settings


def _target(settings: Settings, sandbox: bool) -> Settings:
    """The settings to act with: the sandbox's database instead of the main one, if asked."""
    if not sandbox:
        return settings
    chosen = settings.model_copy(update={"database_url": settings.sandbox_database_url})
    if chosen.safeguarding_secret is None:
        # Pretend residents need no lasting key: a throwaway one means safeguarding records made
        # in one sandbox session are not matched in the next, which is fine for a try-out.
        chosen = chosen.model_copy(update={"safeguarding_secret": SecretStr(secrets.token_hex(32))})
    chosen.ensure_sqlite_directory()
    return chosen


@app.command()
def run(
    webhook: Annotated[
        str | None,
        typer.Option(help="Public HTTPS URL to receive updates on, instead of polling."),
    ] = None,
    migrate: Annotated[
        bool,
        typer.Option(
            "--migrate",
            help="Migrate the database first, as `bumpbuddies db upgrade` does (as "
            "MIGRATION_DATABASE_URL when set, then granting the bot's role).",
        ),
    ] = False,
) -> None:
    """Run the bot: polls Telegram (or takes webhooks); without a token, opens the sandbox."""
    settings = _settings()
    if settings.telegram_bot_token is None:
        typer.echo("No TELEGRAM_BOT_TOKEN set, so starting the local sandbox instead of Telegram.")
        _run_sandbox(settings)
        return
    if settings.safeguarding_secret is None:
        typer.echo(
            "Invalid setting SAFEGUARDING_SECRET: required to run on Telegram (at least 32 "
            "characters, e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`; "
            "keep it and never change it, or safeguarding records can no longer be matched)",
            err=True,
        )
        raise typer.Exit(2)
    if webhook is not None and settings.webhook_secret_token is None:
        typer.echo("Invalid setting WEBHOOK_SECRET_TOKEN: required with --webhook", err=True)
        raise typer.Exit(2)
    if migrate:
        _upgrade(settings)
    else:
        _require_latest_schema(settings)
    from telegram.error import InvalidToken

    from bot.app import build_application
    from bot.startup import refused_token_line

    token = settings.telegram_bot_token.get_secret_value()
    refused = configure_logging(secrets=[token])
    application = build_application(settings)
    # post_init runs once Telegram accepted the token: from then on a refusal is logged as usual.
    started = application.post_init
    assert started is not None

    async def accepted(app: BotApplication) -> None:
        refused.starting = False
        await started(app)

    application.post_init = accepted
    try:
        if webhook is None:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
            return
        assert settings.webhook_secret_token is not None
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            # Behind a reverse proxy the public URL has a path (…/telegram); listen on the same
            # one, or every update Telegram pushes is answered 404.
            url_path=webhook_path(webhook),
            webhook_url=webhook,
            secret_token=settings.webhook_secret_token.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
        )
    except InvalidToken as exc:
        # PTB's own message quotes the token in full; this line masks it.
        typer.echo(refused_token_line(exc, token, settings.bot_api_base_url), err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    webhook: Annotated[
        str | None,
        typer.Option(help="Public HTTPS URL Telegram pushes updates to (default: WEBHOOK_URL)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes behind the one URL.")
    ] = 1,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: WEBHOOK_LISTEN).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: WEBHOOK_PORT).")
    ] = None,
) -> None:
    """Take webhooks with N workers (ASGI), with /healthz, /readyz and /metrics."""
    import os
    import tempfile

    settings = _settings()
    url = webhook or settings.webhook_url
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.echo(
            f"Not started: {workers} workers need PostgreSQL (DATABASE_URL); SQLite serves one "
            "process only, so use --workers 1.",
            err=True,
        )
        raise typer.Exit(2)
    missing = [
        name
        for name, value in (
            ("TELEGRAM_BOT_TOKEN", settings.telegram_bot_token),
            ("SAFEGUARDING_SECRET", settings.safeguarding_secret),
            ("WEBHOOK_SECRET_TOKEN", settings.webhook_secret_token),
            ("WEBHOOK_URL (or --webhook)", url),
        )
        if value is None
    ]
    if missing:
        typer.echo(f"Invalid settings: {', '.join(missing)} required to serve", err=True)
        raise typer.Exit(2)
    assert url is not None
    assert settings.telegram_bot_token is not None
    _require_latest_schema(settings)
    from telegram.error import InvalidToken

    from bot.startup import refused_token_line

    token = settings.telegram_bot_token.get_secret_value()
    configure_logging(secrets=[token])
    # Workers are new processes that read their settings from the environment.
    os.environ["WEBHOOK_URL"] = url
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its samples here; /metrics adds them up, whichever worker answers.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bumpbuddies-metrics-")
    try:
        asyncio.run(_set_webhook(settings, url))
    except InvalidToken as exc:
        # PTB's own message quotes the token in full; this line masks it.
        typer.echo(refused_token_line(exc, token, settings.bot_api_base_url), err=True)
        raise typer.Exit(2) from None
    from bot.web import serve_workers

    serve_workers(host or settings.webhook_listen, port or settings.webhook_port, workers)


async def _set_webhook(settings: Settings, url: str) -> None:
    """Tell Telegram where to push, once for all workers."""
    from telegram import Bot

    assert settings.telegram_bot_token is not None and settings.webhook_secret_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    base = settings.bot_api_base_url
    bot = Bot(token, base_url=base) if base else Bot(token)
    async with bot:
        await bot.set_webhook(
            url,
            secret_token=settings.webhook_secret_token.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
        )


def webhook_path(url: str) -> str:
    """The path part of the public webhook URL, which the bot listens on ("" for the root)."""
    return urlsplit(url).path.strip("/")


def _run_sandbox(settings: Settings, staff_role: str | None = None) -> None:
    from bot.db import upgrade_database
    from bot.sandbox.terminal import run_sandbox
    from models import StaffRole

    # Pretend residents get a database of their own, never the one real residents live in.
    settings = _target(settings, sandbox=True)
    upgrade_database(settings.database_url)
    configure_logging(logging.WARNING)
    role = StaffRole(staff_role) if staff_role else None
    asyncio.run(run_sandbox(settings, staff_role=role))


@app.command()
def sandbox(
    staff_admin: Annotated[
        bool,
        typer.Option(
            "--staff-admin", help="Make the pretend resident you start as (Amira) a staff admin."
        ),
    ] = False,
) -> None:
    """Try the bot without Telegram: the real bot, a pretend Telegram, a chat in this terminal."""
    _run_sandbox(_settings(sandbox=True), "admin" if staff_admin else None)


@app.command()
def demo(
    residents: Annotated[
        int, typer.Option(min=20, max=20_000, help="How many synthetic residents sign up.")
    ] = 1200,
    seed: Annotated[int, typer.Option(help="The same seed gives the same year.")] = 1,
    replace: Annotated[
        bool, typer.Option("--replace", help="Empty the sandbox's database first.")
    ] = False,
) -> None:
    """Fill the sandbox's database with a year of synthetic use, to try reports and staff tools."""
    from bot.context import safeguarding_key
    from bot.db import upgrade_database
    from bot.sandbox.fake_api import FIRST_USER_ID
    from bot.services.demo import empty_database, fill_demo_database, has_residents
    from bot.services.matching.rules import MatchRules
    from bot.services.places.geo import default_gazetteer

    settings = _settings()
    if settings.sandbox_database_url == settings.database_url:
        typer.echo(
            "Not filled: SANDBOX_DATABASE_URL is the bot's own database (DATABASE_URL). "
            "Demo data only ever goes into a sandbox database of its own.",
            err=True,
        )
        raise typer.Exit(2)
    settings = _target(settings, sandbox=True)
    content = _checked_content(settings.content_dir)
    if replace:
        asyncio.run(empty_database(settings.database_url))
    upgrade_database(settings.database_url)
    if not replace and asyncio.run(has_residents(settings.database_url)):
        typer.echo(
            "The sandbox's database already has residents in it. Run `bumpbuddies demo --replace` "
            "to empty it and fill it with demo data.",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"Playing a year of {residents} synthetic residents into the sandbox's database…")
    summary = asyncio.run(
        fill_demo_database(
            settings.database_url,
            default_gazetteer(),
            content,
            end=dt.datetime.now(dt.UTC),
            zone=settings.zone,
            rules=MatchRules.from_settings(settings),
            notice_version=settings.privacy_notice_version,
            count=residents,
            seed=seed,
            key=safeguarding_key(settings),
            council=settings.council_name,
            # The sandbox's first pretend resident, Amira, so /report works straight away.
            admin_telegram_id=FIRST_USER_ID,
        )
    )
    introduced = summary.introductions["introduced"]
    typer.echo(
        f"Done: {summary.residents} residents, {introduced} introductions, {summary.ratings} "
        f"ratings, {summary.broadcasts} broadcasts and {summary.sent} messages sent. "
        "Now run `bumpbuddies sandbox`: you are Amira, an admin, so try /report, /staff, "
        "/broadcast and /mystats."
    )


def _upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate as the owner (MIGRATION_DATABASE_URL, else DATABASE_URL), then grant the bot."""
    from sqlalchemy.exc import DBAPIError

    from bot.db import upgrade_database
    from bot.db_roles import RoleError

    try:
        upgrade_database(settings.migration_url, revision, app_role=settings.app_role)
    except RoleError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except (DBAPIError, OSError) as exc:
        who = "MIGRATION_DATABASE_URL" if settings.migration_database_url else "DATABASE_URL"
        typer.echo(
            f"Could not migrate the database as {who}'s user ({_first_line(exc)}): check {who}.",
            err=True,
        )
        raise typer.Exit(2) from None
    typer.echo(f"Database is at revision {revision}.")
    if settings.app_role:
        typer.echo(f"Role {settings.app_role} may read and write, and only add to the records.")


def _first_line(exc: Exception) -> str:
    """The driver's own reason, in one line (SQLAlchemy adds the statement and a link)."""
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).splitlines() or [type(cause).__name__])[0]


def _require_latest_schema(settings: Settings) -> None:
    """Stop with one line unless the bot's database is at the latest migration."""
    from sqlalchemy.exc import DBAPIError

    from bot.db import create_engine, schema_state
    from bot.startup import schema_problem

    async def read() -> SchemaState:
        engine = create_engine(settings.database_url)
        try:
            return await schema_state(engine)
        finally:
            await engine.dispose()

    try:
        state = asyncio.run(read())
    except (DBAPIError, OSError) as exc:
        typer.echo(
            f"Could not read the database's migration as DATABASE_URL's user "
            f"({_first_line(exc)}): check "
            "DATABASE_URL, and that `bumpbuddies db upgrade` has been run.",
            err=True,
        )
        raise typer.Exit(2) from None
    problem = schema_problem(state)
    if problem is not None:
        typer.echo(problem, err=True)
        raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations (Alembic) as the owner, then grant the bot's role (PostgreSQL)."""
    _upgrade(_settings(), revision)


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
    base: Annotated[
        int | None,
        # Below 5, a rounded count could still point to someone: the council's rule is 5 or more.
        typer.Option(min=5, help="Round every count to a multiple of this (default: setting)."),
    ] = None,
) -> None:
    """The council report: HTML with charts, and a CSV file per table; every count rounded."""
    from bot.services.reports.files import write_report

    settings = _settings()
    period = _period(first, last, settings)
    folder = csv_dir or out.with_name(f"{out.stem}-csv")
    written = write_report(
        settings,
        period,
        out,
        folder,
        base or settings.report_rounding_base,
        dt.datetime.now(dt.UTC),
    )
    typer.echo(f"Report for {period.label()}: {out} and {written.count} CSV files in {folder}.")


@app.command()
def console(
    host: Annotated[str | None, typer.Option(help="Address to listen on (CONSOLE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (CONSOLE_PORT).")] = None,
) -> None:
    """The staff web console; staff sign in through the bot's /console."""
    import uvicorn

    from bot.console.app import create_app

    settings = _settings()
    configure_logging()
    uvicorn.run(
        create_app(settings),
        host=host or settings.console_host,
        port=port or settings.console_port,
        # Uvicorn's access log prints request paths, and a sign-in link's token is in its path.
        access_log=False,
        proxy_headers=True,
    )


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
    from bot.services.local_info.content_files import ContentInvalid, read_content
    from bot.services.places.geo import default_gazetteer

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
    from bot.services.local_info.content_files import untranslated

    settings = _settings()
    chosen = folder or settings.content_dir
    content = _checked_content(chosen)
    # Not a problem: she gets the English item until it is translated.
    for language, missing in untranslated(chosen, content).items():
        typer.echo(f"{language}: {len(missing)} item(s) have no translation; she gets English:")
        for item in missing:
            typer.echo(f"  {chosen / item.file}:{item.line}: {item.message}")
    typer.echo(
        f"Content is fine: {len(content.weeks)} week messages, {len(content.services)} services, "
        f"{len(content.urgent)} urgent-help groups; translations: "
        f"{', '.join(content.translations) or 'none'}."
    )


@content_app.command("load")
def content_load(
    folder: ContentFolder = None,
    allow_sample: Annotated[
        bool, typer.Option("--allow-sample", help="Load content marked as SAMPLE (for trying out).")
    ] = False,
    sandbox: SandboxOption = False,
) -> None:
    """Check the content, then replace what the bot uses with it, all or nothing."""
    from bot.db import upgrade_database
    from bot.services.local_info.content import store_in_database
    from bot.services.places.geo import default_gazetteer

    settings = _target(_settings(), sandbox)
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
    languages = ", ".join(content.translations) or "none"
    typer.echo(
        f"Translations loaded: {languages}. "
        f"Loaded {len(content.weeks)} week messages and {len(content.services)} services "
        f"({digests} neighbourhood digests). The bot uses them from its next daily run or restart."
    )


staff_app = typer.Typer(
    help="Staff roles and the audit trail.", no_args_is_help=True, rich_markup_mode=PLAIN_HELP
)
app.add_typer(staff_app, name="staff")
joinlink_app = typer.Typer(
    help="Midwives' join links and their QR posters.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
)
app.add_typer(joinlink_app, name="joinlink")
StaffRoleName = Literal["admin", "broadcaster", "midwife", "moderator"]
TelegramIdOption = Annotated[
    int, typer.Option("--telegram-id", help="Their Telegram user id (they can send /myid).")
]


@staff_app.command("add")
def staff_add(
    telegram_id: TelegramIdOption,
    role: Annotated[StaffRoleName, typer.Option(help="admin, broadcaster, midwife or moderator.")],
    sandbox: SandboxOption = False,
) -> None:
    """Make someone staff (the first admin is made this way); their menu updates at next start."""
    from bot.db import upgrade_database
    from bot.services.staff.cli import add_staff_member
    from models import StaffRole

    settings = _target(_settings(), sandbox)
    upgrade_database(settings.database_url)
    number = asyncio.run(add_staff_member(settings.database_url, telegram_id, StaffRole(role)))
    typer.echo(f"Staff member #{number} is now {role}.")


@staff_app.command("list")
def staff_list(sandbox: SandboxOption = False) -> None:
    """Everyone who is or was staff: number, Telegram user id, role, and whether removed."""
    from bot.db import upgrade_database
    from bot.services.staff.cli import staff_lines

    settings = _target(_settings(), sandbox)
    upgrade_database(settings.database_url)
    lines = asyncio.run(staff_lines(settings.database_url))
    for line in lines or [
        "Nobody is staff yet. Make the first admin with `bumpbuddies staff add`."
    ]:
        typer.echo(line)


@staff_app.command("remove")
def staff_remove(telegram_id: TelegramIdOption, sandbox: SandboxOption = False) -> None:
    """Take someone's staff access away at once (audited); their menu updates at next start."""
    from bot.db import upgrade_database
    from bot.services.staff.cli import remove_staff_member

    settings = _target(_settings(), sandbox)
    upgrade_database(settings.database_url)
    number = asyncio.run(remove_staff_member(settings.database_url, telegram_id))
    if number is None:
        typer.echo(f"Telegram user {telegram_id} is not current staff; nothing changed.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Staff member #{number} no longer has staff access.")


@staff_app.command("audit")
def staff_audit(
    out: Annotated[Path, typer.Option(help="The CSV file to write.")] = Path("audit.csv"),
) -> None:
    """Export the append-only audit trail of staff actions as CSV."""
    from bot.services.staff.cli import export_audit

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
        str | None,
        typer.Option(help="District to suggest at sign-up: its name or code, e.g. Chelmsford."),
    ] = None,
    bot_username: Annotated[
        str | None, typer.Option(help="The bot's @username (default: BOT_USERNAME).")
    ] = None,
) -> None:
    """Make a join link for a clinic and write its printable QR poster."""
    from bot.services.places.geo import default_gazetteer
    from bot.services.staff.cli import create_link, find_district
    from bot.services.staff.join_links import clean_clinic, deep_link
    from bot.services.staff.poster import poster_text, render_poster

    settings = _settings()
    username = (bot_username or settings.bot_username or "").removeprefix("@")
    if not username:
        typer.echo("Please give --bot-username (or set BOT_USERNAME).", err=True)
        raise typer.Exit(2)
    if clean_clinic(clinic) is None:
        typer.echo("Please give a clinic name of 1 to 100 characters.", err=True)
        raise typer.Exit(2)
    district_code = None
    if district is not None:
        gazetteer = default_gazetteer()
        found = find_district(gazetteer, district)
        if found is None:
            names = ", ".join(d.name for d in gazetteer.districts())
            typer.echo(f"Unknown district {district!r}. Please use one of: {names}.", err=True)
            raise typer.Exit(2)
        district_code = found.code
    from bot.db import upgrade_database

    upgrade_database(settings.database_url)
    link = asyncio.run(create_link(settings.database_url, clinic, district_code))
    url = deep_link(username, link.code)
    words = poster_text("en", settings.council_name, link.clinic, settings.council_logo_path)
    poster = render_poster(url, words)
    out.write_bytes(poster.png)
    out.with_suffix(".pdf").write_bytes(poster.pdf)
    typer.echo(f"Join link for {link.clinic}: {url}")
    typer.echo(f"Poster written to {out} (and {out.with_suffix('.pdf')} to print).")


LocalesOption = Annotated[
    Path | None,
    typer.Option("--locales", help="The catalogue folder (default: the bot's bot/locales)."),
]


@i18n_app.command("template")
def i18n_template(locales: LocalesOption = None) -> None:
    """Write bot/locales/<feature>.pot from English, for `pybabel update`."""
    from bot.i18n import LOCALES, write_templates

    for path in write_templates(locales or LOCALES):
        typer.echo(f"Wrote {path}")


@i18n_app.command("from-toml")
def i18n_from_toml(
    languages: Annotated[
        list[str] | None, typer.Argument(help="Languages to convert (default: every TOML draft).")
    ] = None,
    locales: LocalesOption = None,
) -> None:
    """Convert TOML drafts (bot/locales/<lang>/<feature>.toml) to PO files."""
    from bot.i18n import LOCALES, english_from_toml, toml_languages, translation_from_toml

    folder = locales or LOCALES
    for language in languages or toml_languages(folder):
        if language == "en":
            written = english_from_toml(folder)
            gaps: list[str] = []
        else:
            try:
                written, gaps = translation_from_toml(language, folder)
            except FileNotFoundError as exc:
                typer.echo(f"{language}: {exc}", err=True)
                raise typer.Exit(2) from None
        for path in written:
            typer.echo(f"Wrote {path}")
        if gaps:
            typer.echo(f"{language}: {len(gaps)} messages not translated: {', '.join(gaps)}")
    typer.echo("Check the PO files, then delete the TOML drafts.")


@i18n_app.command("init")
def i18n_init(
    language: Annotated[str, typer.Argument(help="The new language's code, e.g. lt.")],
    locales: LocalesOption = None,
) -> None:
    """Start a language: empty PO files with CLDR's plural forms, marked reviewed: false."""
    from bot.i18n import LOCALES, init_language

    for path in init_language(language, locales or LOCALES):
        typer.echo(f"Wrote {path}")


def main() -> None:
    """Entry point of the `bumpbuddies` command."""
    app(prog_name="bumpbuddies")


if __name__ == "__main__":
    main()
