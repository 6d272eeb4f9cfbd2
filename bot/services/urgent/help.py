"""Spotting messages that mention urgent symptoms, and who to call.

The built-in set (bot/data/urgent_defaults.yaml) always applies; the council's content adds its
local triage numbers and extra phrases on top. Matching is offline and fast: words are mapped from
text-speak, misspellings are corrected to the nearest phrase word (rapidfuzz), and every word is
compared by its stem (Snowball), so one phrase covers "kick", "kicks", "kicked" and "kicking".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import Indel

from bot.services.local_info.content import TRIAGE, ContentSet, Helpline, TriageUnit, UrgentGroup
from bot.services.urgent.defaults import built_in, built_in_for

# Negations only count this close before a phrase, and never across a sentence or a "but".
NEGATION_WINDOW = 3
# "can't stop bleeding" is not "no bleeding": a negation right before one of these is no negation.
_DOUBLE_NEGATIVE = frozenset({"stop", "stopped", "stopping", "stops"})
# Urdu ends a sentence with its own full stop (U+06D4) and has its own comma, question mark and
# semicolon; "lekin" and "magar" are its "but".
_CLAUSE = re.compile(
    r"[.,;:!?\n()\u06d4\u060c\u061f\u061b]+|\b(?:but|lekin|lakin|magar|لیکن|مگر)\b",
    re.IGNORECASE,
)
_APOSTROPHES = re.compile(r"['’‘`]")
_NOT_WORD = re.compile(r"[^\w*]+")
# Text in Arabic script (Urdu) is typed many ways for the same word: with or without vowel marks
# (zer, zabar, pesh, shadd), with a tatweel stretch, a zero-width non-joiner inside the word or
# bidi marks around it, and with the Arabic keyboard's yeh, kaf and heh instead of Urdu's. These
# are removed or folded to one form, on phrases and messages alike, so one phrase covers them.
# Combining marks (after NFKD) go too, so "naïve" is "naive" and alef madda is alef.
_MARKS = re.compile(
    "[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
    "\u200b-\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff]"
)
_FOLDED = str.maketrans(
    {
        "\u064a": "\u06cc",  # Arabic yeh → Farsi/Urdu yeh
        "\u0649": "\u06cc",  # alef maksura → yeh
        "\u0643": "\u06a9",  # Arabic kaf → keheh
        "\u0647": "\u06c1",  # Arabic heh → heh goal
        "\u06be": "\u06c1",  # do-chashmi heh: typed for either heh
        "\u06c0": "\u06c1",
        "\u0629": "\u06c1",  # teh marbuta
        "\u06c3": "\u06c1",
        "\u06ba": "\u0646",  # noon ghunna: "نہیں" and "نہین" are one word
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Urdu digits
    }
)
_MAX_TEXT = 2000
# Misspellings are only corrected in longer words, where one slip rarely makes another word.
_FUZZY_MIN_LENGTH = 6
_FUZZY_TWO_SLIPS_LENGTH = 9
_CORRECTION_CACHE = 20_000
WILDCARD = "*"

# English's stemmer for every language's phrases: the translators' lists are tuned with it (they
# list a word's forms where it doesn't join them), and a non-Latin word passes through unchanged.
_stemmer = snowballstemmer.stemmer("english")


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped, punctuation to single spaces: how phrases are compared."""
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text)).translate(_FOLDED)
    return " ".join(_NOT_WORD.sub(" ", _APOSTROPHES.sub("", text.lower())).split())


@lru_cache(maxsize=20_000)
def _stem(word: str) -> str:
    return word if word == WILDCARD else str(_stemmer.stemWord(word))


@dataclass(frozen=True)
class _Group:
    group: UrgentGroup
    phrases: tuple[re.Pattern[str], ...]
    # All phrases in one pattern: most clauses match none, and one search says so.
    any_phrase: re.Pattern[str]
    not_if: re.Pattern[str] | None
    not_after: frozenset[str]


def _either(patterns: Iterable[re.Pattern[str]]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))


