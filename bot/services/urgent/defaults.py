"""Built-in urgent help (bot/data/urgent_defaults.yaml): it works before any content is loaded."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.services.local_info.content import Helpline, UrgentGroup


class BuiltInUrgentHelp(BaseModel):
    """National helplines and the phrase lists every deployment starts from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    helplines: tuple[Helpline, ...] = Field(min_length=1)
    help_shows: tuple[str, ...]
    negations: tuple[str, ...]
    spellings: dict[str, str]
    groups: tuple[UrgentGroup, ...] = Field(min_length=1)
    # Another language's file is a draft until a clinician who reads it has reviewed it (then
    # `reviewed: true`); a draft's messages reach her with the English wording beside them.
    reviewed: bool = False


@cache
def built_in() -> BuiltInUrgentHelp:
    """The built-in set, read once from the package (no network, no database)."""
    source = resources.files("bot").joinpath("data/urgent_defaults.yaml").read_text("utf-8")
    return BuiltInUrgentHelp.model_validate(yaml.safe_load(source))


@cache
def built_in_for(language: str) -> BuiltInUrgentHelp | None:
    """The built-in set in another language (bot/data/urgent_defaults.<language>.yaml), if any.

    Its groups' phrases are matched beside the English ones and their messages are what she
    reads; its helplines only reword names and notes: the numbers are always the English file's.
    """
    if language == "en" or not language.isalpha():
        return None
    path = resources.files("bot").joinpath(f"data/urgent_defaults.{language}.yaml")
    if not path.is_file():
        return None
    return BuiltInUrgentHelp.model_validate(yaml.safe_load(path.read_text("utf-8")))


def built_in_languages() -> tuple[str, ...]:
    """Languages with built-in urgent help of their own (bot/data/urgent_defaults.<lang>.yaml)."""
    folder = resources.files("bot").joinpath("data")
    names = (p.name for p in folder.iterdir() if p.is_file())
    parts = (n.split(".") for n in names if n.startswith("urgent_defaults."))
    found = (p[1] for p in parts if len(p) == 3)
    return tuple(sorted(code for code in found if code.isalpha()))


def built_in_helpline_ids() -> frozenset[str]:
    """Helpline ids the council's urgent_keywords.yaml may call without defining them."""
    return frozenset(h.id for h in built_in().helplines)


def built_in_group_ids() -> frozenset[str]:
    """Group ids the council's urgent_keywords.yaml may add phrases to."""
    return frozenset(g.id for g in built_in().groups)
