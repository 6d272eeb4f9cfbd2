"""Polish and Romanian answers put into the English words the due-date and yes/no readers read.

The Polish catalogue asks for "maj 2027", "20 tygodni", "za 20 tygodni" and "tak" or "nie"; the
Romanian one for "mai 2027", "20 de săptămâni", "peste 20 de săptămâni" and "da" or "nu". Those
answers, typed with or without the letters' accents (many type Polish and Romanian on an English
keyboard), become "May 2027", "20 weeks", "in 20 weeks", "yes" or "no" before they are read. As
with Urdu, nobody writing English types these words, so they are read whatever her language.
"""

from __future__ import annotations

import re
import unicodedata

# "ł" has no decomposition; the other Polish and Romanian letters lose their marks in NFKD.
_LATIN_EXTRA = str.maketrans({"ł": "l", "Ł": "l"})

_MONTHS = {
    # Polish: the month's name, "14 marca" (of March), and "w marcu" (in March).
    "january": "styczen stycznia styczniu ianuarie",
    "february": "luty lutego lutym februarie",
    "march": "marzec marca marcu martie",
    "april": "kwiecien kwietnia kwietniu aprilie",
    "may": "maj maja maju mai",
    "june": "czerwiec czerwca czerwcu iunie",
    "july": "lipiec lipca lipcu iulie",
    "august": "sierpien sierpnia sierpniu",
    "september": "wrzesien wrzesnia wrzesniu septembrie",
    "october": "pazdziernik pazdziernika pazdzierniku octombrie",
    "november": "listopad listopada listopadzie noiembrie",
    "december": "grudzien grudnia grudniu decembrie",
}
_WORDS = {
    **{word: english for english, words in _MONTHS.items() for word in words.split()},
    # Weeks, days and months, as counted ("20 tygodni", "3 dni", "20 de saptamani", "5 luni").
    **dict.fromkeys(["tydzien", "tygodnie", "tygodni", "tygodniu", "tyg"], "weeks"),
    **dict.fromkeys(["saptamana", "saptamani", "saptamanii", "sapt"], "weeks"),
    **dict.fromkeys(["dzien", "dni", "dnia", "zi", "zile"], "days"),
    **dict.fromkeys(
        ["miesiac", "miesiace", "miesiecy", "miesiaca", "mies", "luna", "luni"], "months"
    ),
    "okolo": "about",
    "aproximativ": "about",
    "cam": "about",
}
_WORD = re.compile(r"(?<!\w)(?:" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\.?(?!\w)")

# Longer phrases first: "nie wiem" is not a no, "nie zgadza sie" is not a yes.
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"(?:jeszcze )?nie wiem(?: jeszcze)?|nu stiu(?: inca)?|inca nu stiu", "dont know"),
    (r"tak,? (?:prosze|poprosze)|da,? (?:va|te) rog", "yes please"),
    (r"nie,? dziekuje|nu,? (?:multumesc|mersi)", "no thanks"),
    (r"tak,? zgadza sie|da,? (?:e |este )?corect", "yes it is"),
    (r"nie zgadza sie|nu e corect|nu este corect|gresit", "not right"),
    (r"zgadza sie|(?:e |este )?corect", "thats right"),
    (r"tak|da", "yes"),
    (r"nie|nu", "no"),
    (r"(?:w )?ciazy|de sarcina|insarcinata", "pregnant"),
    # "za 20 tygodni" and "peste 20 de saptamani" are "in 20 weeks".
    (r"(?:za|peste)(?= \d)", "in"),
    # "w maju" is "in May" ("in" is Romanian's own word once its accent is gone).
    (r"we?(?= (?:" + "|".join(_MONTHS) + r")(?!\w))", "in"),
)
_PHRASE = [(re.compile(r"(?<!\w)(?:" + p + r")(?!\w)"), english) for p, english in _PHRASES]
# "20 tygodni i 3 dni", "20 saptamani si 3 zile": the "and" between weeks and days.
_AND = re.compile(r"(?<=weeks) (?:i|si) (?=\d)")
# Romanian counts "20 de săptămâni": the "de" after a number goes.
_COUNTED_DE = re.compile(r"(\d) de (?=[a-z])")


def _without_marks(text: str) -> str:
    """Latin letters without their accents; other scripts (Urdu) are left as they are."""
    return "".join(
        "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if ch < "\u0250"
        else ch
        for ch in text.translate(_LATIN_EXTRA)
    )


def from_polish_or_romanian(text: str) -> str:
    """Her answer (lower case, spaces collapsed) with Polish and Romanian words made English."""
    text = _COUNTED_DE.sub(r"\1 ", _without_marks(text))
    text = _WORD.sub(lambda m: _WORDS[m.group(0).rstrip(".")], text)
    for pattern, english in _PHRASE:
        text = pattern.sub(english, text)
    text = _AND.sub(" and ", text)
    return " ".join(text.split())