@dataclass
class Matcher:
    """Compiled phrase lists: which groups a message mentions."""

    groups: tuple[UrgentGroup, ...]
    negations: frozenset[str]
    spellings: dict[str, tuple[str, ...]]
    _compiled: tuple[_Group, ...] = ()
    _vocabulary: tuple[str, ...] = ()
    _corrections: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, groups: Iterable[UrgentGroup], negations: Iterable[str], spellings: dict[str, str]
    ) -> Matcher:
        """Compile the phrase lists once; matching a message is then a few regex searches."""
        matcher = cls(
            tuple(groups),
            frozenset(),
            {normalise(k): tuple(normalise(v).split()) for k, v in spellings.items()},
        )
        # "isnt" is spelled "is not": only the "not" negates, never the "is".
        matcher.negations = frozenset(matcher._spelled(n)[-1] for n in negations if normalise(n))
        vocabulary: set[str] = set(matcher.negations)
        compiled = []
        for group in matcher.groups:
            texts = (*group.phrases, *group.not_if)
            vocabulary.update(w for t in texts for w in matcher._spelled(t) if w != WILDCARD)
            phrases = tuple(matcher._pattern(p) for p in group.phrases)
            not_if = [matcher._pattern(p) for p in group.not_if]
            compiled.append(
                _Group(
                    group,
                    phrases,
                    _either(phrases),
                    _either(not_if) if not_if else None,
                    frozenset(_stem(w) for a in group.not_after for w in matcher._spelled(a)),
                )
            )
        matcher._compiled = tuple(compiled)
        # Plurals too, so "movments" is one slip from "movements" (and two from "movement").
        vocabulary |= {f"{w}s" for w in vocabulary if not w.endswith("s")}
        matcher._vocabulary = tuple(sorted(w for w in vocabulary if len(w) >= _FUZZY_MIN_LENGTH))
        return matcher

    def _spelled(self, text: str) -> list[str]:
        """Normalised words with text-speak written out ("cnt" → "can not")."""
        words: list[str] = []
        for word in normalise(text).split():
            words.extend(self.spellings.get(word, (word,)))
        return words

    def _pattern(self, phrase: str) -> re.Pattern[str]:
        pieces = []
        for word in (_stem(w) for w in self._spelled(phrase)):
            # Up to three words of any kind, each with the space after it.
            pieces.append(r"(?:\S+ ){0,3}" if word == WILDCARD else re.escape(word) + " ")
        return re.compile(r"(?<!\S)" + "".join(pieces).rstrip(" ") + r"(?!\S)")

    def _corrected(self, word: str) -> str:
        if len(word) < _FUZZY_MIN_LENGTH or word in self._corrections:
            return self._corrections.get(word, word)
        slips = 2 if len(word) >= _FUZZY_TWO_SLIPS_LENGTH else 1
        # Indel counts a changed letter as two slips: "bleding" → "bleeding", never "feeling"
        # → "feeding", so a real word one letter from a phrase word stays itself.
        found = process.extractOne(
            word, self._vocabulary, scorer=Indel.distance, score_cutoff=slips
        )
        if len(self._corrections) >= _CORRECTION_CACHE:
            self._corrections.clear()
        self._corrections[word] = found[0] if found else word
        return self._corrections[word]

    def words(self, clause: str) -> list[str]:
        """A clause's words as they are matched: spelled out, then corrected."""
        return [self._corrected(w) for w in self._spelled(clause)]

    def groups_in(self, text: str) -> list[UrgentGroup]:
        """The groups a message mentions, in the order they are listed."""
        clauses = []
        for part in _CLAUSE.split(text[:_MAX_TEXT]):
            words = self.words(part)
            if words:
                stems = [_stem(w) for w in words]
                clauses.append((words, stems, " ".join(stems)))
        found: dict[str, UrgentGroup] = {}
        for compiled in self._compiled:
            if compiled.group.id in found:
                continue
            if any(self._clause_matches(compiled, *clause) for clause in clauses):
                found[compiled.group.id] = compiled.group
        return list(found.values())

    def _clause_matches(
        self, compiled: _Group, words: list[str], stems: list[str], line: str
    ) -> bool:
        if not compiled.any_phrase.search(line):
            return False
        if compiled.not_if is not None and compiled.not_if.search(line):
            return False
        for pattern in compiled.phrases:
            for found in pattern.finditer(line):
                index = line.count(" ", 0, found.start())
                if not self._blocked(words, stems, index, compiled.not_after):
                    return True
        return False

    def _blocked(
        self, words: list[str], stems: list[str], index: int, others: frozenset[str]
    ) -> bool:
        for i in range(max(0, index - NEGATION_WINDOW), index):
            if stems[i] in others:
                return True
            if words[i] in self.negations and (
                i + 1 >= len(words) or words[i + 1] not in _DOUBLE_NEGATIVE
            ):
                return True
        return False


