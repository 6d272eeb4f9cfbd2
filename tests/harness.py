"""Drives the real bot through the fake Bot API, as residents would."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.app import build_application, running
from bot.clock import FixedClock
from bot.config import Settings
from bot.context import BotApplication
from bot.sandbox.fake_api import FakeTelegram, FakeUser, SentMessage
from bot.sandbox.fake_request import FakeRequest
from bot.sandbox.fake_transport import FakeTransport

# The key of the safeguarding record's hashes in tests (production requires its own).
TEST_SAFEGUARDING_SECRET = "test-safeguarding-secret-0123456789abcdef"


def settings_for_test(token: str, database_url: str, **overrides: Any) -> Settings:
    """Settings for a test: nothing read from a developer's .env."""
    values: dict[str, Any] = {"safeguarding_secret": TEST_SAFEGUARDING_SECRET}
    values.update(overrides)
    return Settings(_env_file=None, telegram_bot_token=token, database_url=database_url, **values)


def schema_checked(fake: FakeTelegram) -> Iterator[FakeTelegram]:
    """Yield the fake, then fail the test if anything called it outside the Bot API schema.

    Every fixture that makes a fake hands it out through this, so no test can skip the check.
    """
    yield fake
    fake.assert_no_violations()


class BotHarness:
    """The bot and the fake side by side; each action returns what the bot sent back."""

    def __init__(self, fake: FakeTelegram, application: BotApplication, clock: FixedClock) -> None:
        self.fake = fake
        self.app = application
        self.clock = clock
        # In production the engine's worker sends queued messages moments after a handler wakes
        # it; tests that watch the queue itself switch this off and call send_queued().
        self.send_after_updates = True

    @classmethod
    @asynccontextmanager
    async def start(
        cls, fake: FakeTelegram, database_url: str, clock: FixedClock, **overrides: Any
    ) -> AsyncIterator[BotHarness]:
        """Build and run the bot (post_init included) against the fake."""
        application = build_application(
            settings_for_test(fake.token, database_url, **overrides),
            clock=clock,
            request=FakeRequest(fake),
            get_updates_request=FakeRequest(fake),
            delivery_transport=FakeTransport(fake),
            rate_limit=False,
            # Bulk sends happen when a test calls delivery.run_until_idle(), on the test's clock.
            sleep=clock.sleep,
            delivery_worker=False,
        )
        async with running(application):
            yield cls(fake, application, clock)
        # Also here, for fakes a test made itself: a bot started by hand is checked all the same.
        fake.assert_no_violations()

    def session(self) -> AsyncSession:
        """A session on the bot's own database."""
        maker = self.app.bot_data.sessionmaker
        assert maker is not None
        return maker()

    async def send_queued(self) -> None:
        """What the engine's background worker does moments after it is woken: send what is due."""
        engine = self.app.bot_data.delivery
        assert engine is not None
        await engine.run_until_idle()

    async def _deliver(self, user: FakeUser, update: dict[str, Any]) -> list[SentMessage]:
        before = len(self.fake.messages(user.id))
        await self.app.process_update(Update.de_json(update, self.app.bot))
        if self.send_after_updates:
            await self.send_queued()
        return self.fake.messages(user.id)[before:]

    async def send(self, user: FakeUser, text: str) -> list[SentMessage]:
        """She sends a text (or a command); returns the bot's new messages to her."""
        return await self._deliver(user, self.fake.send_message(user, text))

    async def share_location(
        self, user: FakeUser, latitude: float, longitude: float
    ) -> list[SentMessage]:
        """She shares her location."""
        return await self._deliver(user, self.fake.send_location(user, latitude, longitude))

    async def edit(self, user: FakeUser, text: str) -> list[SentMessage]:
        """She edits the newest text she sent to read `text`."""
        return await self._deliver(user, self.fake.edit_message(user, text))

    async def send_media(
        self, user: FakeUser, kind: str, caption: str | None = None
    ) -> list[SentMessage]:
        """She sends a photo, sticker, voice note... (one of fake_api.MEDIA_KINDS)."""
        return await self._deliver(user, self.fake.send_media(user, kind, caption=caption))

    async def press(
        self, user: FakeUser, button: str | int, message: SentMessage | None = None
    ) -> list[SentMessage]:
        """She presses a button on `message` (by default the newest message that has buttons)."""
        target = message or self.last_with_buttons(user)
        return await self._deliver(user, self.fake.press_button(user, target, button))

    async def forge(self, user: FakeUser, message: SentMessage, data: str) -> list[SentMessage]:
        """A button press with made-up callback data."""
        return await self._deliver(user, self.fake.forge_callback(user, message, data))

    def last(self, user: FakeUser) -> SentMessage:
        """The newest message the bot sent her."""
        return self.fake.messages(user.id)[-1]

    def last_with_buttons(self, user: FakeUser) -> SentMessage:
        """The newest message to her that carries inline buttons."""
        for message in reversed(self.fake.messages(user.id)):
            if message.reply_markup and message.reply_markup.get("inline_keyboard"):
                return message
        raise AssertionError("no message with buttons was sent to this user")

    def last_answer(self) -> str | None:
        """The text of the newest answer to a button press (a toast or alert)."""
        return self.fake.callback_answers[-1].get("text") if self.fake.callback_answers else None
