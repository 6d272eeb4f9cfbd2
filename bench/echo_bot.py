"""The ceiling for bench/load.py: a bare python-telegram-bot echo bot behind the same web stack.

`python -m bench.echo_bot URL HOST PORT`, with TELEGRAM_BOT_TOKEN, BOT_API_BASE_URL and
WEBHOOK_SECRET_TOKEN set. It is PTB's custom-webhook pattern as `bumpbuddies serve` uses it
(Starlette on uvicorn, an Application without an Updater, each update answered 200 once it has
been handled) with PTB's defaults and nothing else: no database, no conversation state, no rate
limiter. A text is sent back as it came; a button press is answered and its data sent back.
So the bot's updates per second over this one's is what our own work costs.
"""

from __future__ import annotations

import hmac
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send her text back."""
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


async def echo_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press and send its data back."""
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    await context.bot.send_message(query.message.chat.id, query.data or "?")


def create_app(url: str, token: str, base_url: str, secret: str) -> Starlette:
    """The echo bot as an ASGI app listening on the URL's path."""
    application = Application.builder().token(token).base_url(base_url).updater(None).build()
    application.add_handler(MessageHandler(filters.TEXT, echo_text))
    application.add_handler(CallbackQueryHandler(echo_press))
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), expected):
            return Response(status_code=403)
        update = Update.de_json(await request.json(), application.bot)
        await application.process_update(update)
        return Response(status_code=200)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with application:
            await application.bot.set_webhook(url, secret_token=secret)
            await application.start()
            yield
            await application.stop()

    path = "/" + url.split("://", 1)[1].partition("/")[2]
    return Starlette(routes=[Route(path, receive, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    """Serve until SIGTERM."""
    url, host, port = sys.argv[1:4]
    app = create_app(
        url,
        os.environ["TELEGRAM_BOT_TOKEN"],
        os.environ["BOT_API_BASE_URL"],
        os.environ["WEBHOOK_SECRET_TOKEN"],
    )
    uvicorn.run(app, host=host, port=int(port), access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