def _merge_groups(
    base: tuple[UrgentGroup, ...], extra: tuple[UrgentGroup, ...]
) -> tuple[UrgentGroup, ...]:
    """Council groups add to the built-in ones with the same id; new ones come after.

    A council group's not_if and not_after only limit its own phrases: nothing the council
    writes can stop a built-in phrase from matching.
    """
    merged = list(base)
    for group in extra:
        at = next((i for i, known in enumerate(merged) if known.id == group.id), None)
        if at is None:
            merged.append(group)
            continue
        known = merged[at]
        answer = {"message": group.message or known.message, "call": group.call or known.call}
        merged[at] = known.model_copy(update=answer)
        merged.append(group.model_copy(update=answer))
    return tuple(merged)


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))


@dataclass(frozen=True)
class UrgentRules:
    """What urgent help answers with: built-in numbers and phrases, plus the council's."""

    helplines: tuple[Helpline, ...]
    help_shows: tuple[str, ...]
    triage: tuple[TriageUnit, ...]
    sample: bool
    matcher: Matcher
    # Her language's phrases (built-in and the council's), matched beside the English ones;
    # None for English, or a language with no phrases of its own yet.
    own: Matcher | None = None
    # Group id → the group as she reads it: its message in her language where there is one.
    worded: dict[str, UrgentGroup] = field(default_factory=dict)
    language: str = "en"

    def groups_in(self, text: str) -> list[UrgentGroup]:
        """The groups a message mentions, in English or her language, worded for her."""
        found = {g.id: g for g in self.matcher.groups_in(text)}
        if self.own is not None:
            english = {g.id: g for g in self.matcher.groups}
            for group in self.own.groups_in(text):
                # A built-in group keeps English's call list, whichever language matched it.
                found.setdefault(group.id, english.get(group.id, group))
        return [self.worded.get(i, g) for i, g in found.items()]

    def helpline(self, helpline_id: str) -> Helpline | None:
        """The helpline with this id."""
        return next((h for h in self.helplines if h.id == helpline_id), None)

    def triage_for(self, district_code: str | None) -> TriageUnit | None:
        """The maternity triage line serving this district, if the council loaded one."""
        if district_code is None:
            return None
        return next((u for u in self.triage if district_code in u.districts), None)


def _words_of(helpline: Helpline, other: Helpline | None) -> Helpline:
    """A helpline with another language's name and note; its number stays its own."""
    if other is None:
        return helpline
    return helpline.model_copy(update={"name": other.name, "note": other.note})


