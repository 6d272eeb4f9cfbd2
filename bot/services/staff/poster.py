"""A printable A4 poster for a join link: the council's logo, an invitation, a QR code, and
what someone without a camera (or without Telegram yet) needs to join.

segno makes the QR code (pure Python, no system libraries) and Pillow lays out the page: English
with its bundled scalable font, so posters look the same on any machine; other languages with
Debian's Noto fonts (fonts-noto-core), and Urdu shaped right to left by libraqm (Debian's
libraqm0, which Pillow uses when it is installed). Pillow also writes the PDF: one
A4 page at the poster's own resolution, so the printed page is exactly the PNG, with no second
layout to keep in step (and no new dependency). The words come from the message catalogue, like
every other text residents see.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import segno
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError, features

from bot.texts import load_catalogue

logger = logging.getLogger(__name__)

# A4 at 150 dots per inch: sharp enough to print, small enough to send.
DPI = 150
_WIDTH, _HEIGHT = 1240, 1754
_MARGIN = 90
_QUIET_ZONE = 4
_INK = (35, 31, 32)
_SOFT_INK = (90, 84, 86)
_ACCENT = (182, 40, 110)
_ACCENT_TINT = (250, 234, 242)
_LOGO_BOX = (520, 180)
_QR_MIN_PIXELS = 420


@dataclass(frozen=True)
class PosterText:
    """What the poster says, top to bottom (plain text: the poster is not HTML)."""

    council: str
    title: str
    invitation: str
    free_private: str
    private_detail: str
    scan_hint: str
    type_hint: str
    search_hint: str
    app_needed: str
    clinic: str
    # The council's logo (a PNG); without one a plain wordmark of its name fills the slot.
    logo: Path | None = None
    language: str = "en"


def poster_text(language: str, council: str, clinic: str, logo: Path | None = None) -> PosterText:
    """The poster's words from the catalogue of its language (plain text: not HTML)."""
    texts = load_catalogue(language)
    return PosterText(
        council=council,
        title=texts.raw("poster.title"),
        invitation=texts.raw("poster.invitation"),
        free_private=texts.raw("poster.free_private"),
        private_detail=texts.raw("poster.private_detail"),
        scan_hint=texts.raw("poster.scan"),
        type_hint=texts.raw("poster.type"),
        search_hint=texts.raw("poster.search"),
        app_needed=texts.raw("poster.app"),
        clinic=clinic,
        logo=logo,
        language=texts.language,
    )


@dataclass(frozen=True)
class Poster:
    """The PNG and the same page as a PDF, and where the QR code's modules are in the PNG
    (left, top, pixels per module)."""

    png: bytes
    pdf: bytes
    qr_box: tuple[int, int, int]


def typeable_link(url: str) -> str:
    """The link as someone would type it: no scheme, nothing she doesn't need."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def bot_handle(url: str) -> str:
    """@username of the bot a t.me link opens."""
    return "@" + urlsplit(url).path.strip("/").split("/")[0]


_FONTS = Path("/usr/share/fonts/truetype/noto")
# Nastaliq is how Urdu is written; Naskh is the fallback Arabic-script face.
_ARABIC_FONTS = ("NotoNastaliqUrdu-Regular.ttf", "NotoNaskhArabic-Regular.ttf")
_LATIN_FONTS = ("NotoSans-Regular.ttf",)
_RIGHT_TO_LEFT = frozenset({"ur", "ar", "fa"})
_ARABIC = "\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff"
# A run of Arabic-script words, with the spaces and punctuation between them.
_ARABIC_RUN = re.compile(rf"[{_ARABIC}]+(?:[\s.,!?:;()\-–]*[{_ARABIC}]+)*[۔؟!:.]?")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def shapes_right_to_left() -> bool:
    """Whether Pillow can shape right-to-left text here (libraqm with FriBiDi)."""
    return bool(features.check("raqm"))


def _first_font(names: tuple[str, ...]) -> Path | None:
    return next((_FONTS / n for n in names if (_FONTS / n).is_file()), None)


@cache
def _font(size: int, script: str = "en") -> Font:
    """Pillow's bundled face for English; Noto for other Latin text and for Arabic script."""
    if script == "arabic":
        path = _first_font(_ARABIC_FONTS)
        if path is not None:
            engine = ImageFont.Layout.RAQM if shapes_right_to_left() else ImageFont.Layout.BASIC
            if engine is ImageFont.Layout.BASIC:
                logger.warning("libraqm is missing: Urdu on posters will not be joined up")
            return ImageFont.truetype(str(path), size, layout_engine=engine)
    if script == "latin":
        path = _first_font(_LATIN_FONTS)
        if path is not None:
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class _Run:
    text: str
    arabic: bool


def runs(text: str) -> list[_Run]:
    """The text as runs of one script each, in reading order: each is drawn with its own font."""
    found: list[_Run] = []
    at = 0
    for match in _ARABIC_RUN.finditer(text):
        if match.start() > at:
            found.append(_Run(text[at : match.start()], False))
        found.append(_Run(match.group(), True))
        at = match.end()
    if at < len(text):
        found.append(_Run(text[at:], False))
    return [r for r in found if r.text.strip()] or [_Run(text, False)]


