"""The console's web plumbing: sessions per request, CSRF, security headers, templates.

Every page goes through `staff_page`, which opens one database transaction for the request,
finds the signed-in member (afresh, so a removed member is out at once), checks the form's CSRF
token on POST, and asks the bot's own `authorise()` for the page's permission: a refusal looks like
a page that does not exist, as a refused staff command looks like an unknown one, and is audited.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.clock import Clock
from bot.config import Settings
from bot.console import sessions
from bot.services.places.geo import Gazetteer
from bot.services.staff.accounts import ALLOWED, Permission, authorise
from bot.services.staff.audit import VIA_CONSOLE
from models import AuditEvent, StaffMember

if TYPE_CHECKING:
    from bot.sandbox.web_chat import WebSandbox

COOKIE = "bb_console"
# Nothing from elsewhere: no inline script or style, images only from here or drawn in the page.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Sign-in links carry their token in the path: no page may pass it on as a referrer.
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
MAX_FORM_BYTES = 64 * 1024
# A too-big upload is read to the end (and dropped) up to this, so the browser sees the answer.
MAX_DRAINED_BYTES = 64 * 1024 * 1024


class ConsoleSyncSession(Session):
    """The console's sessions: every audit event they write is marked as from the console."""


@event.listens_for(ConsoleSyncSession, "before_flush")
def _mark_console(session: Session, _context: object, _instances: object) -> None:
    for obj in session.new:
        if isinstance(obj, AuditEvent):
            obj.via = VIA_CONSOLE


def console_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Like the bot's sessionmaker, but audit events are marked."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=ConsoleSyncSession)


class SecurityHeaders:
    """Sets the same strict headers on every response, pages, files and errors alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0] != b"cache-control"]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class ConsoleState:
    """What every request needs; made once by the app factory."""

    settings: Settings
    clock: Clock
    gazetteer: Gazetteer
    templates: Environment
    sessions: async_sessionmaker[AsyncSession] | None = None
    engine: AsyncEngine | None = None
    # The Try it page's sandbox bot, made on first use (bot/console/try_pages.py).
    sandbox: WebSandbox | None = None
    # Mounted in the webhook workers' app: the bot's engine, once the bot has started.
    engine_of: Callable[[], AsyncEngine | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def session(self) -> AsyncSession:
        """One unit of work."""
        if self.sessions is None and self.engine_of is not None:
            engine = self.engine_of()
            if engine is not None:
                self.sessions = console_sessionmaker(engine)
        assert self.sessions is not None, "the console's lifespan has not started"
        return self.sessions()


def template_environment() -> Environment:
    """Jinja2 with HTML escaping always on."""
    folder = str(files("bot.console").joinpath("templates"))
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def state_of(request: Request) -> ConsoleState:
    """The console's state (also when mounted inside another app)."""
    state: ConsoleState = request.app.state.console
    return state


