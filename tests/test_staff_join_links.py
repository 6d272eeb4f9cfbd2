"""Midwives' join links: a link and QR poster, sign-ups counted per link, revocation, the CLI."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pypdf
import pytest
import segno
from PIL import Image
from sqlalchemy import select

from bot.config import Settings
from bot.sandbox.fake_api import FakeTelegram, FakeUser
from bot.services.staff import join_links
from bot.services.staff.poster import (
    Poster,
    bot_handle,
    poster_text,
    render_poster,
    typeable_link,
)
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
        poster_text("en", "Essex County Council", "Chelmsford Community Midwives"),
    )
    assert poster[1] == expected.png
    qr = segno.make(url, error="m")
    size = int(qr.symbol_size(scale=1, border=0)[0])
    assert qr_matrix_in(poster[1], expected.qr_box, size) == [
        [bool(module) for module in row] for row in qr.matrix
    ]
    printable = sent[2].document
    assert printable is not None and printable[0].endswith(".pdf")
    assert "ready to print" in sent[2].plain_text
    [page] = pypdf.PdfReader(io.BytesIO(printable[1])).pages
    points = (float(page.mediabox.width), float(page.mediabox.height))
    assert points == pytest.approx(A4_POINTS, abs=1.0)
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
    for name in ("Amy", "Beth", "Cleo"):
        await onboard(bot, fake.new_user(name), start=f"/start {ours}")
    await onboard(bot, fake.new_user("Cara"), start=f"/start {theirs}")
    await onboard(bot, fake.new_user("Dee"), start="/start somewhere_else")

    stats = (await bot.send(user, "/mystats"))[0].plain_text

    chelmsford, harlow = stats.split("Harlow Midwives")
    # Rounded to the nearest 5, like every count staff see: 3 shows as 5 and 1 as 0.
    assert "Total: 5" in chelmsford and "Nov 5" in chelmsford
    assert "Total: 0" in harlow and "rounded to the nearest 5" in stats
    for name in ("Amy", "Beth", "Cleo", "Cara", "Test"):
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
    assert "Total: 0" in stats and "No longer counted since" in stats
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
    assert len(pypdf.PdfReader(tmp_path / "poster.pdf").pages) == 1
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


A4_POINTS = (595.28, 841.89)
URL = "https://t.me/BumpBuddiesBot?start=harlow-midwives-Ab3dE_fG"


def _words(logo: Path | None = None) -> Any:
    return poster_text("en", "Essex County Council", "Harlow Midwives", logo)


def _qr_reads_back(png: bytes, poster: Poster) -> bool:
    qr = segno.make(URL, error="m")
    size = int(qr.symbol_size(scale=1, border=0)[0])
    expected = [[bool(module) for module in row] for row in qr.matrix]
    return qr_matrix_in(png, poster.qr_box, size) == expected


def test_the_poster_is_also_a_print_ready_a4_pdf_whose_code_still_scans() -> None:
    poster = render_poster(URL, _words())

    reader = pypdf.PdfReader(io.BytesIO(poster.pdf))
    [page] = reader.pages
    size = (float(page.mediabox.width), float(page.mediabox.height))
    assert size == pytest.approx(A4_POINTS, abs=1.0)
    [image] = page.images
    as_png = io.BytesIO()
    assert image.image is not None
    image.image.save(as_png, format="PNG")
    # The PDF's page is the poster itself, at 150 dots per inch, so it scans just the same.
    assert image.image.size == (1240, 1754)
    assert _qr_reads_back(as_png.getvalue(), poster)
    assert _qr_reads_back(poster.png, poster)


def test_the_poster_says_the_app_is_free_that_it_is_private_and_how_to_join_without_a_camera() -> (
    None
):
    words = _words()

    assert "free app" in words.app_needed and "Telegram" in words.app_needed
    assert words.free_private == "It's free and private."
    assert "nobody meets you unless you both say yes" in words.private_detail
    assert typeable_link(URL) == "t.me/BumpBuddiesBot?start=harlow-midwives-Ab3dE_fG"
    assert words.search_hint.format(handle=bot_handle(URL)).endswith("search for @BumpBuddiesBot")


def _share_of(png: bytes, colour: tuple[int, int, int], box: tuple[int, int, int, int]) -> float:
    with Image.open(io.BytesIO(png)) as image:
        region = image.convert("RGB").crop(box)
    counts = {found: n for n, found in region.getcolors(region.width * region.height) or []}
    return counts.get(colour, 0) / (region.width * region.height)


def test_the_councils_logo_fills_the_logo_slot_and_a_wordmark_stands_in_without_one(
    tmp_path: Path,
) -> None:
    teal = (0, 128, 128)
    logo = tmp_path / "logo.png"
    Image.new("RGB", (400, 160), teal).save(logo)
    slot = (360, 90, 880, 270)

    with_logo = render_poster(URL, _words(logo))
    without = render_poster(URL, _words())

    assert _share_of(with_logo.png, teal, slot) > 0.5
    assert _share_of(without.png, teal, slot) == 0
    assert _share_of(without.png, (250, 234, 242), slot) > 0.3  # the soft wordmark panel
    assert _qr_reads_back(with_logo.png, with_logo)


def test_the_logo_setting_must_name_a_png(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (10, 10), "white").save(logo)
    jpeg = tmp_path / "logo.jpg"
    Image.new("RGB", (10, 10), "white").save(jpeg, format="JPEG")

    assert Settings(council_logo_path=logo).council_logo_path == logo
    with pytest.raises(ValueError, match="not a PNG"):
        Settings(council_logo_path=jpeg)
    with pytest.raises(ValueError, match="no readable file"):
        Settings(council_logo_path=tmp_path / "missing.png")


async def test_mystats_shows_small_counts_protected_so_one_sign_up_reads_like_two(
    bot: BotHarness, fake: FakeTelegram
) -> None:
    user = await midwife(bot, fake)
    code = await make_link(bot, user, "Chelmsford Birth Centre", "Chelmsford")
    await onboard(bot, fake.new_user("Amy"), start=f"/start {code}")
    one = (await bot.send(user, "/mystats"))[0].plain_text

    await onboard(bot, fake.new_user("Beth"), start=f"/start {code}")
    two = (await bot.send(user, "/mystats"))[0].plain_text

    assert "Total: 1" not in one and "Nov 1" not in one
    assert two == one
