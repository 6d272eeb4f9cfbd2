"""The typed context every handler receives: long-lived services live on `bot_data`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from bot.delivery.engine import DeliveryEngine
from bot.delivery.send_limits import SendLimits
from bot.delivery.sender import BulkSender
from bot.leader import Leadership
from bot.services.local_info.content import ContentSet
from bot.services.places.geo import Gazetteer
from bot.services.places.search import PlaceSearch
from bot.services.residents.safeguarding import SafeguardingKey


class BotData:
    """Things made once per process: settings and clock at build time, the rest in post_init."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.clock: Clock | None = None
        self.engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.gazetteer: Gazetteer | None = None
        self.place_search: PlaceSearch | None = None
        # The bulk sender (broadcasts, scheduled information); made in post_init.
        self.delivery: DeliveryEngine | None = None
        self.delivery_sender: BulkSender | None = None
        # Tests' stand-in for the network under bulk sends (the fake Bot API in-process).
        self.delivery_transport: httpx.AsyncBaseTransport | None = None
        self.delivery_worker = True
        self.sleep: Callable[[float], Awaitable[None]] | None = None
        # The council's content (content/), read from the database; None until it is loaded.
        self.content: ContentSet | None = None
        # The database's content fingerprint when `content` was read: a new load changes it.
        self.content_digest: str | None = None
        # Whether this worker runs the background work (bot/leader.py); made in post_init.
        self.leader: Leadership | None = None
        # Telegram's limits for replies and bulk sends of every worker (delivery/send_limits.py).
        self.send_limits: SendLimits | None = None


T = TypeVar("T")


def safeguarding_key(settings: Settings) -> SafeguardingKey:
    """SAFEGUARDING_SECRET as a key; the bot refuses to start without it."""
    if settings.safeguarding_secret is None:
        raise RuntimeError("SAFEGUARDING_SECRET is required to run the bot")
    return SafeguardingKey(settings.safeguarding_secret.get_secret_value())


def _ready(value: T | None, name: str) -> T:
    if value is None:
        raise RuntimeError(f"{name} is used before post_init created it")
    return value


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """CallbackContext with typed access to the bot's services."""

    # Her language for this update (one context per update): her profile's, else the one she
    # chose before signing up, else her Telegram app's; set by handlers.common.note_language.
    language: str | None = None

    @property
    def settings(self) -> Settings:
        """The validated settings."""
        return _ready(self.bot_data.settings, "settings")

    @property
    def clock(self) -> Clock:
        """The clock (a fixed one in tests)."""
        return _ready(self.bot_data.clock, "clock")

    @property
    def gazetteer(self) -> Gazetteer:
        """Offline neighbourhood lookup."""
        return _ready(self.bot_data.gazetteer, "gazetteer")

    @property
    def place_search(self) -> PlaceSearch | None:
        """The optional place-name geocoder; None unless switched on."""
        return self.bot_data.place_search

    @property
    def safeguarding_key(self) -> SafeguardingKey:
        """The key of the safeguarding record's hashes (build_application made sure it is set)."""
        return safeguarding_key(self.settings)

    @property
    def delivery(self) -> DeliveryEngine:
        """The delivery engine: queue rows, then call wake()."""
        return _ready(self.bot_data.delivery, "delivery engine")

    @property
    def content(self) -> ContentSet | None:
        """The council's loaded content, or None before `bumpbuddies content load`."""
        return self.bot_data.content

    def session(self) -> AsyncSession:
        """A new session for one unit of work: `async with ctx.session() as s, s.begin():`."""
        return _ready(self.bot_data.sessionmaker, "sessionmaker")()

    def now(self) -> dt.datetime:
        """The current UTC time from the injected clock."""
        return self.clock.now()

    def today(self) -> dt.date:
        """Today's date in the council's time zone."""
        return self.clock.now().astimezone(self.settings.zone).date()


BotApplication = Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