def root_of(request: Request) -> str:
    """Where the console is mounted ("" on its own), for its links and redirects."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def to(request: Request, path: str) -> RedirectResponse:
    """A redirect after a form (303: the browser then GETs the page)."""
    return RedirectResponse(root_of(request) + path, status_code=303)


def is_https(request: Request) -> bool:
    """Served over HTTPS (directly, or behind a proxy that says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """HttpOnly, SameSite=Strict, Secure over HTTPS; it lasts as long as the browser is open."""
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Forget the cookie in the browser."""
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=is_https(request)
    )


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page from its template."""
    state = state_of(request)
    template = state.templates.get_template(name)
    values.setdefault("council", state.settings.council_name)
    values.setdefault("root", root_of(request))
    values.setdefault("path", request.url.path.removeprefix(root_of(request)) or "/")
    return HTMLResponse(template.render(**values), status_code=status_code)


def too_big(request: Request, max_bytes: int) -> bool:
    """The request says it is bigger than this page takes (so it is not read at all)."""
    length = request.headers.get("content-length")
    return length is not None and length.isdigit() and int(length) > max_bytes


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> FormData | None:
    """The posted form, or None if it is too big to be one of ours (or not a form at all)."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > max_bytes:
        return None
    uploads = 1 if max_bytes > MAX_FORM_BYTES else 0
    try:
        return await request.form(max_files=uploads, max_fields=50, max_part_size=max_bytes)
    except (HTTPException, ValueError):
        return None


def csrf_ok(form: FormData | None, expected: str) -> bool:
    """The form carries this session's token."""
    if form is None:
        return False
    given = form.get("csrf_token")
    return isinstance(given, str) and secrets.compare_digest(given, expected)


def allowed(member: StaffMember, permission: Permission) -> bool:
    """For menus only: whether to show a page (the page itself asks authorise())."""
    return member.revoked_at is None and member.role in ALLOWED[permission]


NAV = [
    ("/", "Overview", None),
    ("/reports", "Reports", Permission.REPORTS),
    ("/links", "Join links", Permission.JOIN_LINKS),
    ("/moderation", "Moderation", Permission.MODERATE),
    ("/staff", "Staff", Permission.MANAGE_STAFF),
    ("/broadcasts", "Broadcasts", Permission.BROADCAST),
    ("/content", "Content", Permission.CONTENT),
    ("/try", "Try it", None),
]


@dataclass
class Ctx:
    """One signed-in request: the request, its transaction, the time, who, and her form."""

    request: Request
    db: AsyncSession
    now: dt.datetime
    member: StaffMember
    session_row: Any
    form: FormData | None
    state: ConsoleState

    def page(self, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        """A signed-in page: the menu shows only what her role may use."""
        nav = [
            (href, label)
            for href, label, permission in NAV
            if permission is None or allowed(self.member, permission)
        ]
        return render(
            self.request,
            name,
            status_code,
            nav=nav,
            member=self.member,
            csrf_token=self.session_row.csrf_token,
            **values,
        )


Handler = Callable[[Ctx], Awaitable[Response]]


def not_found(request: Request) -> HTMLResponse:
    """What a refused page looks like: the same as one that is not there."""
    return render(request, "not_found.html", 404)


def staff_page(
    permission: Permission | None, action: str, max_bytes: int = MAX_FORM_BYTES
) -> Callable[[Handler], Any]:
    """Make a handler a signed-in page needing `permission` (None: any current staff).

    `max_bytes` above the usual form size allows one uploaded file of up to that size.
    """

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if request.method == "POST" and too_big(request, max_bytes):
                await _drain(request)
                # Not parsed, so there is no CSRF token to check: nothing is done, only said.
                return await _signed_in(
                    request, None, permission, action, _too_big(max_bytes), check_csrf=False
                )
            form = await read_form(request, max_bytes) if request.method == "POST" else None
            try:
                return await _signed_in(request, form, permission, action, handler)
            finally:
                # Uploaded files wait in temporary files until closed.
                if form is not None:
                    await form.close()

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


async def _drain(request: Request) -> None:
    """Read and drop a too-big body (up to a bound), so the browser gets to see the answer.

    A server that answers before reading the upload closes the connection under it, and the
    browser then shows a network error instead of the page saying what was wrong.
    """
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_DRAINED_BYTES:
            break


def _too_big(max_bytes: int) -> Handler:
    async def page(ctx: Ctx) -> Response:
        back = ctx.request.url.path.removeprefix(root_of(ctx.request)) or "/"
        megabytes = max_bytes // (1024 * 1024)
        limit = f"{megabytes} MB" if megabytes >= 1 else f"{max_bytes // 1024} KB"
        what = "The file you chose" if max_bytes > MAX_FORM_BYTES else "What you sent"
        return ctx.page(
            "too_big.html",
            413,
            error=f"{what} is too big: it must be smaller than {limit}",
            error_field="try-again",
            back=back,
            limit=limit,
        )

    return page


async def _signed_in(
    request: Request,
    form: FormData | None,
    permission: Permission | None,
    action: str,
    handler: Handler,
    check_csrf: bool = True,
) -> Response:
    state = state_of(request)
    now = state.clock.now()
    async with state.session() as db, db.begin():
        found = await sessions.current(db, request.cookies.get(COOKIE), now)
        if found is None or found.member is None:
            response: Response = to(request, "/signin")
            clear_session_cookie(request, response)
            return response
        if request.method == "POST" and check_csrf and not csrf_ok(form, found.row.csrf_token):
            return render(request, "forbidden.html", 403)
        member = found.member
        if permission is not None:
            access = await authorise(db, member.telegram_user_id, permission, now, action)
            if access.member is None:
                return not_found(request)
        ctx = Ctx(request, db, now, member, found.row, form, state)
        return await handler(ctx)
