"""The residents' command menu, in every language offered and in the one she chose.

Telegram shows the menu of her app's language; once she picks another with /language (or the
welcome's switch), her chat gets a menu of its own in that language. Staff keep the menu staff
sync gives them (bot/handlers/staff/accounts.py), which is English like every staff command.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot import languages
from bot.texts import catalogue

logger = logging.getLogger(__name__)

# The command menu, in this order; each description is the catalogue's `command.<name>`.
COMMANDS = (
    "start",
    "profile",
    "privacy",
    "match",
    "mymatches",
    "mydata",
    "feedback",
    "services",
    "baby",
    "language",
    "forget",
    "help",
)


def command_menu(language: str) -> list[BotCommand]:
    """The command menu in a language."""
    texts = catalogue(language)
    return [BotCommand(name, texts(f"command.{name}")) for name in COMMANDS]


async def set_command_menus(bot: Bot) -> None:
    """The menu in every language served: Telegram shows the one of her app's language (and
    English to everyone else)."""
    await bot.set_my_commands(command_menu(languages.ENGLISH))
    for code in languages.served_languages():
        if code != languages.ENGLISH:
            await bot.set_my_commands(command_menu(code), language_code=code)


async def show_her_menu_in(bot: Bot, chat_id: int, language: str) -> None:
    """Her chat's menu in the language she chose (a convenience: a failure only logs)."""
    try:
        await bot.set_my_commands(command_menu(language), scope=BotCommandScopeChat(chat_id))
    except TelegramError:
        logger.warning("could not set a resident's command menu")


async def forget_her_menu(bot: Bot, chat_id: int) -> None:
    """After /forget: her chat's own menu goes, so nothing at Telegram keeps her choice."""
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
    except TelegramError:
        logger.warning("could not remove a resident's command menu")
