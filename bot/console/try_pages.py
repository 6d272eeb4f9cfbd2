"""Try it: the resident's side of the bot in the browser, on the sandbox (bot/sandbox/web_chat.py).

Any signed-in member of staff may use it: it is a pretend Telegram and a database of its own, so
nothing here reaches or shows a real resident. Plain forms do everything (keyboard and no-script
friendly); try.js only swaps the chat in place instead of reloading the page.
"""

from __future__ import annotations

import logging

from starlette.responses import HTMLResponse, Response

from bot.console.web import Ctx, not_found, root_of, staff_page, to
from bot.sandbox.web_chat import WebSandbox

logger = logging.getLogger(__name__)


def _sandbox(ctx: Ctx) -> WebSandbox:
    state = ctx.state
    if state.sandbox is None:
        state.sandbox = WebSandbox(state.settings)
    return state.sandbox


def _key(ctx: Ctx) -> str:
    return f"staff:{ctx.member.id}"


async def _started(ctx: Ctx) -> WebSandbox | None:
    sandbox = _sandbox(ctx)
    try:
        await sandbox.start()
    except Exception:
        # The page says so; the log has the cause (no message text is ever logged).
        logger.exception("the sandbox bot could not start")
        return None
    return sandbox


def _chat(ctx: Ctx, sandbox: WebSandbox) -> Response:
    """After a form: the chat alone for try.js, or the whole page again without it."""
    if ctx.request.headers.get("x-requested-with") == "fetch":
        template = ctx.state.templates.get_template("_chat.html")
        return HTMLResponse(
            template.render(
                view=sandbox.view(_key(ctx)),
                root=root_of(ctx.request),
                csrf_token=ctx.session_row.csrf_token,
            )
        )
    return to(ctx.request, "/try#chat-text")


@staff_page(None, "console.try")
async def try_page(ctx: Ctx) -> Response:
    """The chat window."""
    sandbox = await _started(ctx)
    if sandbox is None:
        return ctx.page("try.html", 503, view=None)
    return ctx.page("try.html", view=sandbox.view(_key(ctx)))


@staff_page(None, "console.try")
async def try_send(ctx: Ctx) -> Response:
    """She sends a message to the sandbox bot."""
    assert ctx.form is not None
    sandbox = await _started(ctx)
    if sandbox is None:
        return to(ctx.request, "/try")
    await sandbox.send(_key(ctx), str(ctx.form.get("text", "")))
    return _chat(ctx, sandbox)


@staff_page(None, "console.try")
async def try_press(ctx: Ctx) -> Response:
    """She presses a button under one of the bot's messages."""
    assert ctx.form is not None
    sandbox = await _started(ctx)
    if sandbox is None:
        return to(ctx.request, "/try")
    try:
        message_id = int(str(ctx.form.get("message_id", "")))
        index = int(str(ctx.form.get("index", "")))
    except ValueError:
        return _chat(ctx, sandbox)
    await sandbox.press(_key(ctx), message_id, index)
    return _chat(ctx, sandbox)


@staff_page(None, "console.try")
async def try_location(ctx: Ctx) -> Response:
    """She shares a location (central Chelmsford), as the location button would."""
    sandbox = await _started(ctx)
    if sandbox is None:
        return to(ctx.request, "/try")
    await sandbox.share_location(_key(ctx))
    return _chat(ctx, sandbox)


@staff_page(None, "console.try")
async def try_restart(ctx: Ctx) -> Response:
    """She starts again as a new pretend resident."""
    _sandbox(ctx).restart(_key(ctx))
    return to(ctx.request, "/try")


@staff_page(None, "console.try")
async def try_file(ctx: Ctx) -> Response:
    """A file the sandbox bot sent her (her data, a poster), to download."""
    found = _sandbox(ctx).file(_key(ctx), int(ctx.request.path_params["message_id"]))
    if found is None:
        return not_found(ctx.request)
    name, body = found
    safe = "".join(c for c in name if c.isalnum() or c in "._-") or "file"
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"content-disposition": f'attachment; filename="{safe}"'},
    )
