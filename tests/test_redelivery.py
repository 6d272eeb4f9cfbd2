"""A press Telegram delivers again, after its first handling failed part-way for want of the
database (the webhook answered 503), still brings her the next question: what the first
handling committed stays done, and the step answers as if just taken, not as a stale button."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from telegram import Update
from telegram.ext import TypeHandler

from bot.handlers import onboarding
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.web import SECRET_HEADER
from tests.conftest import WEBHOOK_SECRET
from tests.factories import at_area_step, give_consents, new_resident_user
from tests.harness import BotHarness


async def _at_first_consent(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    user = new_resident_user(fake, "Amira")
    await bot.send(user, "/start")
    return user


async def _at_last_consent(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    user = new_resident_user(fake, "Amira")
    await bot.send(user, "/start")
    await bot.press(user, "Yes, I agree")
    await bot.press(user, "Yes please")
    await bot.press(user, "Yes please")
    return user


async def _at_due_check(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    user = new_resident_user(fake, "Amira")
    await give_consents(bot, user)
    await bot.send(user, "14/03/2027")
    return user


async def _at_summary(bot: BotHarness, fake: FakeTelegram) -> FakeUser:
    user = await at_area_step(bot, fake)
    await bot.send(user, "CM1 1AA")
    await bot.press(user, 0)
    return user


Reach = Callable[[BotHarness, FakeTelegram], Awaitable[FakeUser]]
CASES = {
    "consent to keep her details": (
        _at_first_consent,
        "Yes, I agree",
        "_advance",
        "Meeting other mums-to-be",
    ),
    "last optional consent": (_at_last_consent, "Yes please", "_advance", "When is your baby due?"),
    "due date check": (_at_due_check, "Yes, that's right", "_advance", "Which neighbourhood"),
    "summary": (_at_summary, "✅ That's right", "_matching_offer", "You're all set"),
}


@pytest.mark.parametrize(("reach", "button", "fails", "then"), CASES.values(), ids=CASES.keys())
async def test_a_press_delivered_again_after_the_database_failed_part_way_brings_the_next_step(
    webhook_bot: BotHarness,
    webhook: httpx.AsyncClient,
    fake: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    reach: Reach,
    button: str,
    fails: str,
    then: str,
) -> None:
    user = await reach(webhook_bot, fake)
    step_after = getattr(onboarding, fails)
    failing = [True]

    async def fails_once(*args: Any) -> Any:
        # After her answer was committed: the database goes away before what follows it.
        if failing and failing.pop():
            raise OperationalError("SELECT", None, ConnectionRefusedError("connection refused"))
        return await step_after(*args)

    monkeypatch.setattr(onboarding, fails, fails_once)
    press = fake.press_button(user, webhook_bot.last_with_buttons(user), button)
    headers = {SECRET_HEADER: WEBHOOK_SECRET}

    first = await webhook.post("/telegram/updates", json=press, headers=headers)
    again = await webhook.post("/telegram/updates", json=press, headers=headers)

    assert (first.status_code, again.status_code) == (503, 200)
    texts = [m.plain_text for m in fake.messages(user.id)]
    assert sum(then in t for t in texts) == 1, texts[-3:]
    assert not any(
        "from an earlier question" in (a.get("text") or "") for a in fake.callback_answers
    )
    assert not any("went wrong" in t.lower() for t in texts)


async def test_an_old_cards_press_delivered_again_after_sign_up_stays_stale_mid_profile_change(
    webhook_bot: BotHarness, webhook: httpx.AsyncClient, fake: FakeTelegram
) -> None:
    user = await _at_last_consent(webhook_bot, fake)
    old_card = next(m for m in fake.messages(user.id) if "Meeting other mums-to-be" in m.plain_text)
    await webhook_bot.press(user, "Yes please")
    await webhook_bot.send(user, "14/03/2027")
    await webhook_bot.press(user, "Yes, that's right")
    await webhook_bot.send(user, "CM1 1AA")
    await webhook_bot.press(user, 0)
    await webhook_bot.press(user, "✅ That's right")
    await webhook_bot.send(user, "/profile")
    await webhook_bot.press(user, "Change name")
    failing = [True]

    async def database_blips(update: Update, context: object) -> None:
        if failing and failing.pop():
            raise OperationalError("SELECT", None, ConnectionRefusedError("connection refused"))

    webhook_bot.app.add_handler(TypeHandler(Update, database_blips), group=-50)
    press = fake.forge_callback(user, old_card, "ob:consent:matching:yes")
    headers = {SECRET_HEADER: WEBHOOK_SECRET}

    first = await webhook.post("/telegram/updates", json=press, headers=headers)
    again = await webhook.post("/telegram/updates", json=press, headers=headers)
    renamed = await webhook_bot.send(user, "Bea")

    assert (first.status_code, again.status_code) == (503, 200)
    assert "from an earlier message" in (fake.callback_answers[-1].get("text") or "")
    assert any("Bea" in m.plain_text for m in renamed)
