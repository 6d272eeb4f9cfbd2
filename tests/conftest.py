"""Shared fixtures: a migrated database, a fixed clock, the fake Bot API and the bot on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import languages
from bot.clock import FixedClock
from bot.db import create_engine, create_sessionmaker
from bot.sandbox.fake_api import FakeTelegram
from bot.web import create_app
from tests.database import build_template, fresh_database, owner_url
from tests.harness import BotHarness, schema_checked

# A weekday morning in winter (GMT), far from any clock change.
DEFAULT_NOW = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One `alembic upgrade head` per test session."""
    return build_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
async def database_url(database_template: str, tmp_path: Path) -> str:
    """An empty migrated database for this test, reached as the bot reaches it."""
    return await fresh_database(database_template, tmp_path)


@pytest.fixture
def owner_database_url(database_template: str, database_url: str) -> str:
    """The same database as the schema's owner (migrations, test set-up), not as the bot."""
    return owner_url(database_template, database_url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's database."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for service-level tests."""
    return create_sessionmaker(engine)


@pytest.fixture
def clock() -> FixedClock:
    """The time as tests see it; move it with clock.advance()."""
    return FixedClock(DEFAULT_NOW)


@pytest.fixture(autouse=True)
def only_english_served() -> Iterator[None]:
    """A bot started with LANGUAGES sets what the process serves; the next test starts afresh."""
    yield
    languages._served = (languages.ENGLISH,)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The fake Bot API; every call made to it is checked against the official schema."""
    yield from schema_checked(FakeTelegram())


@pytest.fixture
async def bot(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> AsyncIterator[BotHarness]:
    """The real bot wired to the in-process fake, with a fixed clock."""
    async with BotHarness.start(fake, database_url, clock) as harness:
        yield harness


WEBHOOK_SECRET = "a-webhook-secret"
WEBHOOK_URL = "https://bot.example.org/telegram/updates"


@pytest.fixture
async def webhook_bot(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> AsyncIterator[BotHarness]:
    """The real bot as `serve` runs it: a webhook on WEBHOOK_URL's path, with its secret."""
    async with BotHarness.start(
        fake, database_url, clock, webhook_secret_token=WEBHOOK_SECRET, webhook_url=WEBHOOK_URL
    ) as running:
        yield running


@pytest.fixture
async def webhook(webhook_bot: BotHarness) -> AsyncIterator[httpx.AsyncClient]:
    """Requests to the worker's app as the reverse proxy forwards them (the bot already runs)."""
    settings = webhook_bot.app.bot_data.settings
    assert settings is not None
    transport = httpx.ASGITransport(app=create_app(webhook_bot.app, settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        yield client
