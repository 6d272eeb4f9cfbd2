"""After `bumpbuddies content load`, running bots use the new numbers and phrases in a minute."""

from __future__ import annotations

import datetime as dt

from bot.clock import FixedClock
from bot.handlers.local_info import jobs
from bot.sandbox.fake_api import FakeTelegram
from bot.services.local_info.content import ContentSet, store_in_database
from bot.services.places.geo import default_gazetteer
from tests.content_support import CHELMSFORD_TRIAGE, sample_content
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness

# A phrase only the council's sample content has (content/urgent_keywords.yaml).
COUNCIL_PHRASE = "my baby is quieter than usual"
NOT_SURE = "I'm not sure what to do with that"


async def _content_load(database_url: str, content: ContentSet, clock: FixedClock) -> None:
    """What `bumpbuddies content load` does: another process, its own engine."""
    await store_in_database(database_url, content, default_gazetteer(), clock.now())


async def _run_watch_job(bot: BotHarness) -> None:
    """The content watch job, run now rather than on its timer."""
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name(jobs.CONTENT_WATCH_JOB)
    await job.run(bot.app)


def test_the_watch_job_runs_well_within_a_minute(bot: BotHarness) -> None:
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name(jobs.CONTENT_WATCH_JOB)

    assert job.job.trigger.interval <= dt.timedelta(seconds=30)


async def test_a_content_load_reaches_the_running_bot_without_a_restart(
    bot: BotHarness, fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    [before] = await bot.send(user, COUNCIL_PHRASE)
    assert NOT_SURE in before.plain_text

    await _content_load(database_url, sample_content(), clock)
    await _run_watch_job(bot)

    [urgent] = await bot.send(user, COUNCIL_PHRASE)
    assert CHELMSFORD_TRIAGE in urgent.plain_text
    [help_text] = await bot.send(user, "/help")
    assert CHELMSFORD_TRIAGE in help_text.plain_text


async def test_a_changed_number_replaces_the_old_one(
    bot: BotHarness, fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    await _content_load(database_url, sample_content(), clock)
    await _run_watch_job(bot)
    first, *others = sample_content().triage
    moved = first.model_copy(update={"phone": "01632 960999"})
    await _content_load(
        database_url, sample_content().model_copy(update={"triage": (moved, *others)}), clock
    )

    await _run_watch_job(bot)

    [urgent] = await bot.send(user, "there is blood when I wipe")
    assert "01632 960999" in urgent.plain_text
    assert "01632 960001" not in urgent.plain_text


async def test_every_running_bot_picks_up_the_new_content(
    bot: BotHarness, database_url: str, clock: FixedClock
) -> None:
    other_fake = FakeTelegram()
    async with BotHarness.start(other_fake, database_url, clock) as other_worker:
        await _content_load(database_url, sample_content(), clock)

        for worker in (bot, other_worker):
            await _run_watch_job(worker)

        for worker in (bot, other_worker):
            content = worker.app.bot_data.content
            assert content is not None and content.digest() == sample_content().digest()


async def test_an_unchanged_version_is_not_read_again(
    bot: BotHarness, database_url: str, clock: FixedClock
) -> None:
    await _content_load(database_url, sample_content(), clock)

    assert await jobs.reload_if_changed(bot.app)
    assert not await jobs.reload_if_changed(bot.app)
