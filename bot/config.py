"""Settings read from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

from bot.delivery.quiet_hours import QuietHours

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bumpbuddies.sqlite3"


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it and is safe to print."""


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Settings(BaseSettings):
    """Everything the bot can be configured with."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    # The bot's @username, for join links made on the command line (the bot itself asks Telegram).
    bot_username: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL runs with two roles (docs/DEPLOY.md): migrations connect as the schema's owner,
    # the bot as a role that owns nothing and may only add to the append-only tables.
    # Unset, migrations use DATABASE_URL.
    migration_database_url: str | None = None
    # The bot's role, granted its privileges after every `bumpbuddies db upgrade`. Unset, it is
    # DATABASE_URL's user when that differs from MIGRATION_DATABASE_URL's.
    database_app_role: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
    sandbox_database_url: str = "sqlite+aiosqlite:///./data/sandbox.sqlite3"
    # None means python-telegram-bot's default, the real Bot API.
    bot_api_base_url: str | None = None
    timezone: str = "Europe/London"

    council_name: str = "Essex County Council"
    council_contact_email: str = "bumpbuddies@essex.gov.uk"
    council_contact_phone: str = "0345 743 0430"
    privacy_notice_url: str = "https://www.essex.gov.uk/privacy-notices"
    privacy_notice_version: str = "2026-11"
    # The council's logo for join-link posters: a PNG (transparent background looks best).
    # Unset, posters show a plain wordmark of the council's name in the logo's place.
    council_logo_path: Path | None = None

    # Off by default: a place-name geocoder would send what she types to a third party.
    geocoder: str = Field(default="none", pattern="^(none|nominatim)$")
    geocoder_user_agent: str = "bumpbuddies"

    # Every count staff see (reports, CSV files, /mystats) is rounded month by month to a multiple
    # of this: with 5, counts of 0 to 2 show as 0 and 3 to 7 as 5 (see reports/protection.py).
    report_rounding_base: int = Field(default=5, ge=5, le=100)

    # Matching: who counts as near (ward centroids, geodesic) and due around the same time.
    matching_distance_km: float = Field(default=3.0, ge=0, le=50)
    matching_window_weeks: int = Field(default=4, ge=0, le=20)
    # An unanswered request ends after this many days; the requester is told kindly.
    matching_reply_days: int = Field(default=7, ge=1, le=60)
    # Suggestion cards lapse after this many days (or when she asks for new ones).
    matching_suggestion_days: int = Field(default=3, ge=1, le=30)
    # Fairness: one person appears in at most this many open suggestions and requests at once.
    matching_max_open_per_person: int = Field(default=5, ge=1, le=100)
    # How many nearby members hear about one newcomer (the best-ranked ones).
    matching_newcomer_fanout: int = Field(default=30, ge=0, le=1000)
    matching_invite_hours: int = Field(default=24, ge=1, le=24 * 7)

    # Updates one worker handles at once (polling and webhooks). Each holds up to two database
    # connections (its chat's turn and a handler's unit of work): the pool is sized to match
    # (bot.app.connections_for). An update waiting for Telegram's limits (a second per chat)
    # holds its place, so too few places leave residents queueing behind those waits: at 6,
    # 100 residents waited 1.26 s on average for a place; at 16, 0.26 s; at 12 (the default,
    # which keeps two workers within PostgreSQL's default 100 connections), 0.52 s with p95
    # 5.3 s against 9.1 s at 6 (bench/load.py, docs/PERFORMANCE.md).
    concurrent_updates: int = Field(default=12, ge=1, le=64)

    # Bulk sending (broadcasts, scheduled information): Telegram allows about 30 messages a second
    # overall and one a second per chat; paid broadcasts (allow_paid_broadcast) up to 1000 a second.
    delivery_max_per_second: float = Field(default=30.0, gt=0)
    delivery_per_chat_interval_seconds: float = Field(default=1.0, ge=0)
    delivery_paid_max_per_second: float = Field(default=1000.0, gt=0)
    # These limits hold for every worker's replies and bulk sends together
    # (bot/delivery/send_limits.py); of the places a second, bulk sends leave this many to replies
    # while residents are writing (one otherwise).
    delivery_reply_reserve: int = Field(default=6, ge=0)
    delivery_max_attempts: int = Field(default=5, ge=1)
    delivery_max_in_flight: int = Field(default=16, ge=1)
    # A claimed row whose worker vanished (SIGKILL) is taken over after this long.
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    # Broadcasts as paid broadcasts (allow_paid_broadcast: up to 1000 a second, charged in Stars).
    broadcast_paid: bool = False
    # How often scheduled broadcasts whose time has come are looked for.
    broadcast_release_seconds: float = Field(default=30.0, gt=0)
    # Nothing bulk is sent between these local hours (21:00 to 08:00 by default).
    quiet_hours_start: int = Field(default=21, ge=0, le=23)
    quiet_hours_end: int = Field(default=8, ge=0, le=23)

    # The languages the bot offers residents, e.g. "en,pl,ro,ur" (bot/languages.py); a language
    # whose catalogue is not reviewed is refused at start-up unless ALLOW_UNREVIEWED_LANGUAGES.
    languages: str = "en"
    allow_unreviewed_languages: bool = False

    # Local information: the council's content/ folder (loaded with `bumpbuddies content load`),
    # the daily planning time (local), and how long personal data is kept after the due date or
    # birth, with a notice this many days before it is erased.
    content_dir: Path = Path("content")
    local_info_time: dt.time = dt.time(9, 30)
    retention_months: int = Field(default=12, ge=1, le=120)
    retention_notice_days: int = Field(default=7, ge=1, le=60)

    # The key of the safeguarding record's keyed hashes (HMAC-SHA-256 of Telegram ids), which
    # lets a suspension and blocks survive her erasure. Required to run on Telegram; the sandbox
    # makes a throwaway one. Changing it makes every existing record unmatchable.
    safeguarding_secret: SecretStr | None = Field(default=None, min_length=32)
    # Safeguarding records are purged this long after she erased her data.
    safeguarding_retention_months: int = Field(default=24, ge=2, le=120)

    webhook_secret_token: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    # The public URL Telegram pushes updates to (`serve`'s workers listen on its path); `run`
    # and `serve` take it as --webhook too.
    webhook_url: str | None = None

    # The staff web console (`bumpbuddies console`); the public URL is what /console links to
    # (defaults to http://CONSOLE_HOST:CONSOLE_PORT).
    console_host: str = "127.0.0.1"
    console_port: int = Field(default=8080, ge=1, le=65535)
    console_public_url: str | None = None
    # Also serve the console inside `bumpbuddies serve`'s app at this path (e.g. "/console");
    # CONSOLE_PUBLIC_URL is then the public address of that path.
    console_mount: str | None = Field(default=None, pattern=r"^/[A-Za-z0-9_/-]*[A-Za-z0-9_-]$")

    @field_validator("council_logo_path")
    @classmethod
    def _png_logo(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        try:
            with value.open("rb") as logo:
                signature = logo.read(len(_PNG_SIGNATURE))
        except OSError as exc:
            raise ValueError("no readable file there") from exc
        if signature != _PNG_SIGNATURE:
            raise ValueError("not a PNG image")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not a known IANA time zone, e.g. Europe/London") from exc
        return value

    @field_validator("database_url", "sandbox_database_url", "migration_database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def migration_url(self) -> str:
        """Where migrations connect: as the schema's owner."""
        return self.migration_database_url or self.database_url

    @property
    def app_role(self) -> str | None:
        """The bot's own PostgreSQL role to grant to, or None when the bot runs as the owner."""
        if self.database_app_role:
            return self.database_app_role
        if not self.database_url.startswith("postgresql"):
            return None
        bot_user = make_url(self.database_url).username
        owner = make_url(self.migration_url).username
        return bot_user if bot_user and bot_user != owner else None

    @property
    def zone(self) -> ZoneInfo:
        """The council's local time zone."""
        return ZoneInfo(self.timezone)

    @property
    def quiet_hours(self) -> QuietHours:
        """The one quiet-hours value every sender and job reads."""
        return QuietHours.from_settings(self)

    def ensure_sqlite_directory(self) -> None:
        """Create the folder a SQLite file lives in, so a fresh clone just works."""
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            path = self.database_url.removeprefix(prefix)
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation failure into one line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        # The input value is left out on purpose: it may be a token.
        raise SettingsError(f"Invalid setting {name}: {first['msg']}") from None
