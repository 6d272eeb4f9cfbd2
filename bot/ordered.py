"""The Application every worker runs: updates of one chat take turns, in Telegram's order, and
where each person is in a flow is read from the database for every update.

Why a subclass of PTB's Application rather than a state machine of our own: every flow is
already a ConversationHandler whose states read like the flow, and the only thing wrong with
them is where the state lives (a dict in one process's memory). Overriding process_update
keeps the handlers as they are and wraps *every* update, however it arrives (polling, a
webhook, a test calling process_update), in the same steps:

1. note the update in `update_inbox` (committed, so every worker sees it has arrived);
2. take the chat's turn: an asyncio lock per chat in this process, then, in one transaction,
   a PostgreSQL advisory lock on the chat, held until the update is done;
3. if an older update of this chat is still waiting (in this worker or another), let it go
   first; if this one was handled already (delivered again), skip it;
4. load every conversation's state for this chat and person, and her flow notes (user_data),
   into the handlers; run the update; write back what changed and mark it handled, in the
   transaction that holds the lock; then drop them from memory again.

PTB's persistence was not used: it loads conversations once at start-up and writes on a timer,
so it is neither per update nor safe with more than one worker.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, BaseHandler, ConversationHandler, ExtBot

from bot.context import BotContext, BotData
from bot.db import DatabaseUnavailable, database_failures_noted
from bot.services.conversations import store
from bot.services.conversations.store import Saved, Turn
from bot.update_timing import part

logger = logging.getLogger(__name__)

# How long an older update of the same chat is waited for before this one goes ahead: longer
# than any handler takes, so only a worker that died while holding it is passed over (Telegram
# then delivers that one again, and it is handled late rather than never).
PATIENCE = dt.timedelta(seconds=10)
# Between looks at whether an older update of the chat has been handled yet.
POLL_SECONDS = 0.01

Key = tuple[int | str, ...]

# Whether the update being handled had reached a worker before (see redelivered()).
_redelivered: ContextVar[bool] = ContextVar("redelivered", default=False)


def redelivered() -> bool:
    """Whether Telegram delivered the update being handled before, and its handling failed
    part-way: what that handling committed is done, so a step it finished answers as if it
    had just been taken (its replies may never have been sent), rather than as a stale button.
    """
    return _redelivered.get()


class _ChatLocks:
    """One asyncio lock per chat that has updates in flight in this process."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(chat_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[chat_id]


def _conversations(handlers: list[BaseHandler[Any, Any, Any]]) -> list[ConversationHandler[Any]]:
    return [h for h in handlers if isinstance(h, ConversationHandler)]


class OrderedApplication(
    Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
):
    """PTB's Application with per-chat turns and conversation state in the database."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._chat_locks = _ChatLocks()

    async def process_update(self, update: object) -> None:
        """Handle one update in its chat's turn, with her conversation state from the database."""
        data = self.bot_data
        chat = update.effective_chat if isinstance(update, Update) else None
        if not isinstance(update, Update) or chat is None or data.sessionmaker is None:
            await super().process_update(update)
            return
        clock = data.clock
        assert clock is not None and data.engine is not None
        # Autocommit: the note is one statement, with no BEGIN and COMMIT around it.
        with part("turn"):
            async with data.engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                again = await store.arrive(autocommit, update.update_id, chat.id, clock.now())
        noted = _redelivered.set(again)
        try:
            await self._in_turn(update, chat.id)
        finally:
            _redelivered.reset(noted)

    async def _in_turn(self, update: Update, chat_id: int) -> None:
        """Wait for the chat's turn (older updates first), then handle the update in it."""
        data = self.bot_data
        assert data.sessionmaker is not None and data.clock is not None
        sessions, clock = data.sessionmaker, data.clock
        while True:
            async with self._chat_locks.hold(chat_id), sessions() as session, session.begin():
                with part("turn"):
                    await store.take_chat(session, chat_id)
                    now = clock.now()
                    taken = await store.turn(session, update.update_id, chat_id, now, PATIENCE)
                if taken is Turn.SKIP:
                    logger.info("update delivered again: skipped")
                    return
                if taken is Turn.GO:
                    await self._handle_in_turn(session, update, chat_id)
                    return
            # Committed: the lock is free for the older update's worker.
            with part("turn"):
                await (data.sleep or asyncio.sleep)(POLL_SECONDS)

    async def _handle_in_turn(self, session: AsyncSession, update: Update, chat_id: int) -> None:
        clock = self.bot_data.clock
        assert clock is not None
        user = update.effective_user
        saved = (
            await store.load(session, chat_id, user.id, clock.now())
            if user is not None
            else Saved(states={}, notes={})
        )
        conversations = [
            (handler, key)
            for group in self.handlers.values()
            for handler in _conversations(group)
            if (key := _key(handler, update)) is not None
        ]
        for handler, key in conversations:
            state = saved.states.get(_name(handler))
            if state is None:
                handler._conversations.pop(key, None)
            else:
                handler._conversations[key] = state
        if user is not None:
            self._user_data[user.id] = copy.deepcopy(saved.notes)

        await super().process_update(update)
        if database_failures_noted():
            # Nothing is written, and the update stays unhandled: Telegram pushes it again.
            raise DatabaseUnavailable

        now = clock.now()
        changes: dict[str, tuple[Any, dt.datetime | None]] = {}
        for handler, key in conversations:
            after = handler._conversations.pop(key, None)
            if not isinstance(after, int | str):
                # Ended (or a non-blocking handler's pending state, which no flow here uses).
                after = None
            if after == saved.states.get(_name(handler)):
                continue
            # A conversation with a timeout ends that long after its state was set, whichever
            # worker is running then (PTB's own timeout job lives in one process's memory).
            timeout = handler.conversation_timeout
            expires = None
            if timeout is not None and after is not None:
                seconds = timeout if isinstance(timeout, float | int) else timeout.total_seconds()
                expires = now + dt.timedelta(seconds=seconds)
            changes[_name(handler)] = (after, expires)
        notes = None
        if user is not None:
            current = dict(self._user_data.pop(user.id, {}))
            notes = current if current != saved.notes else None
        if user is not None:
            await store.save(session, chat_id, user.id, changes, notes, now)
        await store.handled(session, update.update_id, chat_id, now)


def _name(handler: ConversationHandler[Any]) -> str:
    if handler.name is None:
        raise RuntimeError("every ConversationHandler needs a name: its state is stored under it")
    return handler.name


def _key(handler: ConversationHandler[Any], update: Update) -> Key | None:
    try:
        return handler._get_key(update)
    except RuntimeError:
        return None
