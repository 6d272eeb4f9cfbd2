"""The bot as an ASGI app, so N identical workers can serve one webhook URL.

python-telegram-bot's custom-webhook pattern: each worker is its own Application without an
Updater, and Starlette hands it the updates Telegram pushes. An update is answered 200 only
after the Application has handled it, so a worker killed mid-update leaves it unanswered and
Telegram pushes it again (to any worker). Routes besides the webhook:

- /healthz: the process is up;
- /readyz: the database answers, its schema is at the latest migration, content is loaded
  (503 with the reason otherwise, so a load balancer sends no traffic here);
- /metrics: Prometheus metrics (bot/metrics.py);
- the staff web console under CONSOLE_MOUNT (e.g. /console), if set, on the bot's own engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from alembic.script import ScriptDirectory
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from telegram import Update
from uvicorn.supervisors import Multiprocess

from bot import metrics
from bot.app import build_application, running
from bot.config import Settings, load_settings
from bot.context import BotApplication
from bot.db import (
    DatabaseUnavailable,
    alembic_config,
    database_unavailable,
    watching_for_database_failures,
)
from bot.delivery import queue
from bot.services.local_info.content import loaded_digest
from bot.update_timing import part, timing_update

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# A readiness probe must answer quickly even when the database does not.
READY_TIMEOUT_SECONDS = 3.0


def webhook_path(url: str | None) -> str:
    """The path Telegram pushes to, from the public URL ("/" when it has none)."""
    path = urlsplit(url or "").path.rstrip("/")
    return path or "/"


def latest_revision(database_url: str) -> str | None:
    """The newest Alembic revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def _update_type(body: dict[str, Any]) -> str:
    return next((key for key in body if key != "update_id"), "unknown")


class BotWeb:
    """The routes' shared state: the Application, the secret, and whether updates are taken."""

    def __init__(self, application: BotApplication, settings: Settings) -> None:
        if settings.webhook_secret_token is None:
            raise ValueError("WEBHOOK_SECRET_TOKEN is required to take webhooks")
        self.application = application
        self.settings = settings
        self._secret = settings.webhook_secret_token.get_secret_value().encode()
        self.head = latest_revision(settings.database_url)
        self.in_flight = 0
        self._chat_locks: dict[int, tuple[asyncio.Lock, int]] = {}
        # Telegram pushes over up to 40 connections at once, and each update being handled
        # holds up to two database connections (its chat's turn and a handler's unit of work):
        # without a bound, 20 chats at once took every connection of the pool for the turns,
        # left none for the handlers, and waited for the pool's 30 s timeout. Polling has the
        # same bound (PTB's concurrent_updates).
        self._handling = asyncio.Semaphore(settings.concurrent_updates)

    @asynccontextmanager
    async def _chat_turn(self, update: Update) -> AsyncIterator[None]:
        """Updates from one chat take turns in this worker.

        Telegram pushes over several connections at once, so her next answer can arrive while
        the last one is still being handled (its conversation state not yet moved on); PTB's
        own update fetcher handles one update at a time, which this keeps per chat. Across
        workers the per-chat lock in the Application's update handling does the same.
        """
        chat = update.effective_chat
        if chat is None:
            yield
            return
        lock, users = self._chat_locks.get(chat.id, (asyncio.Lock(), 0))
        self._chat_locks[chat.id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chat_locks[chat.id]
            if users == 1:
                del self._chat_locks[chat.id]
            else:
                self._chat_locks[chat.id] = (lock, users - 1)

    async def receive(self, request: Request) -> Response:
        """One update pushed by Telegram: handled through the Application, then answered."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return Response(status_code=403)
        try:
            body = await request.json()
            update = Update.de_json(body, self.application.bot)
        except (ValueError, TypeError, KeyError):
            return Response(status_code=400)
        self.in_flight += 1
        with timing_update() as timing:
            try:
                await self._handle(update)
            except Exception as exc:
                if not isinstance(exc, DatabaseUnavailable) and not database_unavailable(exc):
                    raise
                # 503: Telegram pushes it again (to this or another worker) until one can.
                logger.warning("database unavailable: update refused with 503 for a later push")
                return Response(status_code=503)
            finally:
                self.in_flight -= 1
                metrics.UPDATES.labels(type=_update_type(body)).inc()
                metrics.update_handled(timing.total(), timing.finished())
        return Response(status_code=200, headers={"Server-Timing": timing.header()})

    async def _handle(self, update: Update) -> None:
        """Her turn first, so an update waiting behind her last one holds no place."""
        async with contextlib.AsyncExitStack() as stack:
            with part("turn"):
                await stack.enter_async_context(self._chat_turn(update))
                await stack.enter_async_context(self._handling)
            with watching_for_database_failures():
                await self.application.process_update(update)

    async def healthz(self, request: Request) -> Response:
        """Alive: the process answers."""
        return PlainTextResponse("ok")

    async def readyz(self, request: Request) -> Response:
        """Ready for traffic: database reachable, schema current, content loaded."""
        try:
            problem = await asyncio.wait_for(self.not_ready(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            problem = "database: no answer"
        if problem is not None:
            return PlainTextResponse(f"not ready: {problem}", status_code=503)
        return PlainTextResponse("ready")

    async def not_ready(self) -> str | None:
        """Why this worker should get no traffic, or None."""
        maker = self.application.bot_data.sessionmaker
        if maker is None:
            return "starting"
        try:
            async with maker() as session:
                revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
                digest = await loaded_digest(session)
        except Exception as exc:
            return f"database: {type(exc).__qualname__}"
        if revision != self.head:
            return f"database schema at {revision}, not {self.head}: run `bumpbuddies db upgrade`"
        if digest is None:
            return "no content loaded: run `bumpbuddies content load`"
        return None

    async def metrics(self, request: Request) -> Response:
        """Prometheus exposition text."""
        maker = self.application.bot_data.sessionmaker
        if maker is not None:
            try:
                async with maker() as session:
                    metrics.DELIVERY_QUEUE_DEPTH.set(await queue.depth(session))
            except Exception as exc:
                logger.warning("queue depth not read: %s", type(exc).__qualname__)
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE_LATEST)

    def routes(self) -> list[Route]:
        """The webhook on its URL's path, and the three probes."""
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route(webhook_path(self.settings.webhook_url), self.receive, methods=["POST"]),
        ]


