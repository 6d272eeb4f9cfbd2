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


@cache
def built_in() -> BuiltInUrgentHelp:
    """The built-in set, read once from the package (no network, no database)."""
    source = resources.files("bot").joinpath("data/urgent_defaults.yaml").read_text("utf-8")
    return BuiltInUrgentHelp.model_validate(yaml.safe_load(source))


def built_in_helpline_ids() -> frozenset[str]:
    """Helpline ids the council's urgent_keywords.yaml may call without defining them."""
    return frozenset(h.id for h in built_in().helplines)


def built_in_group_ids() -> frozenset[str]:
    """Group ids the council's urgent_keywords.yaml may add phrases to."""
    return frozenset(g.id for g in built_in().groups)