class _Line:
    """One line of poster text at one size, measured run by run."""

    def __init__(self, draw: ImageDraw.ImageDraw, text: str, size: int, language: str) -> None:
        self.size = size
        self.right_to_left = language in _RIGHT_TO_LEFT
        self.language = language
        self.parts: list[tuple[str, Font, str | None, tuple[float, float, float, float]]] = []
        for run in runs(text) if language != "en" else [_Run(text, False)]:
            script = "arabic" if run.arabic else ("en" if language == "en" else "latin")
            font = _font(size, script)
            # raqm shapes the run (joined letters) and orders it right to left.
            direction = "rtl" if run.arabic and shapes_right_to_left() else None
            words = run.text if language == "en" else run.text.strip()
            box = draw.textbbox(
                (0, 0),
                words,
                font=font,
                direction=direction,
                language=language if direction else None,
            )
            self.parts.append((words, font, direction, box))
        self.gap = size // 3 if len(self.parts) > 1 else 0
        self.width = sum(b[2] - b[0] for *_, b in self.parts) + self.gap * (len(self.parts) - 1)
        self.top = min(b[1] for *_, b in self.parts)
        self.bottom = max(b[3] for *_, b in self.parts)

    def draw(self, draw: ImageDraw.ImageDraw, left: float, y: float, fill: tuple[int, ...]) -> None:
        # Right to left, the first run in reading order is the rightmost.
        order = reversed(self.parts) if self.right_to_left else iter(self.parts)
        x = left
        for words, font, direction, box in order:
            # Each run centred on the line: a Latin word sits in the middle of Nastaliq's height.
            middle = ((self.bottom - self.top) - (box[3] - box[1])) / 2
            draw.text(
                (x - box[0], y + middle - box[1]),
                words,
                font=font,
                fill=fill,
                direction=direction,
                language=self.language if direction else None,
            )
            x += box[2] - box[0] + self.gap


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int, language: str) -> _Line:
    """The line at the largest size up to `size` at which it fits `width`."""
    while True:
        line = _Line(draw, text, size, language)
        if line.width <= width or size <= 20:
            return line
        size -= 2


def _centred(
    draw: ImageDraw.ImageDraw, y: int, text: str, size: int, fill: tuple[int, ...], language: str
) -> int:
    """Draw text centred at height y, shrinking it to fit the width; returns the next free y."""
    line = _fit(draw, text, size, _WIDTH - 2 * _MARGIN, language)
    line.draw(draw, (_WIDTH - line.width) / 2, y, fill)
    return int(y + (line.bottom - line.top) + line.size // 2)


def _height(draw: ImageDraw.ImageDraw, text: str, size: int, language: str) -> int:
    line = _fit(draw, text, size, _WIDTH - 2 * _MARGIN, language)
    return int((line.bottom - line.top) + line.size // 2)


def _logo(path: Path | None) -> Image.Image | None:
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            logo = image.convert("RGBA")
    except (OSError, UnidentifiedImageError):
        # A poster without the logo beats no poster; the setting is checked at start-up too.
        logger.warning("the council logo could not be read; using the placeholder")
        return None
    logo.thumbnail(_LOGO_BOX, Image.Resampling.LANCZOS)
    return logo


def _logo_slot(page: Image.Image, draw: ImageDraw.ImageDraw, y: int, text: PosterText) -> int:
    """The council's logo, or a quiet wordmark of its name; returns the next free y."""
    logo = _logo(text.logo)
    if logo is not None:
        page.paste(logo, ((_WIDTH - logo.width) // 2, y), logo)
        return y + logo.height
    width, height = _LOGO_BOX
    left = (_WIDTH - width) // 2
    draw.rounded_rectangle(
        (left, y, left + width, y + height), radius=28, fill=_ACCENT_TINT, outline=_ACCENT, width=3
    )
    line = _fit(draw, text.council, 46, width - 60, text.language)
    line.draw(draw, (_WIDTH - line.width) / 2, y + (height - (line.bottom - line.top)) / 2, _ACCENT)
    return y + height


def render_poster(url: str, text: PosterText) -> Poster:
    """The poster for `url`, as PNG and as a print-ready A4 PDF."""
    page = Image.new("RGB", (_WIDTH, _HEIGHT), "white")
    draw = ImageDraw.Draw(page)
    y = _logo_slot(page, draw, _MARGIN, text)
    language = text.language
    y = _centred(draw, y + 40, text.title, 110, _ACCENT, language)
    y = _centred(draw, y + 10, text.invitation, 46, _INK, language)
    y = _centred(draw, y + 10, text.free_private, 44, _ACCENT, language)
    y = _centred(draw, y, text.private_detail, 32, _SOFT_INK, language)
    # Everything under the code, measured first, so the code gets whatever room is left.
    below: list[tuple[str, int, tuple[int, ...], int]] = [
        (text.scan_hint, 34, _INK, 0),
        (text.type_hint, 28, _SOFT_INK, 14),
        (typeable_link(url), 34, _INK, 0),
        (text.search_hint.format(handle=bot_handle(url)), 30, _INK, 6),
        (text.app_needed, 28, _SOFT_INK, 14),
        (text.clinic, 34, _ACCENT, 20),
    ]
    below_height = sum(_height(draw, line, size, language) + gap for line, size, _, gap in below)
    qr = segno.make(url, error="m")
    modules = int(qr.symbol_size(scale=1, border=_QUIET_ZONE)[0])
    room = _HEIGHT - _MARGIN - below_height - (y + 20) - 20
    # Whole pixels per module keep every module square, which scanners like best.
    scale = int(max(1, min(_WIDTH - 2 * _MARGIN, max(room, _QR_MIN_PIXELS)) // modules))
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=_QUIET_ZONE)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    left, top = (_WIDTH - code.width) // 2, y + 20
    page.paste(code, (left, top))
    y = top + code.height + 20
    for line, size, fill, gap in below:
        y = _centred(draw, y + gap, line, size, fill, language)
    png = io.BytesIO()
    page.save(png, format="PNG", optimize=True)
    pdf = io.BytesIO()
    page.save(pdf, format="PDF", resolution=DPI, title=text.title, author=text.council)
    quiet = _QUIET_ZONE * scale
    return Poster(png.getvalue(), pdf.getvalue(), (left + quiet, top + quiet, scale))
