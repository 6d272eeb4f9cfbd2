"""Spotting messages that mention urgent symptoms, and who to call; the words are content."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bot.services.content import TRIAGE, ContentSet, Helpline, TriageUnit, UrgentGroup

# Negations only count this close before a phrase, and never across a sentence or a "but".
NEGATION_WINDOW = 3
_CLAUSE = re.compile(r"[.,;:!?\n()]+|\bbut\b", re.IGNORECASE)
_APOSTROPHES = re.compile(r"['’‘`]")
_NOT_WORD = re.compile(r"[^\w*]+")
_MAX_TEXT = 2000


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped, punctuation to single spaces: how phrases are compared."""
    return " ".join(_NOT_WORD.sub(" ", _APOSTROPHES.sub("", text.lower())).split())


@cache
def _pattern(phrase: str) -> re.Pattern[str]:
    words = [w for w in normalise(phrase).split() if w]
    pieces = []
    for index, word in enumerate(words):
        if word == "*":
            # Up to three words of any kind, each with the space after it.
            pieces.append(r"(?:\w+ ){0,3}")
            continue
        # A word may carry a plural or possessive "s" ("movements", "babys").
        pieces.append(re.escape(word) + "s?" + (" " if index < len(words) - 1 else ""))
    return re.compile(r"(?<!\w)" + "".join(pieces) + r"(?!\w)")


def _clauses(text: str) -> list[str]:
    return [c for c in (normalise(part) for part in _CLAUSE.split(text[:_MAX_TEXT])) if c]


def _negated(clause: str, start: int, negations: frozenset[str]) -> bool:
    before = clause[:start].split()[-NEGATION_WINDOW:]
    return any(word in negations for word in before)


def _matches(group: UrgentGroup, clause: str, negations: frozenset[str]) -> bool:
    if any(_pattern(p).search(clause) for p in group.not_if):
        return False
    for phrase in group.phrases:
        for found in _pattern(phrase).finditer(clause):
            if not _negated(clause, found.start(), negations):
                return True
    return False


def urgent_groups(content: ContentSet, text: str) -> list[UrgentGroup]:
    """The urgent-help groups a message mentions, in the order the content lists them."""
    negations = frozenset(normalise(n) for n in content.negations)
    clauses = _clauses(text)
    return [g for g in content.urgent if any(_matches(g, c, negations) for c in clauses)]


@dataclass(frozen=True)
class CallList:
    """Who to call, in order; `triage` is None when her area (or its unit) is unknown."""

    helplines: tuple[Helpline, ...]
    triage: TriageUnit | None
    wants_triage: bool


def who_to_call(
    content: ContentSet, groups: list[UrgentGroup], district_code: str | None
) -> CallList:
    """The numbers the matched groups point to, each once."""
    seen: list[str] = []
    for group in groups:
        seen.extend(c for c in group.call if c not in seen)
    helplines = tuple(h for h in (content.helpline(i) for i in seen if i != TRIAGE) if h)
    # Triage goes first when asked for: it is the number that can act on pregnancy symptoms.
    return CallList(helplines, content.triage_for(district_code), TRIAGE in seen)
