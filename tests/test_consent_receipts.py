"""Each consent choice is a receipt she can see (Kantara Consent Receipt, ICO consent guidance)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.db import upgrade_database
from bot.sandbox.fake_api import FakeTelegram
from bot.services.residents.consent import consent_receipts
from models import ConsentEvent, ConsentPurpose, ConsentText
from tests.factories import new_resident_user, onboard
from tests.harness import BotHarness

MATCHING_EXPLANATION = "Would you like us to suggest other mums-to-be near you"


async def _receipts(bot: BotHarness) -> list[tuple[ConsentEvent, str | None]]:
    async with bot.session() as session:
        person_ref = await session.scalar(select(ConsentEvent.person_ref).limit(1))
        assert person_ref is not None
        return [(r.event, r.text) for r in await consent_receipts(session, person_ref)]


async def test_every_choice_records_the_receipt_fields_and_the_text_she_saw(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    await onboard(bot, new_resident_user(fake, "Amira"))

    receipts = await _receipts(bot)

    assert len(receipts) == 4
    assert len({event.receipt_id for event, _ in receipts}) == 4
    for event, shown in receipts:
        assert str(uuid.UUID(event.receipt_id)) == event.receipt_id
        assert event.controller_name == "Essex County Council"
        assert event.controller_contact == "bumpbuddies@essex.gov.uk, 0345 743 0430"
        assert event.notice_url == "https://www.essex.gov.uk/privacy-notices"
        assert (event.jurisdiction, event.consent_type, event.language) == ("GB", "explicit", "en")
        assert shown is not None
    # The texts outlive her erasure, so none may carry anything about her.
    assert not any("Amira" in (shown or "") for _, shown in receipts)
    health, matching = receipts[0][1], receipts[1][1]
    assert health is not None and "health information" in health
    assert matching is not None and MATCHING_EXPLANATION in matching


async def test_each_distinct_text_is_kept_once(bot: BotHarness, fake: FakeTelegram) -> None:
    await onboard(bot, new_resident_user(fake, "Amira"))
    await onboard(bot, new_resident_user(fake, "Beth"))

    async with bot.session() as session:
        texts = list(await session.scalars(select(ConsentText)))
        fingerprints = set(await session.scalars(select(ConsentEvent.text_sha256)))

    assert len(texts) == 4
    assert {t.sha256 for t in texts} == fingerprints


async def test_turning_a_purpose_back_on_shows_and_records_its_explanation(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, optional=(True, True, True))
    await bot.send(user, "/privacy")
    await bot.press(user, "Turn off: meeting other mums")

    await bot.press(user, "Turn on: meeting other mums")
    assert MATCHING_EXPLANATION in bot.last_with_buttons(user).plain_text
    await bot.press(user, "Yes please")

    receipts = await _receipts(bot)
    onboarding_choice, regrant = receipts[1], receipts[-1]
    assert (regrant[0].purpose, regrant[0].granted) == (ConsentPurpose.MATCHING, True)
    assert regrant[1] is not None and MATCHING_EXPLANATION in regrant[1]
    assert "Your choices" not in regrant[1]
    # The same explanation as at sign-up, so the same fingerprint.
    assert regrant[0].text_sha256 == onboarding_choice[0].text_sha256
    assert "Meeting other mums: yes" in bot.last(user).plain_text


async def test_declining_the_explanation_changes_nothing(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user, optional=(False, True, True))
    await bot.send(user, "/privacy")
    before = len(await _receipts(bot))

    await bot.press(user, "Turn on: meeting other mums")
    await bot.press(user, "No thanks")

    assert len(await _receipts(bot)) == before
    assert "Meeting other mums: no" in bot.last(user).plain_text


async def test_privacy_shows_the_receipt_of_her_latest_choice(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)
    latest = (await _receipts(bot))[-1][0].receipt_id

    notice, choices = await bot.send(user, "/privacy")
    assert latest in notice.plain_text
    turned_off_from = choices.plain_text

    await bot.press(user, "Turn off: local information")
    newest = (await _receipts(bot))[-1][0].receipt_id
    assert newest != latest
    assert newest in (bot.last_answer() or "")
    # What she turned it off from is kept as the text she saw, once, without any receipt in it.
    withdrawal_text = (await _receipts(bot))[-1][1]
    assert withdrawal_text == turned_off_from
    assert latest not in withdrawal_text


async def test_mydata_includes_every_receipt_with_what_she_was_told(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = new_resident_user(fake)
    await onboard(bot, user)

    *_, sent = await bot.send(user, "/mydata")

    assert sent.document is not None
    history = json.loads(sent.document[1])["consent_history"]
    receipts = await _receipts(bot)
    assert [c["receipt_id"] for c in history] == [e.receipt_id for e, _ in receipts]
    first = history[0]
    assert first["controller"] == {
        "name": "Essex County Council",
        "contact": "bumpbuddies@essex.gov.uk, 0345 743 0430",
    }
    assert first["privacy_notice_url"] == "https://www.essex.gov.uk/privacy-notices"
    assert (first["jurisdiction"], first["consent_type"], first["language"]) == (
        "GB",
        "explicit",
        "en",
    )
    assert "health information" in first["text_shown"]
    assert first["text_sha256"] == receipts[0][0].text_sha256


async def test_the_consent_export_includes_the_receipts_and_texts(
    bot: BotHarness, fake: FakeTelegram, database_url: str, tmp_path: Path
) -> None:
    await onboard(bot, new_resident_user(fake))
    out = tmp_path / "evidence"

    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["export", "consent", "--out", str(out)],
        env={"DATABASE_URL": database_url},
    )

    assert result.exit_code == 0, result.output
    events = json.loads(out.with_suffix(".json").read_text())["events"]
    receipts = await _receipts(bot)
    assert [e["receipt_id"] for e in events] == [e.receipt_id for e, _ in receipts]
    assert events[1]["controller_name"] == "Essex County Council"
    assert events[1]["jurisdiction"] == "GB"
    assert events[1]["consent_type"] == "explicit"
    assert events[1]["language"] == "en"
    assert MATCHING_EXPLANATION in events[1]["text_shown"]
    csv_text = out.with_suffix(".csv").read_text()
    assert receipts[1][0].receipt_id in csv_text
    assert MATCHING_EXPLANATION in csv_text


_RESIDENT_CHOICE = (
    "INSERT INTO consent_events (person_ref, purpose, granted, notice_version, text_sha256,"
    " method, source, created_at) VALUES (?, ?, ?, 'v1', ?, 'button', NULL, ?)"
)


def test_existing_choices_get_receipts_and_their_unkept_texts_are_marked_unknown(
    tmp_path: Path,
) -> None:
    # Always a scratch SQLite file: the upgrade has to start from 0010 with data in it.
    path = tmp_path / "before_receipts.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade_database(url, "0010")
    with sqlite3.connect(path) as db:
        db.executemany(
            _RESIDENT_CHOICE,
            [
                ("a", "health_data", 1, "f" * 64, "2026-11-01 10:00:00"),
                ("a", "matching", 0, "e" * 64, "2026-11-01 10:01:00"),
                ("b", "health_data", 1, "f" * 64, "2026-11-02 10:00:00"),
            ],
        )

    upgrade_database(url)

    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT receipt_id, consent_type, language, jurisdiction, controller_name,"
            " (SELECT count(*) FROM consent_texts t WHERE t.sha256 = e.text_sha256)"
            " FROM consent_events e ORDER BY id"
        ).fetchall()
        still_guarded = {
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                " AND tbl_name = 'consent_events'"
            )
        }
    assert len({row[0] for row in rows}) == 3
    assert all(str(uuid.UUID(row[0])) == row[0] for row in rows)
    assert {row[1:] for row in rows} == {("explicit", "en", "GB", None, 0)}
    assert still_guarded == {
        "consent_events_no_update",
        "consent_events_no_delete",
        "consent_events_no_replace",
    }
