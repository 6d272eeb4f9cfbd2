"""The staff texts: every key built at run time exists, and every text is valid Telegram HTML."""

from __future__ import annotations

from bot.handlers.staff.accounts import STAFF_COMMANDS
from bot.sandbox.schema import parse_html
from bot.services.staff.accounts import InviteRefused
from bot.services.staff.broadcasts import AUDIENCE_KINDS
from bot.texts import catalogue, placeholders, source
from models import BroadcastPurpose, StaffRole


def _staff_keys() -> list[str]:
    return [key for key, entry in source().items() if entry.domain == "staff"]


def test_every_key_the_staff_code_builds_at_run_time_exists() -> None:
    english = catalogue("en")
    commands = {name for names in STAFF_COMMANDS.values() for name in names}
    built = (
        {f"staff.role_{role.value}" for role in StaffRole}
        | {f"staff.invite_{reason.value}" for reason in InviteRefused}
        | {f"staff.command_{name}" for name in commands}
        | {f"broadcast.purpose_{p.value}" for p in BroadcastPurpose}
        | {f"broadcast.switch_to_{p.value}" for p in BroadcastPurpose}
        | {f"broadcast.aud_{kind}_label" for kind in ("everyone", "postnatal")}
        | {f"broadcast.aud_{kind}" for kind in AUDIENCE_KINDS}
        | {f"broadcast.aud_trimester_{n}" for n in (1, 2, 3)}
        | {f"moderation.{action}" for action in ("warn", "suspend", "dismiss")}
        | {f"moderation.done_{action}" for action in ("warn", "suspend", "dismiss")}
        | {f"moderation.notice_{action}" for action in ("warn", "suspend")}
    )
    assert sorted(built - english.keys()) == []


def test_every_staff_text_is_valid_telegram_html_with_its_parameters_filled() -> None:
    english = catalogue("en")
    for key in _staff_keys():
        params = {field: "<x> & y" for field in placeholders(english.raw(key))}
        parse_html(english(key, **params))  # raises on anything Telegram would refuse


def test_staff_texts_use_keys_no_other_feature_uses() -> None:
    prefixes = {key.split(".")[0] for key in _staff_keys()}
    assert prefixes == {"staff", "joinlink", "broadcast", "moderation"}
