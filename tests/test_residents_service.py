"""The sign-up and consent services, tested directly on the database."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FixedClock
from bot.services.residents import profile as residents
from bot.services.residents.consent import current_consents
from bot.services.residents.data_rights import export_personal_data, forget_resident
from bot.services.residents.profile import NotSignedUp, Step
from models import ConsentPurpose, Delivery, DeliveryStatus
from tests.factories import TEST_KEY, consent_evidence, make_resident

Sessions = async_sessionmaker[AsyncSession]


@given(st.text(max_size=300))
def test_a_cleaned_display_name_is_never_empty_too_long_or_full_of_control_characters(
    text: str,
) -> None:
    name = residents.clean_display_name(text)
    if name is not None:
        assert 0 < len(name) <= residents.DISPLAY_NAME_MAX
        assert name == name.strip()
        assert not any(ch in name for ch in "\n\r\t\x00\u200b\u202e")


@pytest.mark.parametrize(
    ("payload", "stored"),
    [
        ("clinic_7", "clinic_7"),
        ("a" * 80, "a" * 64),
        ("<script>", "script"),
        ("", None),
        (None, None),
    ],
)
def test_only_telegram_safe_deep_link_payloads_are_kept(
    payload: str | None, stored: str | None
) -> None:
    assert residents.clean_source(payload) == stored


async def _step(session: AsyncSession, telegram_user_id: int) -> Step:
    profile = await residents.profile(session, telegram_user_id)
    assert profile is not None
    return profile.step


async def test_onboarding_steps_follow_the_flow(sessions: Sessions, clock: FixedClock) -> None:
    async with sessions() as session, session.begin():
        await residents.start_signup(session, 1, "en", consent_evidence(clock.now()), TEST_KEY)
        steps = [await _step(session, 1)]
        for purpose in (
            ConsentPurpose.MATCHING,
            ConsentPurpose.LOCAL_INFO,
            ConsentPurpose.FEEDBACK,
        ):
            # Matching on: the name other mums would see is only asked of those who meet them.
            granted = purpose is ConsentPurpose.MATCHING
            await residents.set_consent(session, 1, purpose, granted, consent_evidence(clock.now()))
            steps.append(await _step(session, 1))
        await residents.set_due_date(session, 1, dt.date(2027, 3, 1), clock.now())
        steps.append(await _step(session, 1))
        await residents.set_ward(session, 1, "E05015473", "E07000070", clock.now())
        steps.append(await _step(session, 1))
        await residents.set_display_name(session, 1, "Jo", clock.now())
        steps.append(await _step(session, 1))
        assert await residents.complete_signup(session, 1, clock.now())
        steps.append(await _step(session, 1))

    assert steps == [
        Step.CONSENT_MATCHING,
        Step.CONSENT_LOCAL_INFO,
        Step.CONSENT_FEEDBACK,
        Step.DUE_DATE,
        Step.AREA,
        Step.NAME,
        Step.SUMMARY,
        Step.DONE,
    ]


async def test_signup_cannot_complete_while_something_is_missing(
    sessions: Sessions, clock: FixedClock
) -> None:
    async with sessions() as session, session.begin():
        await residents.start_signup(session, 2, "en", consent_evidence(clock.now()), TEST_KEY)
        assert not await residents.complete_signup(session, 2, clock.now())


async def test_setting_the_same_choice_twice_records_it_once(
    sessions: Sessions, clock: FixedClock
) -> None:
    async with sessions() as session, session.begin():
        resident = await make_resident(session, clock.now(), consents=True)
        first = await residents.set_consent(
            session,
            resident.telegram_user_id,
            ConsentPurpose.MATCHING,
            False,
            consent_evidence(clock.now()),
        )
        second = await residents.set_consent(
            session,
            resident.telegram_user_id,
            ConsentPurpose.MATCHING,
            False,
            consent_evidence(clock.now()),
        )
        choices = await current_consents(session, resident.person_ref)

    assert (first, second) == (True, False)
    assert choices[ConsentPurpose.MATCHING] is False


async def test_health_data_consent_is_not_toggled_like_an_optional_one(
    sessions: Sessions, clock: FixedClock
) -> None:
    async with sessions() as session, session.begin():
        resident = await make_resident(session, clock.now())
        with pytest.raises(ValueError, match="erasure"):
            await residents.set_consent(
                session,
                resident.telegram_user_id,
                ConsentPurpose.HEALTH_DATA,
                False,
                consent_evidence(clock.now()),
            )


async def test_services_refuse_to_act_for_someone_without_a_record(
    sessions: Sessions, clock: FixedClock
) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(NotSignedUp):
            await residents.set_due_date(session, 404, dt.date(2027, 1, 1), clock.now())


async def test_export_holds_profile_and_history_and_forget_leaves_only_history(
    sessions: Sessions, clock: FixedClock
) -> None:
    async with sessions() as session, session.begin():
        resident = await make_resident(session, clock.now(), display_name="Nell")
    async with sessions() as session, session.begin():
        exported = await export_personal_data(session, resident.telegram_user_id, clock.now())
        assert exported is not None
        assert exported["profile"]["display_name"] == "Nell"
        assert len(exported["consent_history"]) == 4
        assert await forget_resident(session, resident.telegram_user_id, TEST_KEY, clock.now())
    async with sessions() as session, session.begin():
        assert await export_personal_data(session, resident.telegram_user_id, clock.now()) is None
        assert len(await current_consents(session, resident.person_ref)) == 4
        assert not await forget_resident(session, resident.telegram_user_id, TEST_KEY, clock.now())


async def test_a_due_date_is_stored_only_when_the_date_she_confirms_is_the_one_waiting(
    sessions: Sessions, clock: FixedClock
) -> None:
    async with sessions() as session, session.begin():
        mum = await make_resident(session, clock.now(), due_date=None)
        uid = mum.telegram_user_id
        await residents.propose_due_date(session, uid, dt.date(2027, 4, 2), clock.now())
        assert await _step(session, uid) is Step.DUE_DATE_CONFIRM

        shown_earlier = dt.date(2027, 3, 14)
        assert await residents.confirm_due_date(session, uid, shown_earlier, clock.now()) is None
        assert mum.due_date is None

        stored = await residents.confirm_due_date(session, uid, dt.date(2027, 4, 2), clock.now())
        assert stored == mum.due_date == dt.date(2027, 4, 2)
        assert mum.pending_due_date is None
        assert await residents.confirm_due_date(session, uid, None, clock.now()) is None


async def test_not_knowing_the_due_date_queues_one_question_and_a_date_cancels_it(
    sessions: Sessions, clock: FixedClock
) -> None:
    ask_at = clock.now() + residents.ASK_DUE_DATE_AGAIN_AFTER
    async with sessions() as session, session.begin():
        mum = await make_resident(session, clock.now(), due_date=None, display_name=None)
        uid = mum.telegram_user_id
        for _ in range(2):
            assert await residents.due_date_not_known(
                session, uid, clock.now(), ask_at=ask_at, text="again?", buttons=[]
            )
        assert mum.due_date_unknown_since == clock.now()
        queued = list(await session.scalars(select(Delivery).order_by(Delivery.id)))
        assert [(d.kind, d.status, d.not_before) for d in queued] == [
            (residents.ASK_DUE_DATE_KIND, DeliveryStatus.QUEUED, ask_at)
        ]

        await residents.set_due_date(session, uid, dt.date(2027, 5, 1), clock.now())
        assert mum.due_date_unknown_since is None
        assert queued[0].status is DeliveryStatus.CANCELLED
        # With a date, "I don't know" from /profile changes nothing.
        assert not await residents.due_date_not_known(
            session, uid, clock.now(), ask_at=ask_at, text="again?", buttons=[]
        )
        assert mum.due_date == dt.date(2027, 5, 1)

        # Were the date taken away again the same day, the cancelled question comes back.
        mum.due_date = None
        assert await residents.due_date_not_known(
            session, uid, clock.now(), ask_at=ask_at, text="again?", buttons=[]
        )
        await session.refresh(queued[0])
        assert queued[0].status is DeliveryStatus.QUEUED


async def test_the_name_is_only_a_step_for_someone_who_wants_to_meet_other_mums(
    sessions: Sessions, clock: FixedClock
) -> None:
    async with sessions() as session, session.begin():
        declined = await make_resident(session, clock.now(), consents=False, display_name=None)
        agreed = await make_resident(session, clock.now(), consents=True, display_name=None)
        assert await _step(session, declined.telegram_user_id) is Step.DONE
        assert await _step(session, agreed.telegram_user_id) is Step.NAME
