"""The console's app factory: `create_app(settings)` is a Starlette app on its own or mounted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.resources import files

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.console import broadcast_pages, content_pages, pages, signin, try_pages
from bot.console.web import (
    ConsoleState,
    SecurityHeaders,
    console_sessionmaker,
    not_found,
    template_environment,
)
from bot.db import create_engine
from bot.sandbox.web_chat import WebSandbox
from bot.services.places.geo import Gazetteer, default_gazetteer


async def _not_found(request: Request, _exc: Exception) -> Response:
    return not_found(request)


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    gazetteer: Gazetteer | None = None,
    sandbox: WebSandbox | None = None,
    engine_of: Callable[[], AsyncEngine | None] | None = None,
) -> Starlette:
    """The console. Without an engine it opens (and closes) its own on settings.database_url.

    Mounted inside the webhook workers' app (bot/web.py), `engine_of` gives the bot's engine once
    it has started, since a mounted app's lifespan does not run. `sandbox` is the Try it page's
    bot (by default one on SANDBOX_DATABASE_URL, made on first use).
    """
    state = ConsoleState(
        settings=settings,
        clock=clock or SystemClock(),
        gazetteer=gazetteer or default_gazetteer(),
        templates=template_environment(),
        sandbox=sandbox,
        engine_of=engine_of,
    )
    if engine is not None:
        state.sessions = console_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        own = state.sessions is None and engine_of is None
        if own:
            state.engine = create_engine(settings.database_url)
            state.sessions = console_sessionmaker(state.engine)
        try:
            yield
        finally:
            if state.sandbox is not None:
                await state.sandbox.stop()
            if own and state.engine is not None:
                await state.engine.dispose()
                state.sessions = None

    routes = [
        Route("/", pages.overview),
        Route("/signin", signin.signin_page),
        Route("/signin/status", signin.signin_status),
        Route("/signin/link/{token:str}", signin.link_page, methods=["GET"]),
        Route("/signin/link/{token:str}", signin.link_use, methods=["POST"]),
        Route("/signout", signin.signout, methods=["POST"]),
        Route("/reports", pages.reports_page),
        Route("/reports/download/{what:str}", pages.report_download),
        Route("/links", pages.links_page),
        Route("/links", pages.links_create, methods=["POST"]),
        Route("/links/{link_id:int}/revoke", pages.links_revoke, methods=["POST"]),
        Route("/links/{link_id:int}/poster.{kind:str}", pages.links_poster),
        Route("/moderation", pages.moderation_page),
        Route("/moderation/{report_id:int}", pages.moderation_decide, methods=["POST"]),
        Route("/staff", pages.staff_list),
        Route("/staff/audit.csv", pages.audit_download),
        Route("/staff/invite", pages.staff_invite, methods=["POST"]),
        Route("/staff/{staff_id:int}/role", pages.staff_change_role, methods=["POST"]),
        Route("/staff/{staff_id:int}/remove", pages.staff_remove, methods=["POST"]),
        Route("/broadcasts", broadcast_pages.compose_page),
        Route("/broadcasts", broadcast_pages.create, methods=["POST"]),
        Route("/broadcasts/preview", broadcast_pages.preview, methods=["POST"]),
        Route("/broadcasts/{broadcast_id:int}", broadcast_pages.show),
        Route("/broadcasts/{broadcast_id:int}/progress", broadcast_pages.progress_json),
        Route("/broadcasts/{broadcast_id:int}/send", broadcast_pages.send, methods=["POST"]),
        Route("/broadcasts/{broadcast_id:int}/cancel", broadcast_pages.cancel, methods=["POST"]),
        Route("/content", content_pages.content_page),
        Route("/content", content_pages.content_upload, methods=["POST"]),
        Route("/try", try_pages.try_page),
        Route("/try/send", try_pages.try_send, methods=["POST"]),
        Route("/try/press", try_pages.try_press, methods=["POST"]),
        Route("/try/location", try_pages.try_location, methods=["POST"]),
        Route("/try/restart", try_pages.try_restart, methods=["POST"]),
        Route("/try/file/{message_id:int}", try_pages.try_file),
        Mount("/static", StaticFiles(directory=str(files("bot.console").joinpath("static")))),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        lifespan=lifespan,
        exception_handlers={404: _not_found},
    )
    app.state.console = state
    return app