def _in_language(rules: UrgentRules, content: ContentSet | None, language: str) -> UrgentRules:
    """English's rules with her language's phrases beside them and its wording for replies."""
    own_defaults = built_in_for(language)
    translated = content.for_language(language) if content is not None else None
    if own_defaults is None and (translated is None or translated.language != language):
        return rules
    groups: tuple[UrgentGroup, ...] = own_defaults.groups if own_defaults else ()
    negations: tuple[str, ...] = own_defaults.negations if own_defaults else ()
    helplines = {h.id: h for h in rules.helplines}
    if own_defaults is not None:
        for other in own_defaults.helplines:
            if other.id in helplines:
                helplines[other.id] = _words_of(helplines[other.id], other)
    triage = rules.triage
    if translated is not None and content is not None:
        groups = _merge_groups(groups, translated.urgent_own)
        negations = _union(negations, translated.negations_own)
        english = {h.id: h for h in content.helplines}
        for other in translated.helplines:
            # Only what the council really translated; its English wording is already there.
            if other.id in helplines and other != english.get(other.id):
                helplines[other.id] = _words_of(helplines[other.id], other)
        triage = translated.triage
    spellings = own_defaults.spellings if own_defaults else {}
    own = Matcher.build(groups, negations, spellings) if groups else None
    # Her message for a group: her language's where it has one, otherwise English's. A draft
    # translation of the built-in wording (not reviewed yet: hazard H13) keeps English's beside it.
    draft = own_defaults is not None and not own_defaults.reviewed
    drafted = {g.id for g in own_defaults.groups} if draft and own_defaults else set()
    worded = {
        g.id: g.model_copy(
            update={
                "message": f"{mine.message}\n\n{g.message}"
                if mine.id in drafted and g.message
                else mine.message
            }
        )
        for g in rules.matcher.groups
        for mine in groups
        if mine.id == g.id and mine.message
    }
    return UrgentRules(
        helplines=tuple(helplines.values()),
        help_shows=rules.help_shows,
        triage=triage,
        sample=rules.sample,
        matcher=rules.matcher,
        own=own,
        worded=worded,
        language=language,
    )


def build_rules(content: ContentSet | None, language: str = "en") -> UrgentRules:
    """The built-in set with the council's content (if any) on top, for her language."""
    english = _build_english(content)
    return english if language == "en" else _in_language(english, content, language)


def _build_english(content: ContentSet | None) -> UrgentRules:
    defaults = built_in()
    helplines = {h.id: h for h in defaults.helplines}
    groups, negations, shows = defaults.groups, defaults.negations, defaults.help_shows
    triage: tuple[TriageUnit, ...] = ()
    if content is not None:
        # 999 is never reworded: it is the one number every reply must get right.
        helplines |= {h.id: h for h in content.helplines if h.id != "emergency"}
        groups = _merge_groups(groups, content.urgent)
        negations = _union(negations, content.negations)
        shows = _union(shows, content.help_shows)
        triage = content.triage
    return UrgentRules(
        helplines=tuple(helplines.values()),
        help_shows=shows,
        triage=triage,
        sample=content.sample if content is not None else False,
        matcher=Matcher.build(groups, negations, defaults.spellings),
    )


_cache: list[tuple[ContentSet | None, dict[str, UrgentRules]]] = []


def rules_for(content: ContentSet | None, language: str = "en") -> UrgentRules:
    """The rules for this content and language, compiled once per loaded version."""
    if not _cache or _cache[0][0] is not content:
        _cache[:] = [(content, {})]
    compiled = _cache[0][1]
    if language not in compiled:
        compiled[language] = build_rules(content, language)
    return compiled[language]


def urgent_groups(content: ContentSet | None, text: str, language: str = "en") -> list[UrgentGroup]:
    """The urgent-help groups a message mentions (built-in and the council's)."""
    return rules_for(content, language).groups_in(text)


@dataclass(frozen=True)
class CallList:
    """Who to call, in order; `triage` is None when her area (or its unit) is unknown."""

    helplines: tuple[Helpline, ...]
    triage: TriageUnit | None
    wants_triage: bool

    @property
    def ids(self) -> tuple[str, ...]:
        """The helpline ids, with "triage" when her maternity unit is wanted."""
        return (TRIAGE,) * self.wants_triage + tuple(h.id for h in self.helplines)


def who_to_call(
    rules: UrgentRules, groups: list[UrgentGroup], district_code: str | None
) -> CallList:
    """The numbers the matched groups point to, each once."""
    seen: list[str] = []
    for group in groups:
        seen.extend(c for c in group.call if c not in seen)
    helplines = tuple(h for h in (rules.helpline(i) for i in seen if i != TRIAGE) if h)
    return CallList(helplines, rules.triage_for(district_code), TRIAGE in seen)
