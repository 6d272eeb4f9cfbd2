"""The delivery engine: sends queued rows within Telegram's limits, and survives crashes.

Every row is claimed (stored as SENDING) before its send and settled after it. At most
`delivery_max_in_flight` (W) requests are on the wire at once, and a send also keeps one of 4W
places from before its request until its outcome is committed: at any moment at most 4W rows are
sent (or being sent) but not yet recorded, so after a crash at most 4W messages go twice, however
fast the sending or slow the database. The places outnumber the requests so that answers are
written while the next requests are on the wire: with 2W, a commit slowed by a busy machine held
up sending (about a quarter fewer messages a second in the paid benchmark); with 4W, none
measurably. Outcomes are written by a recorder as they arrive (group commit): one by one when
sending slowly, several per transaction when fast. Claims use FOR UPDATE SKIP LOCKED on
PostgreSQL, so two bot processes share a queue without sharing a row.

Time: the engine reads the injected clock and waits with the injected sleep. Its own notion of
"now" never lags what it has slept, so a FixedClock with a real sleep still moves forward, and a
sleep that advances the FixedClock (tests) is never counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.clock import Clock
from bot.config import Settings
from bot.delivery import queue
from bot.delivery.limits import ChatSpacing, Pacer
from bot.delivery.queue import BatchProgress, Claimed
from bot.delivery.render import render
from bot.delivery.send_limits import Kind, SendLimits
from bot.delivery.sender import BulkSender, Outcome
from bot.languages import language_for
from models import DeliveryStatus

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
ProgressListener = Callable[[BatchProgress], Awaitable[None]]

_PROGRESS_SECONDS = 3.0
_BACKOFF_SECONDS = 2.0
_MAX_BACKOFF_SECONDS = 300.0
_IDLE_POLL_SECONDS = 30.0
# Rows sent but not yet recorded, per request allowed in flight: what a crash can repeat.
_UNRECORDED_PER_REQUEST = 4


@dataclass
class DeliveryReport:
    """What one run did."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0


