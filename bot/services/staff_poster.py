"""A printable A4 poster for a join link: the council's name, an invitation, and a QR code.

segno makes the QR code (pure Python, no system libraries) and Pillow lays out the page with its
bundled scalable font, so posters look the same on any machine. The words come from the message
catalogue, like every other text residents see.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw, ImageFont

# A4 at 150 dots per inch: sharp enough to print, small enough to send.
_WIDTH, _HEIGHT = 1240, 1754
_MARGIN = 90
_QUIET_ZONE = 4
_INK = (35, 31, 32)
_ACCENT = (182, 40, 110)


@dataclass(frozen=True)
class PosterText:
    """What the poster says, top to bottom."""

    council: str
    title: str
    invitation: str
    scan_hint: str
    clinic: str


@dataclass(frozen=True)
class Poster:
    """The PNG, and where the QR code's modules are (left, top, pixels per module)."""

    png: bytes
    qr_box: tuple[int, int, int]


def _centred(draw: ImageDraw.ImageDraw, y: int, text: str, size: int, fill: tuple[int, ...]) -> int:
    """Draw text centred at height y, shrinking it to fit the width; returns the next free y."""
    while True:
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= _WIDTH - 2 * _MARGIN or size <= 20:
            break
        size -= 2
    draw.text(((_WIDTH - (right - left)) / 2 - left, y - top), text, font=font, fill=fill)
    return int(y + (bottom - top) + size // 2)


def render_poster(url: str, text: PosterText) -> Poster:
    """The poster for `url`."""
    page = Image.new("RGB", (_WIDTH, _HEIGHT), "white")
    draw = ImageDraw.Draw(page)
    y = _centred(draw, _MARGIN, text.council, 56, _INK)
    y = _centred(draw, y + 40, text.title, 110, _ACCENT)
    y = _centred(draw, y + 10, text.invitation, 46, _INK)
    qr = segno.make(url, error="m")
    modules = int(qr.symbol_size(scale=1, border=_QUIET_ZONE)[0])
    # Whole pixels per module keep every module square, which scanners like best.
    scale = int(max(1, min(_WIDTH - 2 * _MARGIN, _HEIGHT - y - 330) // modules))
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=_QUIET_ZONE)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    left, top = (_WIDTH - code.width) // 2, y + 20
    page.paste(code, (left, top))
    y = top + code.height + 20
    y = _centred(draw, y, text.scan_hint, 34, _INK)
    y = _centred(draw, y + 10, url, 30, _INK)
    _centred(draw, y + 20, text.clinic, 34, _ACCENT)
    out = io.BytesIO()
    page.save(out, format="PNG", optimize=True)
    quiet = _QUIET_ZONE * scale
    return Poster(out.getvalue(), (left + quiet, top + quiet, scale))
