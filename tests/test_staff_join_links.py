"""Midwives' join links: a link and QR poster, sign-ups counted per link, revocation, the CLI."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import segno
from PIL import Image
from sqlalchemy import select

from bot.handlers.staff_links import poster_text
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services import join_links
from bot.services.staff_poster import render_poster
from bot.texts import catalogue
from models import AuditEvent, JoinLink, Resident, StaffMember, StaffRole
from tests.factories import give_consents, give_due_date, make_staff, onboard
from tests.harness import BotHarness

LINK = re.compile(r"https://t\.me/BumpBuddiesBot\?start=([A-Za-z0-9_-]+)")


async def midwife(bot: BotHarness, fake: FakeTelegram, name: str = "Nadia") -> FakeUser:
    user = fake.new_user(name, started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.MIDWIFE, user.id)
    return user


async def make_link(bot: BotHarness, user: FakeUser, clinic: str, district: str) -> str:
    await bot.send(user, "/joinlink")
    await bot.send(user, clinic)
    sent = await bot.press(user, district)
    match = LINK.search(sent[0].plain_text)
    assert match, sent[0].plain_text
    return match.group(1)


def qr_matrix_in(png: bytes, box: tuple[int, int, int], size: int) -> list[list[bool]]:
    """Read the QR code's modules back out of the poster, by the middle pixel of each."""
    image = Image.open(io.BytesIO(png)).convert("L")
    left, top, scale = box
    return [
        [
            image.getpixel((left + col * scale + scale // 2, top + row * scale + scale // 2)) < 128  # type: ignore[operator]
            for col in range(size)
        ]
        for row in range(size)
    ]


async def test_a_midwife_gets_a_join_link_and_a_qr_poster_that_opens_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await midwife(bot, fake)

    await bot.send(user, "/joinlink")
    await bot.send(user, "Chelmsford Community Midwives")
    sent = await bot.press(user, "Chelmsford")

    code = LINK.search(sent[0].plain_text)
    assert code is not None
    payload = code.group(1)
    assert len(payload) <= 64 and payload.startswith("chelmsford-community-midwives-")
    poster = sent[1].document
    assert poster is not None and poster[0].endswith(".png")
    url = code.group(0)
    expected = render_poster(
        url,
        poster_text(catalogue("en"), "Essex County Council", "Chelmsford Community Midwives"),
    )
    assert poster[1] == expected.png
    qr = segno.make(url, error="m")
    size = int(qr.symbol_size(scale=1, border=0)[0])
    assert qr_matrix_in(poster[1], expected.qr_box, size) == [
        [bool(module) for module in row] for row in qr.matrix
    ]
    async with bot.session() as session:
        link = await session.scalar(select(JoinLink))
        events = list(await session.scalars(select(AuditEvent.action)))
    assert link is not None and link.district_code == "E07000070" and link.code == payload
    assert "joinlink.create" in events


async def test_sign_ups_through_a_link_are_counted_per_link_in_numbers_only(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await midwife(bot, fake)
    ours = await make_link(bot, user, "Chelmsford Birth Centre", "Chelmsford")
    theirs = await make_link(bot, user, "Harlow Midwives", "Harlow")
    for name in ("Amy", "Beth"):
        await onboard(bot, fake.new_user(name), start=f"/start {ours}")
    await onboard(bot, fake.new_user("Cara"), start=f"/start {theirs}")
    await onboard(bot, fake.new_user("Dee"), start="/start somewhere_else")

    stats = (await bot.send(user, "/mystats"))[0].plain_text

    chelmsford, harlow = stats.split("Harlow Midwives")
    assert "Total: 2" in chelmsford and "Nov 2" in chelmsford
    assert "Total: 1" in harlow
    for name in ("Amy", "Beth", "Cara", "Test"):
        assert name not in stats
    async with bot.session() as session:
        sources = set(await session.scalars(select(Resident.signup_source)))
    assert {ours, theirs} <= sources


async def test_a_revoked_link_still_starts_sign_up_but_no_longer_counts_it(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await midwife(bot, fake)
    code = await make_link(bot, user, "Basildon Hospital", "Basildon")
    await onboard(bot, fake.new_user("Amy"), start=f"/start {code}")
    bot.clock.advance(dt.timedelta(days=2))
    await bot.send(user, "/mystats")

    await bot.press(user, "Stop counting: Basildon Hospital")
    newcomer = fake.new_user("Beth")
    welcome = await bot.send(newcomer, f"/start {code}")
    await bot.press(newcomer, "Yes, I agree")

    assert "welcome to Bump Buddies" in welcome[0].plain_text
    stats = (await bot.send(user, "/mystats"))[0].plain_text
    assert "Total: 1" in stats and "No longer counted since" in stats
    async with bot.session() as session:
        counts = await join_links.sign_ups_by_link(session)
    assert counts == {code: 1}


async def test_a_midwife_sees_and_can_revoke_only_her_own_links(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    nadia = await midwife(bot, fake, "Nadia")
    other = await midwife(bot, fake, "Olu")
    await make_link(bot, other, "Colchester Hospital", "Colchester")
    mine = await make_link(bot, nadia, "Witham Clinic", "Braintree")
    async with bot.session() as session:
        theirs = await session.scalar(select(JoinLink).where(JoinLink.code != mine))
    assert theirs is not None

    stats = await bot.send(nadia, "/mystats")
    await bot.forge(nadia, stats[0], f"jl:rv:{theirs.id}")

    assert "Colchester" not in stats[0].plain_text
    assert bot.last_answer() == "That link isn't counted any more (or isn't yours)."
    async with bot.session() as session:
        assert (await session.get(JoinLink, theirs.id)).revoked_at is None  # type: ignore[union-attr]


async def test_an_admin_sees_every_link(bot: BotHarness, fake: FakeTelegram) -> None:
    nadia = await midwife(bot, fake)
    await make_link(bot, nadia, "Witham Clinic", "Braintree")
    admin = fake.new_user("Ada", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.ADMIN, admin.id)

    assert "Witham Clinic" in (await bot.send(admin, "/mystats"))[0].plain_text


async def test_a_made_up_district_button_does_nothing(bot: BotHarness, fake: FakeTelegram) -> None:
    user = await midwife(bot, fake)
    await bot.send(user, "/joinlink")
    sent = await bot.send(user, "Witham Clinic")

    await bot.forge(user, sent[0], "jl:d:E99999999")

    assert (
        bot.last_answer() == "That button is from an earlier message – please use the latest one."
    )
    async with bot.session() as session:
        assert await session.scalar(select(JoinLink)) is None


async def test_a_join_link_payload_is_always_telegram_safe() -> None:
    for clinic in ("St Peter's – Maldon 🏥", "x" * 100, "Ünïcödé Clinic", "!!!"):
        code = join_links.new_code(clinic)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code), code
        assert not code.startswith("staff_")


def _bumpbuddies(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_the_command_line_makes_the_first_admin_and_a_join_link_poster(tmp_path: Path) -> None:
    added = _bumpbuddies(tmp_path, "staff", "add", "--telegram-id", "4242", "--role", "admin")
    made = _bumpbuddies(
        tmp_path,
        "joinlink",
        "create",
        "--clinic",
        "Harlow Midwives",
        "--out",
        "poster.png",
        "--bot-username",
        "BumpBuddiesBot",
    )
    audit = _bumpbuddies(tmp_path, "staff", "audit", "--out", "audit.csv")

    assert added.returncode == 0, added.stderr
    assert "Staff member #1 is now admin." in added.stdout
    assert made.returncode == 0, made.stderr
    assert LINK.search(made.stdout)
    with Image.open(tmp_path / "poster.png") as poster:
        assert poster.size == (1240, 1754)
    assert audit.returncode == 0, audit.stderr
    lines = (tmp_path / "audit.csv").read_text().splitlines()
    assert [line.split(",")[4] for line in lines[1:]] == ["staff.add", "joinlink.create"]


def test_staff_add_refuses_an_unknown_role(tmp_path: Path) -> None:
    result = _bumpbuddies(tmp_path, "staff", "add", "--telegram-id", "1", "--role", "boss")
    assert result.returncode == 2


async def test_staff_added_on_the_command_line_get_their_menu_when_the_bot_starts(
    fake: FakeTelegram, database_url: str, bot: BotHarness
) -> None:
    user = fake.new_user("Ada", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), StaffRole.MODERATOR, user.id)
        assert await session.scalar(select(StaffMember.role)) is StaffRole.MODERATOR
    async with BotHarness.start(fake, database_url, bot.clock):
        menu = fake.commands_for({"type": "chat", "chat_id": user.id})
    assert "moderation" in {c["command"] for c in menu}


async def test_a_link_for_a_district_puts_that_district_first_when_she_picks_her_area(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await midwife(bot, fake)
    code = await make_link(bot, user, "Harlow Midwives", "Harlow")
    mum = fake.new_user("Amy")
    await give_consents(bot, mum, start=f"/start {code}")
    await give_due_date(bot, mum)

    districts = await bot.send(mum, "Choose from a list")

    assert districts[-1].button_texts()[0] == "⭐ Harlow"
    await bot.press(mum, "⭐ Harlow")
    assert "Which neighbourhood in Harlow?" in bot.last(mum).plain_text