@dataclass
class _Results:
    """Outcomes waiting to be written in one transaction."""

    sent: list[tuple[int, int | None]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    unreachable: list[tuple[int, int, str]] = field(default_factory=list)
    retry: list[tuple[int, dt.datetime, str]] = field(default_factory=list)
    released: list[tuple[int, dt.datetime, str]] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    batches: set[str] = field(default_factory=set)
    # Outcomes of sends whose places are given back once these results are committed.
    held: int = 0

    def __len__(self) -> int:
        return (
            len(self.cancelled)
            + len(self.skipped)
            + len(self.sent)
            + len(self.failed)
            + len(self.unreachable)
            + len(self.retry)
            + len(self.released)
        )


class _Buffer:
    """Outcomes not yet written; sends add to it and the recorder empties it.

    `unrecorded` bounds the rows sent (or being sent) but not yet recorded: a send takes a place
    before its request and the recorder gives it back once its outcome is committed.
    """

    def __init__(self, places: int) -> None:
        self.current = _Results()
        self.ready = asyncio.Event()
        self.closed = False
        self.places = places
        self.unrecorded = asyncio.Semaphore(places)

    def add(self, batch: str) -> _Results:
        """The results to add an outcome of `batch` to (the recorder is told)."""
        self.current.batches.add(batch)
        self.ready.set()
        return self.current

    def answered(self, batch: str) -> _Results:
        """The results to add a send's outcome to; its place is given back once written."""
        self.current.held += 1
        return self.add(batch)

    def close(self) -> None:
        """Nothing more will be added: the recorder finishes once it has written everything."""
        self.closed = True
        self.ready.set()


def _burst(rate: float) -> float:
    # 20 ms of catch-up: at 1000 a second, waiting a timer tick per message would cap the rate
    # at what the event loop's timers can do; at 30 a second it is the minimum of two.
    return max(2.0, rate * 0.02)


def _default_worker_id() -> str:
    # Unique per process; the random part keeps two processes with a recycled pid apart.
    return f"{socket.gethostname()[:20]}:{os.getpid()}:{secrets.token_hex(3)}"


class DeliveryEngine:
    """Sends due rows of the delivery queue; one per process, started in post_init."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        sender: BulkSender,
        clock: Clock,
        settings: Settings,
        *,
        worker_id: str | None = None,
        sleep: Sleep = asyncio.sleep,
        send_limits: SendLimits | None = None,
    ) -> None:
        self._sessions = sessionmaker
        # Telegram's limits shared with replies and other workers (bot/delivery/send_limits.py);
        # the pacers below keep this process's own pace within them.
        self._limits = send_limits
        self._sender = sender
        self._clock = clock
        self._settings = settings
        self._quiet_hours = settings.quiet_hours
        self.worker_id = (worker_id or _default_worker_id())[:40]
        self._sleep = sleep
        self._virtual = float("-inf")
        self._overall = Pacer(
            settings.delivery_max_per_second, _burst(settings.delivery_max_per_second)
        )
        self._paid = Pacer(
            settings.delivery_paid_max_per_second, _burst(settings.delivery_paid_max_per_second)
        )
        self._chats = ChatSpacing(settings.delivery_per_chat_interval_seconds)
        self._lease = dt.timedelta(seconds=settings.delivery_lease_seconds)
        self._paused_until = float("-inf")
        self._paid_claims = False
        self._pass = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listeners: dict[str, list[ProgressListener]] = {}
        self._last_progress: dict[str, float] = {}
        self._cancelled: set[str] = set()
        # Chats found unreachable by this process: their other claimed rows are not tried.
        self._gone: set[int] = set()

    # --- time -----------------------------------------------------------------------------------

    def _now_s(self) -> float:
        return max(self._clock.now().timestamp(), self._virtual)

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._now_s(), dt.UTC)

    async def _wait(self, seconds: float) -> None:
        start = self._now_s()
        await self._sleep(seconds)
        self._virtual = max(self._virtual, start + seconds)

    def _quiet(self, moment: dt.datetime) -> bool:
        return self._quiet_hours.contains(moment)

    def _after_quiet(self, moment: dt.datetime) -> dt.datetime:
        return self._quiet_hours.next_send_time(moment)

    # --- public interface -----------------------------------------------------------------------

    def wake(self) -> None:
        """Rows were queued: the background worker looks at the queue now."""
        self._wake.set()

    def add_progress_listener(self, batch: str, callback: ProgressListener) -> None:
        """Call `callback` with the batch's counts as it goes (every few seconds) and at its end."""
        self._listeners.setdefault(batch, []).append(callback)

    def cancel(self, batch: str) -> None:
        """Stop sending a batch: claimed rows not yet sent are cancelled too.

        Callers also cancel the batch's queued rows in the database (queue.cancel_open); this
        only reaches rows this process holds. Another process finishes at most the claim it
        holds (about two seconds of sending).
        """
        self._cancelled.add(batch)

    async def run_until_idle(self) -> DeliveryReport:
        """Send everything due now, waiting out flood pauses and this run's own retries."""
        report = DeliveryReport()
        async with self._pass:
            self._gone.clear()
            retries: list[dt.datetime] = []
            while not self._stopping:
                now = self._now()
                if self._quiet(now):
                    await self._defer_for_quiet_hours(now)
                    break
                claimed = await self._claim(now)
                if claimed:
                    retries += await self._send(claimed, report)
                    continue
                # Nothing due: wait for this run's own retries, if any are still to come.
                retries = [moment for moment in retries if moment > now]
                if not retries:
                    break
                await self._wait((min(retries) - now).total_seconds())
            await self._report_progress(set(self._listeners), final=True)
        return report

    async def start(self) -> None:
        """Run in the background until stop(): send whenever rows are due or wake() is called."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run_forever(), name="delivery-engine")

    async def stop(self) -> None:
        """Finish the sends in flight, hand unsent claims back, and stop the background worker."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- the worker -----------------------------------------------------------------------------

    async def _run_forever(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_until_idle()
                timeout = await self._idle_seconds()
                failures = 0
            except Exception as exc:
                # No message text: it could carry SQL parameters; the type is enough to act on.
                failures += 1
                logger.error("delivery pass failed: %s", type(exc).__qualname__)
                timeout = min(_BACKOFF_SECONDS * 2**failures, 60.0)
            if self._stopping:
                break
            await self._idle(timeout)

    async def _idle(self, seconds: float) -> None:
        woken = asyncio.ensure_future(self._wake.wait())
        slept = asyncio.ensure_future(self._wait(seconds))
        try:
            await asyncio.wait({woken, slept}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (woken, slept):
                task.cancel()
            await asyncio.gather(woken, slept, return_exceptions=True)

    async def _idle_seconds(self) -> float:
        async with self._sessions() as session:
            due = await queue.next_due(session)
        # Polling now and then also picks up rows whose worker died (their lease ran out).
        poll = min(_IDLE_POLL_SECONDS, self._lease.total_seconds())
        if due is None:
            return poll
        return min(max((due - self._now()).total_seconds(), 0.05), poll)

    async def _defer_for_quiet_hours(self, now: dt.datetime) -> None:
        async with self._sessions() as session, session.begin():
            deferred = await queue.defer_due(session, now, self._after_quiet(now))
        if deferred:
            logger.info("quiet hours: %d messages wait until morning", deferred)

    async def _claim(self, now: dt.datetime) -> list[Claimed]:
        rate = (
            self._settings.delivery_paid_max_per_second
            if self._paid_claims
            else self._settings.delivery_max_per_second
        )
        # About two seconds of sending: claims stay short-lived, so a crash strands few rows.
        limit = max(10, min(500, int(rate * 2)))
        async with self._sessions() as session, session.begin():
            claimed = await queue.claim(session, self.worker_id, now, limit, self._lease)
            # Worded now, in the language she has now: a change since it was queued applies.
            languages = {row.id: language_for(row.language_code, self._settings) for row in claimed}
            claimed = await render(session, claimed, languages)
        self._paid_claims = any(row.paid for row in claimed)
        return claimed

    # --- sending a claim ------------------------------------------------------------------------

    async def _send(self, claimed: list[Claimed], report: DeliveryReport) -> list[dt.datetime]:
        """Send claimed rows within the limits; returns when the rows it put back are due."""
        buffer = _Buffer(_UNRECORDED_PER_REQUEST * self._settings.delivery_max_in_flight)
        recorder = asyncio.create_task(self._record(buffer, report))
        waiting = deque(claimed)
        in_flight: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(self._settings.delivery_max_in_flight)
        try:
            while waiting:
                if recorder.done():
                    # Recording failed (the database is gone): stop sending what can't be
                    # recorded; the rows stay claimed and are retried after their lease.
                    await recorder
                now = self._now()
                paused = self._paused_until - self._now_s()
                if self._stopping:
                    self._release(buffer, waiting, now, "stopped before sending")
                    break
                if paused > self._lease.total_seconds() / 3:
                    # A long flood pause would outlive the claim: hand the rows back instead.
                    until = now + dt.timedelta(seconds=paused)
                    self._release(buffer, waiting, until, "429 flood control")
                    break
                row = await self._next_ready(waiting)
                if row.batch in self._cancelled:
                    buffer.add(row.batch).cancelled.append(row.id)
                    continue
                if row.chat_id in self._gone:
                    buffer.add(row.batch).skipped.append(row.id)
                    continue
                now = self._now()
                if self._quiet(now):
                    waiting.appendleft(row)
                    self._release(buffer, waiting, self._after_quiet(now), "quiet hours")
                    break
                slot = None
                if self._limits is not None:
                    taken = await self._limits.take(
                        row.chat_id, Kind.PAID if row.paid else Kind.BULK, self._now_s()
                    )
                    if taken.slot is None:
                        waiting.appendleft(row)
                        if taken.chat_busy:
                            # A reply (or another worker) just wrote to her: others go first.
                            self._chats.hold(row.chat_id, self._now_s() + taken.wait)
                        else:
                            # Every place is taken, replies first: wait for one to free.
                            await self._wait(taken.wait)
                        continue
                    slot = taken.slot
                await buffer.unrecorded.acquire()
                await slots.acquire()
                if recorder.done():
                    # The recorder failed and gave every place back: stop (see above).
                    await recorder
                if row.batch in self._cancelled:
                    # Stopped while this row waited for a free slot.
                    slots.release()
                    buffer.unrecorded.release()
                    await self._finish(slot)
                    buffer.add(row.batch).cancelled.append(row.id)
                    continue
                moment = self._now_s()
                (self._paid if row.paid else self._overall).take(moment)
                self._chats.take(row.chat_id, moment)
                task = asyncio.create_task(self._send_one(row, buffer, slot))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                task.add_done_callback(lambda _: slots.release())
            if in_flight:
                await asyncio.gather(*in_flight)
            buffer.close()
            return await recorder
        finally:
            # Cancelled mid-send (a crash in miniature): whatever is in flight or unrecorded
            # stays SENDING and is taken over when its lease runs out.
            recorder.cancel()
            for task in in_flight:
                task.cancel()

    async def _record(self, buffer: _Buffer, report: DeliveryReport) -> list[dt.datetime]:
        """Write outcomes as they come (group commit): one at a time when sending slowly, so a
        crash repeats as little as possible; in big batches when sending fast."""
        retries: list[dt.datetime] = []
        try:
            while True:
                await buffer.ready.wait()
                buffer.ready.clear()
                done, buffer.current = buffer.current, _Results()
                retries += await self._flush(done, report)
                for _ in range(done.held):
                    buffer.unrecorded.release()
                if buffer.closed and not len(buffer.current):
                    return retries
        except BaseException:
            # Nothing more can be recorded: wake the send loop (waiting for a place) to stop.
            for _ in range(buffer.places):
                buffer.unrecorded.release()
            raise

    async def _next_ready(self, waiting: deque[Claimed]) -> Claimed:
        """The next row the limits allow, waiting as needed; a chat that must wait steps aside."""
        while True:
            now = self._now_s()
            best: tuple[float, int] | None = None
            for index, row in enumerate(waiting):
                pacer = self._paid if row.paid else self._overall
                delay = max(
                    pacer.delay(now), self._chats.delay(row.chat_id, now), self._paused_until - now
                )
                if delay <= 0:
                    del waiting[index]
                    return row
                if best is None or delay < best[0]:
                    best = (delay, index)
                if index >= 64:
                    # Head-of-line rows are what matter; scanning the whole claim costs too much.
                    break
            assert best is not None
            await self._wait(best[0])

    def _release(
        self, buffer: _Buffer, rows: deque[Claimed], until: dt.datetime, reason: str
    ) -> None:
        while rows:
            row = rows.popleft()
            buffer.add(row.batch).released.append((row.id, until, reason))

    async def _finish(self, slot: int | None) -> None:
        """Give the shared limits the answer's moment; if it can't be told, the slot simply
        counts until it goes stale (later, never sooner)."""
        if slot is None or self._limits is None:
            return
        try:
            await self._limits.finish(slot, self._now_s())
        except Exception as exc:
            logger.warning("send slot not finished: %s", type(exc).__qualname__)

    async def _send_one(self, row: Claimed, buffer: _Buffer, slot: int | None = None) -> None:
        answer = await self._sender.send(row.chat_id, row.text, row.buttons, paid=row.paid)
        await self._finish(slot)
        metrics.delivery_outcome(answer.outcome.value)
        results = buffer.answered(row.batch)
        if answer.outcome is Outcome.SENT:
            results.sent.append((row.id, answer.message_id))
        elif answer.outcome is Outcome.FLOOD:
            pause = answer.retry_after
            self._paused_until = max(self._paused_until, self._now_s() + pause)
            until = self._now() + dt.timedelta(seconds=pause)
            results.released.append((row.id, until, f"429 flood control: paused {pause:g}s"))
        elif answer.outcome is Outcome.UNREACHABLE:
            self._gone.add(row.chat_id)
            results.unreachable.append((row.id, row.chat_id, answer.error))
        elif answer.outcome is Outcome.RETRY:
            self._retry_or_fail(row, results, answer.error)
        else:
            results.failed.append((row.id, answer.error))

    def _retry_or_fail(self, row: Claimed, results: _Results, error: str) -> None:
        if row.attempts >= self._settings.delivery_max_attempts:
            results.failed.append((row.id, f"gave up after {row.attempts} attempts: {error}"))
            return
        backoff = min(_BACKOFF_SECONDS * 2 ** (row.attempts - 1), _MAX_BACKOFF_SECONDS)
        results.retry.append((row.id, self._now() + dt.timedelta(seconds=backoff), error))

    async def _flush(self, results: _Results, report: DeliveryReport) -> list[dt.datetime]:
        """Write outcomes in one transaction; returns when the rows put back are due."""
        if not len(results):
            return []
        now = self._now()
        async with self._sessions() as session, session.begin():
            await queue.record_sent(session, results.sent, now)
            await queue.settle(session, results.cancelled, DeliveryStatus.CANCELLED, now)
            await queue.settle(
                session, results.skipped, DeliveryStatus.SKIPPED, now, error="unreachable"
            )
            for row_id, error in results.failed:
                await queue.settle(session, [row_id], DeliveryStatus.FAILED, now, error=error)
            for row_id, chat_id, error in results.unreachable:
                await queue.mark_unreachable(session, chat_id, now)
                await queue.settle(session, [row_id], DeliveryStatus.SKIPPED, now, error=error)
            for row_id, not_before, error in results.retry:
                await queue.retry_later(session, [row_id], not_before, error)
            for row_id, not_before, reason in results.released:
                await queue.release(session, [row_id], not_before, reason)
        report.sent += len(results.sent)
        report.failed += len(results.failed)
        report.skipped += len(results.unreachable) + len(results.skipped)
        report.retried += len(results.retry) + len(results.released)
        if results.failed or results.retry:
            logger.warning(
                "delivery: %d failed, %d to retry", len(results.failed), len(results.retry)
            )
        await self._report_progress(results.batches)
        return [moment for _, moment, _ in results.retry + results.released]

    async def _report_progress(self, batches: set[str], *, final: bool = False) -> None:
        """Tell listeners how their batch is going: every few seconds, and once it is done."""
        now = self._now_s()
        for batch in batches & set(self._listeners):
            recent = now - self._last_progress.get(batch, float("-inf")) < _PROGRESS_SECONDS
            if recent and not final:
                continue
            async with self._sessions() as session:
                progress = await queue.batch_progress(session, batch)
            finished = progress.left == 0
            if recent and not finished:
                continue
            self._last_progress[batch] = now
            listeners = self._listeners.pop(batch, []) if finished else self._listeners[batch]
            for listener in listeners:
                try:
                    await listener(progress)
                except Exception as exc:
                    logger.warning("progress listener failed: %s", type(exc).__qualname__)
