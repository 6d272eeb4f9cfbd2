"""Her rights over her data: a copy of everything, and erasure."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.conversations import store as conversation_store
from bot.services.feedback import export_feedback
from bot.services.matching.rights import export_matching
from bot.services.matching.safety import prepare_erasure
from bot.services.residents.consent import Receipt, consent_receipts
from bot.services.residents.life_events import export_life_events
from bot.services.residents.profile import find_resident
from bot.services.residents.safeguarding import SafeguardingKey, forget_her_side, keep_record
from bot.services.staff.moderation import export_moderation
from models import Resident

# 128 bits, 22 characters: "fg:yes:" and the code fit Telegram's 64-byte callback data.
FORGET_NONCE_BYTES = 16


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_personal_data(
    session: AsyncSession, telegram_user_id: int, exported_at: dt.datetime
) -> dict[str, Any] | None:
    """Everything held about her as a JSON-ready document, or None if we hold nothing."""
    resident = await find_resident(session, telegram_user_id)
    if resident is None:
        return None
    receipts = await consent_receipts(session, resident.person_ref)
    return {
        "exported_at": _iso(exported_at),
        "profile": {
            "telegram_user_id": resident.telegram_user_id,
            "display_name": resident.display_name,
            "due_date": _iso(resident.due_date),
            "due_date_waiting_for_confirmation": _iso(resident.pending_due_date),
            "due_date_unknown_since": _iso(resident.due_date_unknown_since),
            "ward_code": resident.ward_code,
            "district_code": resident.district_code,
            "waiting_for_area_postcode_district": resident.waiting_outcode,
            "status": resident.status.value,
            "signup_source": resident.signup_source,
            "language_code": resident.language_code,
            "created_at": _iso(resident.created_at),
            "updated_at": _iso(resident.updated_at),
            "onboarded_at": _iso(resident.onboarded_at),
        },
        "consent_history": [consent_receipt(receipt) for receipt in receipts],
        "feedback": await export_feedback(session, resident.id),
        "life_events": await export_life_events(session, resident.id),
        "matching": await export_matching(session, resident.id),
        "moderation": await export_moderation(session, resident.id),
    }


def consent_receipt(receipt: Receipt) -> dict[str, Any]:
    """One choice as a consent receipt she can read (after the Kantara Consent Receipt)."""
    event = receipt.event
    return {
        "receipt_id": event.receipt_id,
        "purpose": event.purpose.value,
        "granted": event.granted,
        "consent_type": event.consent_type,
        "at": _iso(event.created_at),
        "controller": {"name": event.controller_name, "contact": event.controller_contact}
        if event.controller_name is not None
        else None,
        "privacy_notice_url": event.notice_url,
        "privacy_notice_version": event.notice_version,
        "jurisdiction": event.jurisdiction,
        "language": event.language,
        # None: the choice was recorded before we kept the texts themselves.
        "text_shown": receipt.text,
        "text_sha256": event.text_sha256,
        "method": event.method,
        "source": event.source,
    }


async def ask_to_forget(session: AsyncSession, telegram_user_id: int) -> str | None:
    """A fresh one-time code for her /forget confirmation; None if we hold nothing about her."""
    resident = await find_resident(session, telegram_user_id)
    if resident is None:
        return None
    resident.forget_nonce = secrets.token_urlsafe(FORGET_NONCE_BYTES)
    return resident.forget_nonce


async def call_off_forget(session: AsyncSession, telegram_user_id: int, nonce: str) -> bool:
    """She said no: the confirmation she was shown stops working. False if it was not current."""
    resident = await find_resident(session, telegram_user_id)
    if resident is None or not _is_current(resident, nonce):
        return False
    resident.forget_nonce = None
    return True


async def confirm_forget(
    session: AsyncSession,
    telegram_user_id: int,
    nonce: str,
    key: SafeguardingKey,
    now: dt.datetime,
) -> bool:
    """Erase her, but only through the confirmation she was last shown."""
    resident = await find_resident(session, telegram_user_id)
    if resident is None or not _is_current(resident, nonce):
        return False
    return await forget_resident(session, telegram_user_id, key, now)


def _is_current(resident: Resident, nonce: str) -> bool:
    return resident.forget_nonce is not None and hmac.compare_digest(resident.forget_nonce, nonce)


async def forget_resident(
    session: AsyncSession, telegram_user_id: int, key: SafeguardingKey, now: dt.datetime
) -> bool:
    """Erase her personal data; her consent history stays, pseudonymous, for accountability.

    A suspension, blocks and reports about her stay as a safeguarding record under keyed
    hashes; the blocks and reports she made about others go with her.
    """
    resident = await find_resident(session, telegram_user_id)
    if resident is not None:
        # Other residents' chats are tidied of her once this commits; her rows go with hers.
        await prepare_erasure(session, resident.id)
        await keep_record(session, resident, key, now)
    result = await session.execute(
        delete(Resident).where(Resident.telegram_user_id == telegram_user_id)
    )
    await forget_her_side(session, telegram_user_id, key)
    # Where she was in any flow, and which of her messages were handled, go with her.
    await conversation_store.forget(session, telegram_user_id)
    return bool(result.rowcount)  # type: ignore[attr-defined]