def create_app(application: BotApplication, settings: Settings) -> Starlette:
    """The ASGI app; its lifespan runs the Application (post_init, jobs, leadership)."""
    web = BotWeb(application, settings)

    routes: list[BaseRoute] = list(web.routes())
    console = None
    if settings.console_mount:
        from bot.console.app import create_app as create_console

        console = create_console(
            settings,
            clock=application.bot_data.clock,
            engine_of=lambda: application.bot_data.engine,
        )
        routes.append(Mount(settings.console_mount, app=console))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(application):
            yield
        # By now the server has stopped taking requests and the ones in flight have finished.
        sandbox = console.state.console.sandbox if console is not None else None
        if sandbox is not None:
            await sandbox.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.web = web
    return app


def app_from_environment() -> Starlette:
    """uvicorn's factory (`bumpbuddies serve`; or uvicorn --factory with this name)."""
    from bot.cli import configure_logging

    # A worker is a process of its own: logging is set up here, as `bumpbuddies run` does.
    settings = load_settings()
    token = settings.telegram_bot_token
    configure_logging(secrets=[token.get_secret_value()] if token is not None else [])
    return create_app(build_application(settings, updater=False), settings)


class GracefulServer(uvicorn.Server):
    """uvicorn, but a SIGTERM that was handled gracefully ends the process with 0.

    uvicorn re-raises the signal after its graceful shutdown, so the process would end "killed
    by SIGTERM"; supervisors (systemd, compose, Kubernetes) read a clean stop as exit 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            # uvicorn keeps the signals it handled here, to raise them again on the way out.
            self._captured_signals.clear()


def serve_workers(host: str, port: int, workers: int) -> None:
    """Run `workers` processes behind one socket, each building its own Application."""
    config = uvicorn.Config(
        "bot.web:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # SIGTERM: stop accepting, let updates in flight finish, exit well within 10 s.
        timeout_graceful_shutdown=6,
        # Access lines would add nothing the metrics don't, and cost each update a log write.
        access_log=False,
        log_config=None,
    )
    if workers == 1:
        GracefulServer(config).run()
        return
    # The supervisor starts the workers, restarts any that dies, and exits 0 on SIGTERM once
    # they have shut down gracefully.
    socket = config.bind_socket()
    Multiprocess(config, sockets=[socket]).run()
