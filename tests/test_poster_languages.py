"""QR posters in any offered language, Urdu shaped right to left (libraqm) in a Nastaliq face."""

from __future__ import annotations

import io
import re

import pytest
import segno
from PIL import Image, ImageDraw, ImageFont

from bot.clock import FixedClock
from bot.sandbox.fake_api import FakeTelegram
from bot.services.staff import poster as posters
from bot.services.staff.poster import poster_text, render_poster, runs, shapes_right_to_left
from bot.texts import load_catalogue
from models import StaffRole
from tests.console_support import console_client, csrf_of, sign_in, staff_member
from tests.harness import BotHarness
from tests.test_staff_join_links import qr_matrix_in

URL = "https://t.me/BumpBuddiesBot?start=harlow-midwives-Ab3dE_fG"
POSTER_KEYS = ("invitation", "free_private", "private_detail", "scan", "type", "app")
FIELDS = ("invitation", "free_private", "private_detail", "scan_hint", "type_hint", "app_needed")
needs_raqm = pytest.mark.skipif(
    not shapes_right_to_left(),
    reason="Pillow has no libraqm here (apt-get install libraqm0): Urdu cannot be shaped",
)


@pytest.mark.parametrize("language", ["pl", "ro", "ur"])
def test_the_posters_words_come_from_the_catalogue_of_its_language(language: str) -> None:
    texts = load_catalogue(language)
    words = poster_text(language, "Essex County Council", "Harlow Midwives")
    english = poster_text("en", "Essex County Council", "Harlow Midwives")

    assert words.language == language
    for key, field in zip(POSTER_KEYS, FIELDS, strict=True):
        assert getattr(words, field) == texts.raw(f"poster.{key}")
        assert getattr(words, field) != getattr(english, field)
    assert "{handle}" in words.search_hint


def test_mixed_urdu_and_latin_text_is_split_into_runs_of_one_script() -> None:
    found = runs("یا ٹیلیگرام کھولیں اور @BumpBuddiesBot تلاش کریں")

    assert [(r.text.strip(), r.arabic) for r in found] == [
        ("یا ٹیلیگرام کھولیں اور", True),
        ("@BumpBuddiesBot", False),
        ("تلاش کریں", True),
    ]


@needs_raqm
def test_urdu_is_shaped_by_raqm_so_its_letters_join() -> None:
    font = posters._font(60, "arabic")
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    word = "ٹیلیگرام"

    assert isinstance(font, ImageFont.FreeTypeFont)
    family = str(font.getname()[0])
    assert "Nastaliq" in family or "Naskh" in family
    assert font.layout_engine == ImageFont.Layout.RAQM
    shaped = draw.textbbox((0, 0), word, font=font, direction="rtl", language="ur")
    # One glyph per letter, side by side, is what an unshaped (BASIC) layout would give.
    basic = ImageFont.truetype(font.path, 60, layout_engine=ImageFont.Layout.BASIC)
    unshaped = draw.textbbox((0, 0), word, font=basic)
    assert shaped[2] - shaped[0] != unshaped[2] - unshaped[0]


@needs_raqm
def test_an_urdu_poster_renders_right_to_left_and_its_code_still_scans() -> None:
    words = poster_text("ur", "Essex County Council", "Harlow Midwives")
    poster = render_poster(URL, words)
    english = render_poster(URL, poster_text("en", "Essex County Council", "Harlow Midwives"))

    qr = segno.make(URL, error="m")
    size = int(qr.symbol_size(scale=1, border=0)[0])
    expected = [[bool(module) for module in row] for row in qr.matrix]
    assert qr_matrix_in(poster.png, poster.qr_box, size) == expected
    with Image.open(io.BytesIO(poster.png)) as image:
        assert image.size == (1240, 1754)
    assert poster.png != english.png


async def test_the_console_join_link_page_offers_a_poster_in_each_offered_language(
    fake: FakeTelegram, database_url: str, clock: FixedClock
) -> None:
    async with (
        BotHarness.start(
            fake, database_url, clock, languages="pl,ur", allow_unreviewed_languages=True
        ) as bot,
        console_client(bot) as web,
    ):
        midwife = await staff_member(bot, fake, StaffRole.MIDWIFE)
        await sign_in(bot, web, midwife)
        page = await web.get("/links")
        made = await web.post("/links", data={"clinic": "Broomfield", "csrf_token": csrf_of(page)})
        found = re.search(r"/links/(\d+)/poster\.png\?language=ur", made.text)
        assert found, made.text
        link_id = found.group(1)
        urdu = await web.get(f"/links/{link_id}/poster.png?language=ur")
        english = await web.get(f"/links/{link_id}/poster.png")
        unknown = await web.get(f"/links/{link_id}/poster.png?language=de")

    assert "Urdu:" in made.text and "Polish:" in made.text
    assert urdu.content.startswith(b"\x89PNG")
    assert "poster-" in urdu.headers["content-disposition"]
    assert "-ur.png" in urdu.headers["content-disposition"]
    assert urdu.content != english.content
    # A language the bot doesn't offer gets the English poster.
    assert unknown.content == english.content
