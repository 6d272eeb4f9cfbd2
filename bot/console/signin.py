"""Signing in and out: the desk's code, the bot's one-time link (used only by a click), sign-out."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.console import sessions
from bot.console.web import (
    COOKIE,
    clear_session_cookie,
    csrf_ok,
    read_form,
    render,
    set_session_cookie,
    state_of,
    to,
)

REFUSALS = {
    sessions.LinkRefused.UNKNOWN: "This sign-in link is not one we know.",
    sessions.LinkRefused.USED: "This sign-in link has already been used. Each link works once.",
    sessions.LinkRefused.EXPIRED: "This sign-in link has expired. Links last 10 minutes.",
    sessions.LinkRefused.NOT_STAFF: "This sign-in link is for someone who is no longer staff.",
}


async def _waiting(
    request: Request, db: AsyncSession
) -> tuple[sessions.Current | None, sessions.NewSession | None]:
    """This browser's session, or a new waiting one (with a code) if it has none."""
    now = state_of(request).clock.now()
    found = await sessions.current(db, request.cookies.get(COOKIE), now)
    if found is not None:
        return found, None
    return None, await sessions.start_session(db, now)


async def signin_page(request: Request) -> Response:
    """Shows the code to send with /console, or moves on once it has been approved."""
    state = state_of(request)
    now = state.clock.now()
    async with state.session() as db, db.begin():
        found, new = await _waiting(request, db)
        if found is not None and found.member is not None:
            return to(request, "/")
        if found is not None and found.row.approved_staff_id is not None:
            signed_in = await sessions.take_approval(db, found.row, now)
            if signed_in is not None:
                response: Response = to(request, "/")
                set_session_cookie(request, response, signed_in.token)
                return response
            found, new = None, await sessions.start_session(db, now)
        row = found.row if found is not None else new.row if new is not None else None
        assert row is not None and row.pair_code is not None
        response = render(
            request,
            "signin.html",
            code=sessions.show_code(row.pair_code),
            csrf_token=row.csrf_token,
            ended=request.query_params.get("ended") == "1",
        )
        if new is not None:
            set_session_cookie(request, response, new.token)
        return response


async def signin_status(request: Request) -> Response:
    """For the sign-in page's script: has the code been approved yet? (It then reloads.)"""
    state = state_of(request)
    async with state.session() as db, db.begin():
        found = await sessions.current(db, request.cookies.get(COOKIE), state.clock.now())
        approved = found is not None and (
            found.member is not None or found.row.approved_staff_id is not None
        )
    return JSONResponse({"approved": approved})


async def link_page(request: Request) -> Response:
    """The page a sign-in link opens: it only asks for a click, so a preview uses nothing up."""
    state = state_of(request)
    token = request.path_params["token"]
    async with state.session() as db, db.begin():
        refused = await sessions.check_link(db, token, state.clock.now())
        found, new = await _waiting(request, db)
        row = found.row if found is not None else new.row if new is not None else None
        assert row is not None
        if refused is not None:
            response: Response = render(request, "link_refused.html", 410, reason=REFUSALS[refused])
        else:
            response = render(request, "link.html", csrf_token=row.csrf_token, token=token)
        if new is not None:
            set_session_cookie(request, response, new.token)
        return response


async def link_use(request: Request) -> Response:
    """The click: sign in with the link (once), in a new session."""
    state = state_of(request)
    now = state.clock.now()
    token = request.path_params["token"]
    form = await read_form(request)
    async with state.session() as db, db.begin():
        found = await sessions.current(db, request.cookies.get(COOKIE), now)
        if found is None or not csrf_ok(form, found.row.csrf_token):
            return render(request, "forbidden.html", 403)
        outcome = await sessions.use_link(db, token, now)
        if isinstance(outcome, sessions.LinkRefused):
            return render(request, "link_refused.html", 410, reason=REFUSALS[outcome])
        # Whatever this browser had before (a waiting session, or another member's) ends.
        found.row.ended_at = now
        response: Response = to(request, "/")
        set_session_cookie(request, response, outcome.token)
        return response


async def signout(request: Request) -> Response:
    """Sign out: the session ends in the database, not just in this browser."""
    state = state_of(request)
    now = state.clock.now()
    form = await read_form(request)
    async with state.session() as db, db.begin():
        found = await sessions.current(db, request.cookies.get(COOKIE), now)
        if found is None:
            response: Response = to(request, "/signin")
            clear_session_cookie(request, response)
            return response
        if not csrf_ok(form, found.row.csrf_token):
            return render(request, "forbidden.html", 403)
        await sessions.end_session(db, found.row, now)
    response = to(request, "/signin?ended=1")
    clear_session_cookie(request, response)
    return response
