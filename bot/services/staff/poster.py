"""A printable A4 poster for a join link: the council's logo, an invitation, a QR code, and
what someone without a camera (or without Telegram yet) needs to join.

segno makes the QR code (pure Python, no system libraries) and Pillow lays out the page with its
bundled scalable font, so posters look the same on any machine. Pillow also writes the PDF: one
A4 page at the poster's own resolution, so the printed page is exactly the PNG, with no second
layout to keep in step (and no new dependency). The words come from the message catalogue, like
every other text residents see.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import segno
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

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


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit(
    draw: ImageDraw.ImageDraw, text: str, size: int, width: int
) -> tuple[int, float, float, float, float]:
    """The largest size up to `size` at which `text` fits `width`, and its box."""
    while True:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=_font(size))
        if right - left <= width or size <= 20:
            return size, left, top, right, bottom
        size -= 2


def _centred(draw: ImageDraw.ImageDraw, y: int, text: str, size: int, fill: tuple[int, ...]) -> int:
    """Draw text centred at height y, shrinking it to fit the width; returns the next free y."""
    size, left, top, right, bottom = _fit(draw, text, size, _WIDTH - 2 * _MARGIN)
    draw.text(((_WIDTH - (right - left)) / 2 - left, y - top), text, font=_font(size), fill=fill)
    return int(y + (bottom - top) + size // 2)


def _height(draw: ImageDraw.ImageDraw, text: str, size: int) -> int:
    size, _, top, _, bottom = _fit(draw, text, size, _WIDTH - 2 * _MARGIN)
    return int((bottom - top) + size // 2)


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
    size, box_left, top, right, bottom = _fit(draw, text.council, 46, width - 60)
    draw.text(
        ((_WIDTH - (right - box_left)) / 2 - box_left, y + (height - (bottom - top)) / 2 - top),
        text.council,
        font=_font(size),
        fill=_ACCENT,
    )
    return y + height


def render_poster(url: str, text: PosterText) -> Poster:
    """The poster for `url`, as PNG and as a print-ready A4 PDF."""
    page = Image.new("RGB", (_WIDTH, _HEIGHT), "white")
    draw = ImageDraw.Draw(page)
    y = _logo_slot(page, draw, _MARGIN, text)
    y = _centred(draw, y + 40, text.title, 110, _ACCENT)
    y = _centred(draw, y + 10, text.invitation, 46, _INK)
    y = _centred(draw, y + 10, text.free_private, 44, _ACCENT)
    y = _centred(draw, y, text.private_detail, 32, _SOFT_INK)
    # Everything under the code, measured first, so the code gets whatever room is left.
    below: list[tuple[str, int, tuple[int, ...], int]] = [
        (text.scan_hint, 34, _INK, 0),
        (text.type_hint, 28, _SOFT_INK, 14),
        (typeable_link(url), 34, _INK, 0),
        (text.search_hint.format(handle=bot_handle(url)), 30, _INK, 6),
        (text.app_needed, 28, _SOFT_INK, 14),
        (text.clinic, 34, _ACCENT, 20),
    ]
    below_height = sum(_height(draw, line, size) + gap for line, size, _, gap in below)
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
        y = _centred(draw, y + gap, line, size, fill)
    png = io.BytesIO()
    page.save(png, format="PNG", optimize=True)
    pdf = io.BytesIO()
    page.save(pdf, format="PDF", resolution=DPI, title=text.title, author=text.council)
    quiet = _QUIET_ZONE * scale
    return Poster(png.getvalue(), pdf.getvalue(), (left + quiet, top + quiet, scale))
