"""Report sections for what the service did: matches, scheduled messages and broadcasts.

They join the report through `sections.register`, so they are counted and protected like every
other table: by month and one category, each cell rounded. Each counts something no other table
counts (steps of matching; messages rather than people; broadcast messages apart from the planned
ones), so each has a query of its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from bot.services.reports.sections import (
    ReportInputs,
    Rows,
    Section,
    month_of,
    register,
    within,
)
from bot.services.reports.tables import Cell
from bot.services.staff.broadcasts import BATCH_PREFIX
from models import (
    Broadcast,
    Delivery,
    DeliveryStatus,
    IntroductionStatus,
    MatchIntroduction,
    MatchSuggestion,
)

# --- Matching ---------------------------------------------------------------------------------

SUGGESTED = "Suggested"
ASKED = "Asked to be introduced"
DECISION_LABELS = {
    IntroductionStatus.INTRODUCED: "Introduced",
    IntroductionStatus.DECLINED: "Declined",
    IntroductionStatus.EXPIRED: "Not answered in time",
    IntroductionStatus.CANCELLED: "Ended early",
}
MATCH_STEPS = (SUGGESTED, ASKED, *DECISION_LABELS.values())


async def _count_by_month(inputs: ReportInputs, column: Any, *where: Any) -> list[Any]:
    month = month_of(column, inputs.period)
    result = await inputs.session.execute(
        select(month, func.count()).where(within(column, inputs.period), *where).group_by(month)
    )
    return list(result)


async def matches_by_month(inputs: ReportInputs) -> Rows:
    """Each step of matching, counted in the month it happened."""
    rows: list[tuple[Cell, int]] = []
    for m, n in await _count_by_month(inputs, MatchSuggestion.created_at):
        rows.append(((m, SUGGESTED), n))
    for m, n in await _count_by_month(inputs, MatchIntroduction.created_at):
        rows.append(((m, ASKED), n))
    # A request is decided once (a cancelled one asked again starts over, undecided), so each
    # outcome is counted in the month of its decision.
    decided = month_of(MatchIntroduction.decided_at, inputs.period)
    result = await inputs.session.execute(
        select(decided, MatchIntroduction.status, func.count())
        .where(
            within(MatchIntroduction.decided_at, inputs.period),
            MatchIntroduction.status.in_(list(DECISION_LABELS)),
        )
        .group_by(decided, MatchIntroduction.status)
    )
    rows += [((m, DECISION_LABELS[IntroductionStatus(status)]), n) for m, status, n in result]
    return rows


# --- Scheduled messages and broadcasts --------------------------------------------------------

OUTCOME_LABELS = {
    DeliveryStatus.SENT: "Sent",
    DeliveryStatus.FAILED: "Failed",
    # Every skipped row is one Telegram would not take: the message that found out she blocked
    # the bot (or left Telegram) says so in its error, and the rest say "unreachable".
    DeliveryStatus.SKIPPED: "Blocked or left Telegram",
    DeliveryStatus.CANCELLED: "Cancelled",
    DeliveryStatus.QUEUED: "Not sent yet",
    DeliveryStatus.SENDING: "Not sent yet",
}
OUTCOMES = tuple(dict.fromkeys(OUTCOME_LABELS.values()))


def _outcome(status: Any) -> str:
    return OUTCOME_LABELS[DeliveryStatus(status)]


async def scheduled_by_month(inputs: ReportInputs) -> Rows:
    """Scheduled messages by the month they were due to go, and what became of them."""
    # One moment for every outcome, so each message falls in exactly one month. Retries and
    # quiet hours move not_before on, so for a sent message it is within minutes of sending.
    month = month_of(Delivery.not_before, inputs.period)
    result = await inputs.session.execute(
        select(month, Delivery.status, func.count())
        .where(
            within(Delivery.not_before, inputs.period),
            # Broadcasts have a table of their own; everything else was planned by the bot.
            ~Delivery.batch.startswith(BATCH_PREFIX, autoescape=True),
        )
        .group_by(month, Delivery.status)
    )
    return [((m, _outcome(status)), n) for m, status, n in result]


def _broadcast_batch() -> ColumnElement[str]:
    """`broadcasts.batch_of(Broadcast.id)`, in SQL."""
    return literal(BATCH_PREFIX, String()) + cast(Broadcast.id, String())


async def broadcast_reach_by_month(inputs: ReportInputs) -> Rows:
    """Broadcast messages by the month the broadcast went out, and what became of them."""
    month = month_of(Broadcast.started_at, inputs.period)
    result = await inputs.session.execute(
        select(month, Delivery.status, func.count())
        .select_from(Delivery)
        .join(Broadcast, Delivery.batch == _broadcast_batch())
        .where(within(Broadcast.started_at, inputs.period))
        .group_by(month, Delivery.status)
    )
    return [((m, _outcome(status)), n) for m, status, n in result]


SECTIONS = [
    register(
        Section(
            slug="matches_by_month",
            title="Matches proposed, accepted and declined, by month",
            description="Each step of meeting other mums, counted in the month it happened: "
            "suggestions shown (one mum shown to another), requests to be introduced, and how "
            "requests ended: introduced (both said yes), declined, not answered in time, or "
            "ended early (one of them withdrew, blocked or reported). The steps count different "
            "things, and a request may end the month after it was made, so rows have no total. "
            "Residents who asked us to delete their data are not counted.",
            row_dim="month",
            col_dim="step",
            query=matches_by_month,
            columns=MATCH_STEPS,
            # Each column counts something different: a row's sum would mean nothing.
            row_totals=False,
        )
    ),
    register(
        Section(
            slug="scheduled_messages_by_month",
            title="Scheduled messages by month and outcome",
            description="Messages the bot sent residents on its own initiative (weekly "
            "messages, local services, check-ins, retention notices, matching requests, "
            "introductions and news, feedback questions, moderation notices), by the month they "
            "were due to go. Blocked means "
            "Telegram would not deliver it because she blocked the bot or left Telegram. "
            "Broadcasts are counted separately below.",
            row_dim="month",
            col_dim="outcome",
            query=scheduled_by_month,
            columns=OUTCOMES,
            chart="stacked",
        )
    ),
    register(
        Section(
            slug="broadcast_reach_by_month",
            title="Broadcast reach by month",
            description="Council broadcasts: one message per resident in the audience, by the "
            "month the broadcast went out and what became of it. The rate is the share sent.",
            row_dim="month",
            col_dim="outcome",
            query=broadcast_reach_by_month,
            columns=OUTCOMES,
            chart="stacked",
            share_of_first_column=True,
        )
    ),
]
